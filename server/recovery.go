package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"

	"github.com/labstack/echo/v4"

	"countersign/mailer"
	"countersign/store"
	"countersign/webauthn"
)

// Recovery (spec §4.8): a verification code by e-mail, then the recovery
// key signs the new credentials; or a reset link an administrator issued.
// Either way every earlier credential and token of the person goes at once.

// maxCodeLength bounds every code a client types or pastes.
const maxCodeLength = 64

// maxCredentialIDLength bounds a credential id a request names.
const maxCredentialIDLength = 512

type recoveryCodeRequest struct {
	Username string `json:"username"`
	OrgID    string `json:"orgId"`
}

func (r *recoveryCodeRequest) validate() error {
	if err := requireFields("username", r.Username, "orgId", r.OrgID); err != nil {
		return err
	}
	return checkUsername(r.Username)
}

// checkUsername bounds a username a client names.
func checkUsername(v string) error {
	if len(v) > 254 {
		return fmt.Errorf("username must be at most 254 characters")
	}
	return nil
}

// recoveryCodeSent is the one answer to a request for a recovery code,
// whoever the username names.
var recoveryCodeSent = messageResponse{Message: "If this account can be recovered, a verification code is on its way to its e-mail address."}

// sendRecoveryCode e-mails a verification code (spec §4.8 /code). It
// answers alike, and as fast, whatever the username: the lookup, the code
// and the mail happen after the answer, in the mailer's queue.
func (s *Server) sendRecoveryCode(c echo.Context) error {
	var req recoveryCodeRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	if s.opts.Mail == nil {
		return errNoMail("a verification code")
	}
	if err := s.allowMail(c.RealIP(), "recovery", req.OrgID, req.Username); err != nil {
		return err
	}
	s.opts.Mail.Later(func(ctx context.Context) (mailer.Message, bool) { return s.recoveryCodeMail(ctx, req) })
	return c.JSON(http.StatusOK, recoveryCodeSent)
}

// recoveryCodeMail decides, after the answer, what to write: the code to a
// person with a recovery key, a pointer to their administrator to one
// without, nothing to a username that names nobody who can recover.
func (s *Server) recoveryCodeMail(ctx context.Context, req recoveryCodeRequest) (mailer.Message, bool) {
	rc, err := s.ceremonies.NewRecoveryCode(ctx, req.OrgID, req.Username)
	if err != nil {
		s.log.Error("recovery code", "cause", err.Error())
		return mailer.Message{}, false
	}
	if rc.User.ID == "" || !mailer.IsAddress(rc.User.Username) {
		return mailer.Message{}, false
	}
	v := mailView{Username: rc.User.Username, Org: s.orgName(ctx, rc.User.OrgID),
		Link: s.link(pathRecover, url.Values{"org": {rc.User.OrgID}, "username": {rc.User.Username}})}
	t := mailNoRecoveryKey
	if rc.HasRecoveryKey {
		t, v.Code, v.ExpiresIn = mailRecoveryCode, rc.Code, expiresIn(rc.ExpiresAt.Sub(s.opts.Now()))
	}
	m, err := t.message(rc.User.Username, v)
	if err != nil {
		s.log.Error("compose recovery mail", "cause", err.Error())
		return mailer.Message{}, false
	}
	return m, true
}

type recoveryInitRequest struct {
	Username         string `json:"username"`
	VerificationCode string `json:"verificationCode"`
	OrgID            string `json:"orgId"`
	CredentialID     string `json:"credentialId"`
}

func (r *recoveryInitRequest) validate() error {
	if err := requireFields("username", r.Username, "verificationCode", r.VerificationCode, "orgId", r.OrgID,
		"credentialId", r.CredentialID); err != nil {
		return err
	}
	if len(r.VerificationCode) > maxCodeLength || len(r.CredentialID) > maxCredentialIDLength {
		return fmt.Errorf("verificationCode or credentialId is too long")
	}
	return checkUsername(r.Username)
}

type allowedRecoveryCredential struct {
	ID                   string `json:"id"`
	EncryptedRecoveryKey string `json:"encryptedRecoveryKey"`
}

// recoveryChallenge is spec §4.8's RegistrationChallenge with the
// recovery keys that may sign.
type recoveryChallenge struct {
	registrationChallenge
	AllowedRecoveryCredentials []allowedRecoveryCredential `json:"allowedRecoveryCredentials"`
}

func (s *Server) newRecoveryChallenge(rc webauthn.RecoveryChallenge) (recoveryChallenge, error) {
	temp, err := s.tokens.IssueTemp(rc.ID, rc.User)
	if err != nil {
		return recoveryChallenge{}, fmt.Errorf("issue temporary token: %w", err)
	}
	out := recoveryChallenge{
		registrationChallenge:      s.newRegistrationChallenge(rc.User, rc.Challenge, temp.Token),
		AllowedRecoveryCredentials: []allowedRecoveryCredential{},
	}
	if rc.Key != nil {
		out.AllowedRecoveryCredentials = append(out.AllowedRecoveryCredentials,
			allowedRecoveryCredential{ID: rc.Key.CredID, EncryptedRecoveryKey: rc.Key.EncryptedPrivateKey})
	}
	return out, nil
}

// recoveryInit checks the verification code and the recovery key, and
// answers the challenge the new credentials attest (spec §4.8 /init).
func (s *Server) recoveryInit(c echo.Context) error {
	var req recoveryInitRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	if err := s.limitAccount(req.OrgID, req.Username); err != nil {
		return err
	}
	rc, err := s.ceremonies.BeginRecovery(c.Request().Context(), req.OrgID, req.Username, req.VerificationCode, req.CredentialID)
	if err != nil {
		return fmt.Errorf("begin recovery: %w", err)
	}
	out, err := s.newRecoveryChallenge(rc)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, out)
}

type resetInitRequest struct {
	Code string `json:"code"`
}

func (r *resetInitRequest) validate() error {
	if err := requireFields("code", r.Code); err != nil {
		return err
	}
	if len(r.Code) > maxCodeLength {
		return fmt.Errorf("code is too long")
	}
	return nil
}

// resetInit starts the recovery a reset link allows (countersign's
// addition: spec §4.8 has only the recovery-key flow). The answer is the
// same challenge; the recovery then takes no recovery signature.
func (s *Server) resetInit(c echo.Context) error {
	var req resetInitRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	ctx := c.Request().Context()
	rc, err := s.ceremonies.BeginReset(ctx, req.Code)
	if err != nil {
		return fmt.Errorf("begin reset: %w", err)
	}
	if err := s.requireIssuerAuthority(ctx, rc.IssuedBy, rc.User.ID); err != nil {
		return err
	}
	out, err := s.newRecoveryChallenge(rc)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, out)
}

// requireIssuerAuthority re-checks, when a reset link is used, that whoever
// issued it still may: active, and holding every operation of the person
// (who may have gained some since). A link the operator printed passes.
func (s *Server) requireIssuerAuthority(ctx context.Context, issuerID, userID string) error {
	if issuerID == "" {
		return nil
	}
	refused := &APIError{Status: http.StatusForbidden, Code: "reset_revoked",
		Message: "whoever issued this reset link may no longer reset this account: ask an administrator for a new one"}
	issuer, err := s.store.GetUser(ctx, issuerID)
	if err != nil || !issuer.IsActive || issuer.IsArchived {
		refused.Err = err
		return refused
	}
	mine, err := s.identityOperations(ctx, issuer.ID, nil)
	if err != nil {
		return err
	}
	if !mine["Auth:Recover:Delegated"] {
		return refused
	}
	theirs, err := s.identityOperations(ctx, userID, nil)
	if err != nil {
		return err
	}
	for op := range theirs {
		if !mine[op] {
			return refused
		}
	}
	return nil
}

// recoveryAssertion is spec §4.8's recovery: a RecoveryKey's Key assertion.
type recoveryAssertion struct {
	Kind                string               `json:"kind"`
	CredentialAssertion *credentialAssertion `json:"credentialAssertion"`
}

type newCredentials struct {
	FirstFactorCredential  *newCredential `json:"firstFactorCredential"`
	SecondFactorCredential *newCredential `json:"secondFactorCredential"`
	RecoveryCredential     *newCredential `json:"recoveryCredential"`
}

type recoverRequest struct {
	Recovery       *recoveryAssertion `json:"recovery"`
	NewCredentials json.RawMessage    `json:"newCredentials"`
}

func (r *recoverRequest) validate() error {
	if len(r.NewCredentials) == 0 || string(r.NewCredentials) == "null" {
		return fmt.Errorf("newCredentials is required")
	}
	if _, err := r.newCredentials(); err != nil {
		return err
	}
	if r.Recovery != nil {
		if r.Recovery.Kind != store.CredentialRecoveryKey {
			return fmt.Errorf("recovery.kind must be RecoveryKey")
		}
		a := r.Recovery.CredentialAssertion
		if a == nil {
			return fmt.Errorf("recovery.credentialAssertion is required")
		}
		if err := requireFields("recovery.credentialAssertion.credId", a.CredID, "recovery.credentialAssertion.clientData", a.ClientData,
			"recovery.credentialAssertion.signature", a.Signature); err != nil {
			return err
		}
	}
	return nil
}

// newCredentials decodes and checks the new credentials (spec §4.8): a
// first factor, no second factor (countersign has none), an optional new
// recovery key.
func (r *recoverRequest) newCredentials() (webauthn.RecoveryRequest, error) {
	var nc newCredentials
	if err := json.Unmarshal(r.NewCredentials, &nc); err != nil {
		return webauthn.RecoveryRequest{}, fmt.Errorf("newCredentials must be an object of new credentials")
	}
	out := webauthn.RecoveryRequest{NewCredentials: r.NewCredentials}
	reg := registrationRequest{FirstFactorCredential: nc.FirstFactorCredential, SecondFactorCredential: nc.SecondFactorCredential,
		RecoveryCredential: nc.RecoveryCredential}
	first, recovery, err := reg.credentials("newCredentials.")
	if err != nil {
		return webauthn.RecoveryRequest{}, err
	}
	out.First, out.Recovery = first, recovery
	return out, nil
}

// recoveryRequest is the decoded request with the recovery assertion.
func (r *recoverRequest) recoveryRequest() (webauthn.RecoveryRequest, error) {
	out, err := r.newCredentials()
	if err != nil || r.Recovery == nil {
		return out, err
	}
	sc := signedChallenge{FirstFactor: &factor{Kind: store.CredentialKey, CredentialAssertion: r.Recovery.CredentialAssertion}}
	a, err := sc.assertion()
	if err != nil {
		return webauthn.RecoveryRequest{}, badRequest("recovery."+err.Error(), err)
	}
	out.Assertion = &a
	return out, nil
}

// recoverUser completes a recovery (spec §4.8 POST /auth/recover/user),
// named by the temporary token of its init.
func (s *Server) recoverUser(c echo.Context) error {
	u, cred, err := s.finishRecovery(c)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, newRegistrationResponse(u, cred))
}

// finishRecovery is shared by the API and the console's /recover page.
func (s *Server) finishRecovery(c echo.Context) (store.User, store.Credential, error) {
	raw, err := bearer(c)
	if err != nil {
		return store.User{}, store.Credential{}, err
	}
	claims, err := s.tokens.Parse(raw, store.TokenTemp)
	if err != nil {
		return store.User{}, store.Credential{}, err
	}
	body, err := readBody(c)
	if err != nil {
		return store.User{}, store.Credential{}, err
	}
	var req recoverRequest
	if err := decodeBody(body, &req); err != nil {
		return store.User{}, store.Credential{}, err
	}
	rr, err := req.recoveryRequest()
	if err != nil {
		return store.User{}, store.Credential{}, err
	}
	ctx := c.Request().Context()
	pending, err := s.ceremonies.VerifyRecovery(ctx, claims.ID, rr)
	if err != nil {
		return store.User{}, store.Credential{}, fmt.Errorf("verify recovery: %w", err)
	}
	if err := s.requireIssuerAuthority(ctx, pending.Challenge.IssuedBy, pending.Challenge.User.ID); err != nil {
		return store.User{}, store.Credential{}, err
	}
	audit := store.AuditEntry{ID: store.NewID("uj"), Method: http.MethodPost, Path: apiRecover, Payload: body,
		Summary: recoverySummary(pending)}
	u, cred, err := s.ceremonies.FinishRecovery(ctx, pending, audit, rr)
	if err != nil {
		return store.User{}, store.Credential{}, fmt.Errorf("finish recovery: %w", err)
	}
	return u, cred, nil
}

// recoverySummary is the audit log's sentence for a recovery.
func recoverySummary(p webauthn.PendingRecovery) string {
	how := "with its recovery key"
	if p.Challenge.Key == nil {
		how = "through a reset link issued by the operator"
		if p.Challenge.IssuedBy != "" {
			how = "through a reset link issued by " + p.Challenge.IssuedBy
		}
	}
	return fmt.Sprintf("Recover the account %q %s: retire every earlier credential and token, add the %s %q",
		p.Challenge.User.Username, how, credentialNoun(p.Credentials[0].Kind), p.Credentials[0].Name)
}
