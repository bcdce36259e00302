package server

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"countersign/store"
	"countersign/webauthn"
)

// headerUserAction carries the one-time user-action token (spec §1.2).
const headerUserAction = "X-DFNS-USERACTION"

// identity is what user actions of this caller are bound to.
// A PAT signs as itself (its own key, its own actions); a person and a
// service account sign as their user.
func (c Caller) identity() webauthn.Identity {
	u := c.User
	id := webauthn.Identity{OrgID: c.User.OrgID, UserID: c.User.ID, TokenID: c.Token.ID, TokenKind: c.Token.Kind, ID: c.User.ID, User: &u}
	if c.Token.Kind == store.TokenPAT {
		id.ID = c.Token.ID
	}
	return id
}

type actionInitRequest struct {
	UserActionPayload    string `json:"userActionPayload"`
	UserActionHTTPMethod string `json:"userActionHttpMethod"`
	UserActionHTTPPath   string `json:"userActionHttpPath"`
	UserActionServerKind string `json:"userActionServerKind"`
}

func (r *actionInitRequest) validate() error {
	if err := requireFields("userActionHttpMethod", r.UserActionHTTPMethod, "userActionHttpPath", r.UserActionHTTPPath); err != nil {
		return err
	}
	if r.UserActionServerKind != "" && r.UserActionServerKind != "Api" {
		return fmt.Errorf("userActionServerKind must be Api")
	}
	return nil
}

// actionChallenge is the LoginChallenge shape plus our summary of what is
// being approved, which the console shows before the passkey prompt, and
// whether the request takes something away.
type actionChallenge struct {
	loginChallenge
	Summary     string `json:"summary"`
	Destructive bool   `json:"destructive"`
}

func (s *Server) actionInit(c echo.Context) error {
	var req actionInitRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	caller := callerFrom(c)
	ctx := c.Request().Context()
	method := strings.ToUpper(req.UserActionHTTPMethod)
	if err := s.checkRequest(c, caller, method, webauthn.ActionPath(req.UserActionHTTPPath), []byte(req.UserActionPayload)); err != nil {
		return err
	}
	sum := s.describe(ctx, caller, method, webauthn.ActionPath(req.UserActionHTTPPath), []byte(req.UserActionPayload))
	lc, err := s.ceremonies.BeginAction(ctx, caller.identity(), webauthn.ActionRequest{
		Method: req.UserActionHTTPMethod, Path: req.UserActionHTTPPath, Payload: req.UserActionPayload, Summary: sum.Text,
	})
	if err != nil {
		return fmt.Errorf("begin action: %w", err)
	}
	return c.JSON(http.StatusOK, actionChallenge{loginChallenge: s.newLoginChallenge(lc), Summary: sum.Text, Destructive: sum.Destructive})
}

type actionResponse struct {
	UserAction string `json:"userAction"`
}

func (s *Server) actionFinish(c echo.Context) error {
	id, a, err := decodeSignedChallenge(c)
	if err != nil {
		return err
	}
	caller := callerFrom(c)
	identity := caller.identity()
	identity.TokenUse = caller.inTransaction()
	ua, err := s.ceremonies.FinishAction(c.Request().Context(), identity, id, a)
	if err != nil {
		return fmt.Errorf("finish action: %w", err)
	}
	return c.JSON(http.StatusOK, actionResponse{UserAction: ua.ID})
}

// verifiedAction is a user action checked against its request, waiting to
// be consumed by the store together with the change it authorises.
type verifiedAction struct {
	action     store.UserAction
	credential store.Credential
}

type actionKey struct{}

// requireUserAction guards the state-changing route r: the
// X-DFNS-USERACTION token must have been issued to the caller's identity
// for this method, path and body (verifyUserAction), and the body must be
// of r's shape. It does not consume the token; the handler's store call
// does, in the same transaction as the change, so a failed change does not
// burn it and two concurrent uses execute once.
func (s *Server) requireUserAction(r *signedRoute) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			body, err := s.verifyUserAction(c, int64(s.opts.SignedBodyLimit))
			if err != nil {
				return err
			}
			if err := checkSignedBody(body, r.body); err != nil {
				return err
			}
			return next(c)
		}
	}
}

// verifyUserAction reads the body (at most limit bytes) and checks the
// X-DFNS-USERACTION token against the caller, method, still-encoded path
// and body: the one check of the Auth API's signed routes and the
// gateway's alike. It leaves the verified action for signedChange and the
// body readable again.
func (s *Server) verifyUserAction(c echo.Context, limit int64) ([]byte, error) {
	req := c.Request()
	id := strings.TrimSpace(req.Header.Get(headerUserAction))
	if id == "" {
		return nil, fmt.Errorf("no %s header: %w", headerUserAction, webauthn.ErrActionInvalid)
	}
	body, err := readBody(c)
	if err != nil {
		return nil, err
	}
	if int64(len(body)) > limit {
		return nil, &APIError{Status: http.StatusRequestEntityTooLarge, Code: "body_too_large",
			Message: fmt.Sprintf("a signed body may hold at most %d bytes", limit)}
	}
	req.Body = io.NopCloser(bytes.NewReader(body))
	ua, cred, err := s.ceremonies.CheckAction(req.Context(), callerFrom(c).identity(), id, req.Method, req.URL.EscapedPath(), body)
	if err != nil {
		return nil, err
	}
	c.SetRequest(req.WithContext(context.WithValue(req.Context(), actionKey{}, verifiedAction{action: ua, credential: cred})))
	return body, nil
}

// verifiedFrom returns the action verifyUserAction checked for this
// request, if any.
func verifiedFrom(c echo.Context) (verifiedAction, bool) {
	va, ok := c.Request().Context().Value(actionKey{}).(verifiedAction)
	return va, ok
}

// signedChange returns what a guarded handler hands to the store: the user
// action to consume and the audit entry to write with the change.
func (s *Server) signedChange(c echo.Context) store.Signed {
	va, _ := verifiedFrom(c)
	caller := callerFrom(c)
	ua, cred := va.action, va.credential
	now := s.opts.Now().UTC()
	summary := ua.Summary // what the person read before signing
	if summary == "" {    // an action of a binary from before migration 0011
		summary = s.summarize(c.Request().Context(), caller, ua.Method, ua.Path, ua.Payload)
	}
	return store.Signed{ActionID: ua.ID, Now: now, TokenUse: caller.inTransaction(), Audit: store.AuditEntry{
		ID: store.NewID("uj"), OrgID: ua.OrgID, UserID: caller.User.ID, Username: caller.User.Username,
		ActionID: ua.ID, CredentialID: cred.ID, CredentialKind: cred.Kind, CredentialPublicKey: webauthn.CredentialPublicKeyPEM(cred),
		Method: ua.Method, Path: ua.Path, Payload: ua.Payload,
		ClientData: ua.ClientData, AuthenticatorData: ua.AuthenticatorData, Signature: ua.Signature,
		Summary: summary, CreatedAt: now,
	}}
}
