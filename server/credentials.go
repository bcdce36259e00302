package server

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"countersign/store"
	"countersign/webauthn"
)

type listCredentialsResponse struct {
	Items []credential `json:"items"`
}

// listCredentials answers the caller's own credentials.
func (s *Server) listCredentials(c echo.Context) error {
	caller := callerFrom(c)
	creds, err := s.store.ListCredentials(c.Request().Context(), caller.User.ID)
	if err != nil {
		return fmt.Errorf("list credentials of %s: %w", caller.User.ID, err)
	}
	items := make([]credential, 0, len(creds))
	for _, cr := range creds {
		if cr.TokenID == "" { // a PAT's key is the token's, not the person's
			items = append(items, newCredentialView(cr))
		}
	}
	return c.JSON(http.StatusOK, listCredentialsResponse{Items: items})
}

type credentialInitRequest struct {
	Kind string `json:"kind"`
}

func (r *credentialInitRequest) validate() error { return requireFields("kind", r.Kind) }

// credentialChallenge is the /auth/credentials/init answer (spec §4.3).
type credentialChallenge struct {
	Kind                         string                  `json:"kind"`
	User                         registrationUser        `json:"user"`
	ChallengeIdentifier          string                  `json:"challengeIdentifier"`
	Challenge                    string                  `json:"challenge"`
	RP                           rpInfo                  `json:"rp"`
	Attestation                  string                  `json:"attestation"`
	PubKeyCredParams             []pubKeyCredParam       `json:"pubKeyCredParams"`
	TemporaryAuthenticationToken string                  `json:"temporaryAuthenticationToken"`
	AuthenticatorSelection       *authenticatorSelection `json:"authenticatorSelection,omitempty"`
	ExcludeCredentials           []allowCredential       `json:"excludeCredentials"`
}

func (s *Server) credentialsInit(c echo.Context) error {
	var req credentialInitRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	caller := callerFrom(c)
	cc, err := s.ceremonies.BeginCredential(c.Request().Context(), caller.identity(), req.Kind)
	if err != nil {
		return fmt.Errorf("begin credential: %w", err)
	}
	out, err := s.newCredentialChallenge(cc)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, out)
}

// newCredentialChallenge is the answer of /auth/credentials/init and of
// its code variant.
func (s *Server) newCredentialChallenge(cc webauthn.CredentialChallenge) (credentialChallenge, error) {
	temp, err := s.tokens.IssueTemp(cc.ID, cc.User)
	if err != nil {
		return credentialChallenge{}, fmt.Errorf("issue temporary token: %w", err)
	}
	out := credentialChallenge{
		Kind: cc.Kind, User: registrationUser{ID: cc.User.UserHandle, DisplayName: cc.User.Name, Name: cc.User.Username},
		ChallengeIdentifier: cc.ID, Challenge: cc.Challenge, RP: s.rp(), Attestation: "none",
		PubKeyCredParams: pubKeyCredParams(), TemporaryAuthenticationToken: temp.Token,
		ExcludeCredentials: allowList(cc.Exclude),
	}
	if cc.Kind == store.CredentialFido2 {
		out.AuthenticatorSelection = &authenticatorSelection{
			ResidentKey: "required", RequireResidentKey: true, UserVerification: s.ceremonies.UserVerification(),
		}
	}
	return out, nil
}

type createCredentialRequest struct {
	newCredential
	ChallengeIdentifier string `json:"challengeIdentifier"`
}

func (r *createCredentialRequest) validate() error {
	if err := requireFields("challengeIdentifier", r.ChallengeIdentifier); err != nil {
		return err
	}
	if err := checkName("credentialName", r.CredentialName); err != nil {
		return err
	}
	_, err := r.newCredential.toDomain("body")
	return err
}

// createCredential adds a credential: the new credential attests the
// credential challenge, an existing one signed the user action.
func (s *Server) createCredential(c echo.Context) error {
	var req createCredentialRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	nc, _ := req.newCredential.toDomain("body") // validated by decodeJSON
	ctx := c.Request().Context()
	caller := callerFrom(c)
	cred, err := s.ceremonies.FinishCredential(ctx, caller.identity(), req.ChallengeIdentifier, nc)
	if errors.Is(err, webauthn.ErrVerification) {
		// The user action was fine; the new credential's own signature was
		// not. Say which, so a client does not blame the approval.
		return &APIError{Status: http.StatusBadRequest, Code: "attestation_failed", Message: "the new credential's attestation of its challenge did not verify", Err: err}
	}
	if err != nil {
		return fmt.Errorf("finish credential: %w", err)
	}
	if err := s.store.CreateCredentialSigned(ctx, s.signedChange(c), cred); err != nil {
		return fmt.Errorf("create credential: %w", err)
	}
	return c.JSON(http.StatusOK, newCredentialView(cred))
}

type credentialRef struct {
	CredentialUUID string `json:"credentialUuid"`
}

func (r *credentialRef) validate() error { return requireFields("credentialUuid", r.CredentialUUID) }

func (s *Server) activateCredential(c echo.Context) error   { return s.setCredentialActive(c, true) }
func (s *Server) deactivateCredential(c echo.Context) error { return s.setCredentialActive(c, false) }

func (s *Server) setCredentialActive(c echo.Context, active bool) error {
	var req credentialRef
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	caller := callerFrom(c)
	if _, err := s.requirePersonalCredential(c, req.CredentialUUID); err != nil {
		return err
	}
	err := s.store.SetCredentialActive(c.Request().Context(), s.signedChange(c), caller.User.ID, req.CredentialUUID, active)
	if err != nil {
		return fmt.Errorf("set credential %s active=%t: %w", req.CredentialUUID, active, err)
	}
	verb := "deactivated"
	if active {
		verb = "activated"
	}
	return c.JSON(http.StatusOK, messageResponse{Message: "credential " + verb})
}

type renameCredentialRequest struct {
	CredentialUUID string `json:"credentialUuid"`
	Name           string `json:"name"`
}

func (r *renameCredentialRequest) validate() error {
	if err := requireFields("credentialUuid", r.CredentialUUID); err != nil {
		return err
	}
	return checkName("name", r.Name)
}

// renameCredential is countersign's addition to spec §4.3: names are how
// people tell their passkeys apart, and renaming one is a signed action too.
func (s *Server) renameCredential(c echo.Context) error {
	var req renameCredentialRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	caller := callerFrom(c)
	cred, err := s.requirePersonalCredential(c, req.CredentialUUID)
	if err != nil {
		return err
	}
	name := strings.TrimSpace(req.Name)
	if err := s.store.RenameCredential(c.Request().Context(), s.signedChange(c), caller.User.ID, req.CredentialUUID, name); err != nil {
		return fmt.Errorf("rename credential %s: %w", req.CredentialUUID, err)
	}
	cred.Name = name // the rename changes nothing else
	return c.JSON(http.StatusOK, newCredentialView(cred))
}

// requirePersonalCredential: the credential routes manage a person's own
// credentials; a PAT's key is managed through its token.
func (s *Server) requirePersonalCredential(c echo.Context, id string) (store.Credential, error) {
	if va, ok := verifiedFrom(c); ok && va.credential.ID == id {
		return s.personalCredential(c, va.credential) // the signer, read with its action
	}
	cred, err := s.store.GetCredential(c.Request().Context(), id)
	if err != nil {
		return store.Credential{}, fmt.Errorf("load credential %s: %w", id, err)
	}
	return s.personalCredential(c, cred)
}

func (s *Server) personalCredential(c echo.Context, cred store.Credential) (store.Credential, error) {
	if cred.UserID != callerFrom(c).User.ID || cred.TokenID != "" {
		return store.Credential{}, fmt.Errorf("credential %s is not the caller's own: %w", cred.ID, store.ErrNotFound)
	}
	return cred, nil
}
