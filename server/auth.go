package server

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"countersign/store"
	"countersign/token"
)

// Caller is the authenticated identity of a request: a person through a
// login token, or a machine through a PAT or a service account's token
// (then Access holds the token's metadata).
type Caller struct {
	User   store.User
	Token  store.Token
	Claims token.Claims
	Access *store.AccessToken
}

// isPerson tells a login-token caller from a machine identity.
func (c Caller) isPerson() bool { return c.Token.Kind == store.TokenLogin }

type callerKey struct{}

// callerFrom returns the caller set by authenticate. Handlers behind it may
// rely on it being there.
func callerFrom(c echo.Context) Caller {
	caller, _ := c.Request().Context().Value(callerKey{}).(Caller)
	return caller
}

// authenticate accepts a login token from the Authorization header, or
// from the console's session cookie on same-origin requests only, and
// checks on every request that it is recorded, unrevoked and that its user
// is active, so revocation and deactivation take effect at once.
func (s *Server) authenticate(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		raw, err := s.tokenOf(c)
		if err != nil {
			return err
		}
		caller, err := s.callerFor(c.Request().Context(), raw)
		if err != nil {
			return err
		}
		req := c.Request()
		if caller.Access != nil {
			s.recordTokenUse(c, caller)
		}
		c.SetRequest(req.WithContext(context.WithValue(req.Context(), callerKey{}, caller)))
		return next(c)
	}
}

// tokenOf returns the bearer token, else the session cookie's token when the
// request is same-origin.
func (s *Server) tokenOf(c echo.Context) (string, error) {
	if c.Request().Header.Get(echo.HeaderAuthorization) != "" {
		return bearer(c)
	}
	if tok := s.sessionTokenFrom(c.Request()); tok != "" {
		if !s.sameOrigin(c.Request()) {
			return "", &APIError{Status: http.StatusForbidden, Code: "cross_origin", Message: "cross-origin request refused"}
		}
		return tok, nil
	}
	return "", fmt.Errorf("no bearer token or session: %w", token.ErrInvalid)
}

func bearer(c echo.Context) (string, error) {
	h := c.Request().Header.Get(echo.HeaderAuthorization)
	scheme, raw, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(raw) == "" {
		return "", fmt.Errorf("no bearer token: %w", token.ErrInvalid)
	}
	return strings.TrimSpace(raw), nil
}

func (s *Server) callerFor(ctx context.Context, raw string) (Caller, error) {
	claims, tok, err := s.tokens.Verify(ctx, raw, store.TokenLogin, store.TokenPAT, store.TokenServiceAccount)
	if err != nil {
		return Caller{}, err
	}
	u, err := s.store.GetUser(ctx, tok.UserID)
	if err != nil {
		return Caller{}, fmt.Errorf("load user of token %s: %w: %w", tok.ID, token.ErrInvalid, err)
	}
	if !u.IsActive || u.IsArchived {
		return Caller{}, fmt.Errorf("user %s is inactive: %w", u.ID, token.ErrInvalid)
	}
	caller := Caller{User: u, Token: tok, Claims: claims}
	if caller.isPerson() {
		return caller, nil
	}
	// Machine identities are checked on every request too: deactivating
	// or archiving the token, or its user, stops it at once.
	at, err := s.store.GetAccessToken(ctx, tok.ID)
	if err != nil {
		return Caller{}, fmt.Errorf("load access token %s: %w: %w", tok.ID, token.ErrInvalid, err)
	}
	if !at.IsActive || at.IsArchived {
		return Caller{}, fmt.Errorf("access token %s is inactive: %w", at.ID, token.ErrInvalid)
	}
	caller.Access = &at
	return caller, nil
}

// recordTokenUse notes when a machine token was last used, and whether to
// read or to sign. A failure to note it does not fail the request.
func (s *Server) recordTokenUse(c echo.Context, caller Caller) {
	purpose := store.UseRead
	if m := c.Request().Method; m != http.MethodGet && m != http.MethodHead {
		purpose = store.UseSign
	}
	if err := s.store.RecordTokenUse(c.Request().Context(), caller.Token.ID, s.opts.Now().UTC(), purpose); err != nil {
		s.log.Error("record token use", "token", caller.Token.ID, "cause", err.Error())
	}
}
