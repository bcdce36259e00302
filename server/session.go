package server

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/gorilla/sessions"
	"github.com/labstack/echo/v4"
)

const (
	// sessionCookie names the console's cookie. Under https it carries the
	// __Host- prefix (cookieName), which browsers accept only from a secure
	// origin, with Path=/ and no Domain: no subdomain can set or shadow it.
	sessionCookie = "countersign_session"
	sessionToken  = "token"
	// SessionKeyringSecret names the store secret holding the cookie key
	// pairs, newest first: the first pair seals new cookies, every pair
	// opens old ones, so keys rotate without signing everybody out.
	SessionKeyringSecret = "session-keyring"
)

// SessionKeyPair is one signing (HMAC-SHA256) and encryption (AES-256) key
// pair of the session keyring.
type SessionKeyPair struct {
	Hash  []byte `json:"hash"`
	Block []byte `json:"block"`
}

// NewSessionKeyPair generates a fresh key pair.
func NewSessionKeyPair() SessionKeyPair {
	p := SessionKeyPair{Hash: make([]byte, 64), Block: make([]byte, 32)}
	if _, err := rand.Read(p.Hash); err != nil {
		panic("crypto/rand: " + err.Error())
	}
	if _, err := rand.Read(p.Block); err != nil {
		panic("crypto/rand: " + err.Error())
	}
	return p
}

// newCookieStore loads the keyring (creating it on first start) and returns
// a cookie store with every option set: HttpOnly, SameSite=Strict, Secure
// under https, Path=/, bounded MaxAge.
func newCookieStore(ctx context.Context, st Store, origins []string, ttl time.Duration) (*sessions.CookieStore, error) {
	raw, err := st.EnsureSecret(ctx, SessionKeyringSecret, mustJSON([]SessionKeyPair{NewSessionKeyPair()}))
	if err != nil {
		return nil, fmt.Errorf("load session keyring: %w", err)
	}
	var ring []SessionKeyPair
	if err := json.Unmarshal(raw, &ring); err != nil || len(ring) == 0 {
		return nil, fmt.Errorf("session keyring is unreadable or empty: %v", err)
	}
	var pairs [][]byte
	for _, p := range ring {
		pairs = append(pairs, p.Hash, p.Block)
	}
	cs := sessions.NewCookieStore(pairs...)
	u, err := url.Parse(origins[0])
	if err != nil {
		return nil, fmt.Errorf("parse origin %q: %w", origins[0], err)
	}
	cs.Options = &sessions.Options{
		Path: "/", MaxAge: int(ttl / time.Second), HttpOnly: true,
		Secure: u.Scheme == "https", SameSite: http.SameSiteStrictMode,
	}
	cs.MaxAge(cs.Options.MaxAge) // also bounds the codecs' own timestamp check
	return cs, nil
}

// cookieName is the session cookie's name for the public origin: with the
// __Host- prefix under https.
func cookieName(origin string) string {
	if strings.HasPrefix(origin, "https://") {
		return "__Host-" + sessionCookie
	}
	return sessionCookie
}

// keyringSize is how many key pairs the keyring keeps: the current one and
// the previous one, whose cookies keep opening until they expire.
const keyringSize = 2

// RotateSessionKeys puts a fresh pair first in the stored keyring, keeps the
// previous one, and returns how many pairs the keyring now holds.
func RotateSessionKeys(ctx context.Context, st interface {
	EnsureSecret(ctx context.Context, name string, value []byte) ([]byte, error)
	UpdateSecret(ctx context.Context, name string, update func([]byte) ([]byte, error)) ([]byte, error)
}) (int, error) {
	if _, err := st.EnsureSecret(ctx, SessionKeyringSecret, mustJSON([]SessionKeyPair{NewSessionKeyPair()})); err != nil {
		return 0, fmt.Errorf("load session keyring: %w", err)
	}
	var n int
	_, err := st.UpdateSecret(ctx, SessionKeyringSecret, func(cur []byte) ([]byte, error) {
		var ring []SessionKeyPair
		if err := json.Unmarshal(cur, &ring); err != nil {
			return nil, fmt.Errorf("session keyring is unreadable: %w", err)
		}
		ring = append([]SessionKeyPair{NewSessionKeyPair()}, ring...)
		if len(ring) > keyringSize {
			ring = ring[:keyringSize]
		}
		n = len(ring)
		return json.Marshal(ring)
	})
	if err != nil {
		return 0, fmt.Errorf("rotate session keys: %w", err)
	}
	return n, nil
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// sessionTokenFrom returns the login token held in the session cookie, or "".
func (s *Server) sessionTokenFrom(r *http.Request) string {
	sess, err := s.cookies.Get(r, s.cookieName)
	if err != nil {
		return ""
	}
	tok, _ := sess.Values[sessionToken].(string)
	return tok
}

// startSession puts a login token into a fresh session cookie.
func (s *Server) startSession(c echo.Context, tok string) error {
	sess, _ := s.cookies.New(c.Request(), s.cookieName) // a bad old cookie just gets replaced
	sess.Values[sessionToken] = tok
	if err := sess.Save(c.Request(), c.Response()); err != nil {
		return fmt.Errorf("save session: %w", err)
	}
	return nil
}

// endSession clears the session cookie.
func (s *Server) endSession(c echo.Context) error {
	sess, _ := s.cookies.New(c.Request(), s.cookieName)
	sess.Options.MaxAge = -1
	if err := sess.Save(c.Request(), c.Response()); err != nil {
		return fmt.Errorf("clear session: %w", err)
	}
	return nil
}

// sameOrigin tells whether a request comes from one of the console's own
// origins. The Origin header decides when present; a browser always sends
// it on cross-origin and on state-changing requests. Without it, only safe
// methods (plain navigations) pass, and only if the browser does not label
// the request cross-site.
func (s *Server) sameOrigin(r *http.Request) bool {
	if origin := r.Header.Get(echo.HeaderOrigin); origin != "" {
		return slices.Contains(s.opts.Origins, origin)
	}
	if site := r.Header.Get("Sec-Fetch-Site"); site == "cross-site" || site == "same-site" {
		return false
	}
	return r.Method == http.MethodGet || r.Method == http.MethodHead
}

// requireSameOrigin refuses cross-origin requests to the console's
// cookie-setting and cookie-using endpoints (login CSRF, logout CSRF).
func (s *Server) requireSameOrigin(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if !s.sameOrigin(c.Request()) {
			return &APIError{Status: http.StatusForbidden, Code: "cross_origin", Message: "cross-origin request refused"}
		}
		return next(c)
	}
}
