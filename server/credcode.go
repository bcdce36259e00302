package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"countersign/store"
	"countersign/webauthn"
)

// Credential codes (spec §4.3 code variants): a signed-in person makes a
// one-time code (signed), and another device, signed in nowhere, trades
// it for a credential challenge and adds its passkey or key.

// createCredentialCodeRequest is SDK CreateCredentialCodeBody: when the
// code expires, as an ISO-8601 time or a Unix time (seconds, or
// milliseconds as JavaScript counts them).
type createCredentialCodeRequest struct {
	Expiration json.RawMessage `json:"expiration"`
}

func (r *createCredentialCodeRequest) validate() error {
	_, err := r.expiresAt()
	return err
}

func (r *createCredentialCodeRequest) expiresAt() (time.Time, error) {
	raw := bytes.TrimSpace(r.Expiration)
	if len(raw) == 0 || string(raw) == "null" {
		return time.Time{}, errors.New("expiration is required")
	}
	var iso string
	if raw[0] == '"' {
		if err := json.Unmarshal(raw, &iso); err != nil {
			return time.Time{}, errors.New("expiration must be an ISO-8601 time or a Unix time")
		}
		t, err := time.Parse(time.RFC3339Nano, iso)
		if err != nil {
			return time.Time{}, errors.New("expiration must be an ISO-8601 time such as 2026-01-02T15:04:05.000Z")
		}
		return t.UTC(), nil
	}
	var n json.Number
	if err := json.Unmarshal(raw, &n); err != nil {
		return time.Time{}, errors.New("expiration must be an ISO-8601 time or a Unix time")
	}
	f, err := n.Float64()
	if err != nil || f <= 0 || f > 1e15 {
		return time.Time{}, errors.New("expiration must be a positive Unix time")
	}
	if f > 1e11 { // no code lives until the year 5138: milliseconds
		return time.UnixMilli(int64(f)).UTC(), nil
	}
	return time.Unix(int64(f), 0).UTC(), nil
}

type credentialCodeView struct {
	Code       string `json:"code"`
	Expiration string `json:"expiration"`
}

// createCredentialCode makes a credential code of the caller (spec §4.3
// POST /auth/credentials/code, signed; people only).
func (s *Server) createCredentialCode(c echo.Context) error {
	var req createCredentialCodeRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	expires, _ := req.expiresAt() // validated by decodeJSON
	caller := callerFrom(c)
	cc, err := s.ceremonies.NewCredentialCode(caller.User, expires)
	if err != nil {
		return badRequest(fmt.Sprintf("expiration must be in the next %s", s.ceremonies.MaxCredentialCodeTTL()), err)
	}
	if err := s.store.PutCodeSigned(c.Request().Context(), s.signedChange(c), cc.Stored); err != nil {
		return fmt.Errorf("store credential code: %w", err)
	}
	return c.JSON(http.StatusOK, credentialCodeView{Code: cc.Code, Expiration: isoTime(cc.ExpiresAt)})
}

// credentialCodeInitRequest is SDK CreateCredentialChallengeWithCodeBody.
type credentialCodeInitRequest struct {
	CredentialKind string `json:"credentialKind"`
	Code           string `json:"code"`
}

func (r *credentialCodeInitRequest) validate() error {
	if err := requireFields("credentialKind", r.CredentialKind, "code", r.Code); err != nil {
		return err
	}
	if len(r.Code) > maxCodeLength {
		return errors.New("code is too long")
	}
	return nil
}

// credentialCodeInit trades a credential code for a credential challenge
// (spec §4.3 /auth/credentials/code/init, no authentication).
func (s *Server) credentialCodeInit(c echo.Context) error {
	var req credentialCodeInitRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	cc, err := s.ceremonies.BeginCodeCredential(c.Request().Context(), req.Code, req.CredentialKind)
	if err != nil {
		return fmt.Errorf("begin credential with code: %w", err)
	}
	out, err := s.newCredentialChallenge(cc)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, out)
}

// credentialCodeVerify adds the credential a code allows (spec §4.3
// /auth/credentials/code/verify, no authentication).
func (s *Server) credentialCodeVerify(c echo.Context) error {
	_, cred, err := s.finishCodeCredential(c)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, newCredentialView(cred))
}

// finishCodeCredential is shared by the API and the console's page that
// adds a passkey on another device.
func (s *Server) finishCodeCredential(c echo.Context) (store.User, store.Credential, error) {
	body, err := readBody(c)
	if err != nil {
		return store.User{}, store.Credential{}, err
	}
	var req createCredentialRequest
	if err := decodeBody(body, &req); err != nil {
		return store.User{}, store.Credential{}, err
	}
	nc, _ := req.newCredential.toDomain("body") // validated by decodeBody
	audit := store.AuditEntry{ID: store.NewID("uj"), Method: http.MethodPost, Path: apiCredentialsCodeVerify, Payload: body,
		Summary: fmt.Sprintf("Add the %s credential %q with a credential code", credentialNoun(nc.Kind), strings.TrimSpace(nc.Name))}
	u, cred, err := s.ceremonies.FinishCodeCredential(c.Request().Context(), req.ChallengeIdentifier, nc, audit)
	if errors.Is(err, webauthn.ErrVerification) {
		return store.User{}, store.Credential{}, &APIError{Status: http.StatusBadRequest, Code: "attestation_failed",
			Message: "the new credential's attestation of its challenge did not verify", Err: err}
	}
	if err != nil {
		return store.User{}, store.Credential{}, fmt.Errorf("finish credential with code: %w", err)
	}
	return u, cred, nil
}
