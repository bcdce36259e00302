package server

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

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
	// use is this request's use of a machine token, nil for a person.
	use *tokenUse
}

// tokenUse is a machine token's use by one request: recorded in the
// transaction of the request's write when it makes one (inTransaction),
// else by authenticate once the request is served.
type tokenUse struct {
	use      store.TokenUse
	recorded bool
}

// inTransaction hands the request's token use to the write that records
// it in its own transaction; nil for a person.
func (c Caller) inTransaction() *store.TokenUse {
	if c.use == nil {
		return nil
	}
	c.use.recorded = true
	u := c.use.use
	return &u
}

// tokenUseResolution is how often, at most, a request that writes nothing
// else records a machine token's last use for one purpose: reads do not
// each cost a commit.
const tokenUseResolution = time.Minute

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
			caller.use = &tokenUse{use: store.TokenUse{TokenID: caller.Token.ID, At: s.opts.Now().UTC(), Purpose: usePurpose(req.Method)}}
		}
		c.SetRequest(req.WithContext(context.WithValue(req.Context(), callerKey{}, caller)))
		err = next(c)
		if caller.use != nil {
			// A write that took the use into its transaction and then
			// failed rolled it back with the rest: it is recorded here.
			s.recordTokenUse(c, caller, err != nil)
		}
		return err
	}
}

// usePurpose is what a request with method uses a token for.
func usePurpose(method string) string {
	if method != http.MethodGet && method != http.MethodHead {
		return store.UseSign
	}
	return store.UseRead
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

// callerFor checks a bearer token: its signature (once per process),
// then, on every request, its record, its user and, for a machine, its
// access token, all read in one query.
func (s *Server) callerFor(ctx context.Context, raw string) (Caller, error) {
	claims, b, err := s.tokens.VerifyBearer(ctx, raw, store.TokenLogin, store.TokenPAT, store.TokenServiceAccount)
	if err != nil {
		return Caller{}, err
	}
	u := b.User
	if !u.IsActive || u.IsArchived {
		return Caller{}, fmt.Errorf("user %s is inactive: %w", u.ID, token.ErrInvalid)
	}
	caller := Caller{User: u, Token: b.Token, Claims: claims}
	if caller.isPerson() {
		return caller, nil
	}
	// Machine identities are checked on every request too: deactivating
	// or archiving the token, or its user, stops it at once.
	at := b.Access
	if at == nil {
		return Caller{}, fmt.Errorf("access token %s: %w: %w", b.Token.ID, token.ErrInvalid, store.ErrNotFound)
	}
	if !at.IsActive || at.IsArchived {
		return Caller{}, fmt.Errorf("access token %s is inactive: %w", at.ID, token.ErrInvalid)
	}
	caller.Access = at
	return caller, nil
}

// recordTokenUse notes when a machine token was last used, and whether to
// read or to sign, once its request is served, unless the request's own
// transaction recorded it (and the request did not fail) or the stored use
// is of the same purpose and less than tokenUseResolution old. A failure
// to note it does not fail the request.
func (s *Server) recordTokenUse(c echo.Context, caller Caller, failed bool) {
	u, at := caller.use, caller.Access
	if (u.recorded && !failed) || (at.LastUsedFor == u.use.Purpose && at.LastUsedAt != nil && u.use.At.Sub(*at.LastUsedAt) < tokenUseResolution) {
		return
	}
	if err := s.store.RecordTokenUse(c.Request().Context(), u.use.TokenID, u.use.At, u.use.Purpose); err != nil {
		s.log.Error("record token use", "token", caller.Token.ID, "cause", err.Error())
	}
}
