package server

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"

	"countersign/store"
	"countersign/token"
	"countersign/webauthn"
)

type loginInitRequest struct {
	OrgID    string `json:"orgId"`
	Username string `json:"username"`
}

func (r *loginInitRequest) validate() error { return requireFields("orgId", r.OrgID) }

func (s *Server) loginInit(c echo.Context) error {
	var req loginInitRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	if err := s.limitAccount(req.OrgID, req.Username); err != nil {
		return err
	}
	lc, err := s.ceremonies.BeginLogin(c.Request().Context(), req.OrgID, req.Username)
	if err != nil {
		return fmt.Errorf("begin login: %w", err)
	}
	return c.JSON(http.StatusOK, s.newLoginChallenge(lc))
}

type loginResponse struct {
	Token string `json:"token"`
}

func (s *Server) loginFinish(c echo.Context) error {
	_, _, issued, err := s.finishLogin(c, store.ViaAPI)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, loginResponse{Token: issued.Token})
}

// logout revokes the caller's token server-side. The body is optional.
func (s *Server) logout(c echo.Context) error {
	caller := callerFrom(c)
	if err := s.store.RevokeToken(c.Request().Context(), caller.Token.ID, s.opts.Now()); err != nil {
		return fmt.Errorf("revoke token %s: %w", caller.Token.ID, err)
	}
	return c.JSON(http.StatusOK, messageResponse{Message: "logged out"})
}

// finishLogin verifies a SignedChallenge body for /auth/login and the
// console's /session/login (via) alike, and issues the login token: it is
// recorded with the sign-in event in the login's own transaction (one
// commit), then signed. A refused one goes into the sign-in log.
func (s *Server) finishLogin(c echo.Context, via string) (store.User, store.Credential, token.Issued, error) {
	id, a, err := decodeSignedChallenge(c)
	if err != nil {
		return store.User{}, store.Credential{}, token.Issued{}, err
	}
	var rec store.Token
	u, cred, err := s.ceremonies.FinishLogin(c.Request().Context(), id, a, func(u store.User, cred store.Credential) (*store.Token, *store.SignInEvent) {
		rec = s.tokens.LoginRecord(u)
		e := s.signInRecord(c, u, cred, rec.ID, via)
		return &rec, &e
	})
	if err != nil {
		// A challenge that does not open, or was spent, is no attempt at
		// anyone's account: only a failure over a real challenge is filed.
		if !errors.Is(err, webauthn.ErrChallenge) {
			s.recordFailedSignIn(c, a)
		}
		return store.User{}, store.Credential{}, token.Issued{}, fmt.Errorf("finish login: %w", err)
	}
	issued, err := s.tokens.SignLogin(rec, u.Username)
	if err != nil {
		return store.User{}, store.Credential{}, token.Issued{}, fmt.Errorf("issue login token: %w", err)
	}
	return u, cred, issued, nil
}
