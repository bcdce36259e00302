// Package guard verifies, in a service behind countersign's gateway, the
// X-Countersign-Assertion header the gateway adds to every request it
// forwards (spec/gateway.md §4), as net/http middleware: the signature by a
// key of countersign's JWKS, the assertion type, issuer, audience and
// expiry, that the assertion describes the very request it came with
// (method, path, query and the SHA-256 of the body received), and that it
// is not replayed. The verified identity is in the request's context.
//
// The package stands on its own: it imports nothing of countersign's, so a
// service can depend on it alone.
package guard

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// issuedAtLeeway is how far ahead of this server's clock an assertion's
// issue time may be: clocks drift, and iat is rounded down to the second.
const issuedAtLeeway = 5 * time.Second

// Header carries the assertion.
const Header = "X-Countersign-Assertion"

// assertionType is the typ header of an assertion: a bearer token of the
// same issuer is refused.
const assertionType = "countersign-assertion+jwt"

// Config configures a Guard.
type Config struct {
	// JWKSURL is countersign's /.well-known/jwks.json.
	JWKSURL string
	// Issuer is countersign's public origin, e.g. https://auth.example.com.
	Issuer string
	// Audience is the upstream's name in countersign's configuration.
	Audience string
	// Client fetches the JWKS (default: a client with a 10 s timeout).
	Client *http.Client
	// MaxBody bounds the body the guard reads to hash (default 1 MiB);
	// a larger one is refused with 413.
	MaxBody int64
	// MaxReplayEntries bounds the replay cache (default 100000 ids of
	// unexpired assertions); when it is full of unexpired ids, requests
	// are refused with 503 rather than accepted unrecorded.
	MaxReplayEntries int
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Identity is who countersign authenticated for a request.
type Identity struct {
	UserID   string // us-…, also for a PAT or a service account
	OrgID    string
	Username string
	Kind     string // user, pat or service_account
	TokenID  string
	// Action is set for a signed request: the user action id and who
	// approved what.
	Action *Action
}

// Action is the approval of a signed request.
type Action struct {
	ID             string
	CredentialID   string
	CredentialKind string
	Summary        string
}

// Guard verifies assertions. It is safe for concurrent use.
type Guard struct {
	cfg  Config
	keys *keySet
	seen *replayCache
}

// New checks cfg and returns a Guard. The JWKS is fetched on first use.
func New(cfg Config) (*Guard, error) {
	if cfg.JWKSURL == "" || cfg.Issuer == "" || cfg.Audience == "" {
		return nil, errors.New("guard: JWKSURL, Issuer and Audience are required")
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: 10 * time.Second}
	}
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = 1 << 20
	}
	if cfg.MaxReplayEntries <= 0 {
		cfg.MaxReplayEntries = 100_000
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Guard{cfg: cfg, keys: &keySet{url: cfg.JWKSURL, client: cfg.Client, now: cfg.Now}, seen: newReplayCache(cfg.MaxReplayEntries)}, nil
}

// Error is a refusal: Status is the HTTP status the middleware answers.
type Error struct {
	Status int
	Reason string
}

func (e *Error) Error() string { return "guard: " + e.Reason }

func refuse(status int, format string, args ...any) *Error {
	return &Error{Status: status, Reason: fmt.Sprintf(format, args...)}
}

type claims struct {
	jwt.RegisteredClaims
	OrgID    string `json:"org_id"`
	Username string `json:"username"`
	Kind     string `json:"kind"`
	TokenID  string `json:"token_id"`
	Req      struct {
		Method     string `json:"method"`
		Path       string `json:"path"`
		Query      string `json:"query"`
		BodySHA256 string `json:"body_sha256"`
	} `json:"req"`
	Act *struct {
		CredentialID   string `json:"credential_id"`
		CredentialKind string `json:"credential_kind"`
		Summary        string `json:"summary"`
	} `json:"act"`
}

// Verify checks the assertion of r against r and its body (already read)
// and records its id, so the same assertion is refused next time.
func (g *Guard) Verify(ctx context.Context, r *http.Request, body []byte) (Identity, error) {
	raw := r.Header.Get(Header)
	if raw == "" {
		return Identity{}, refuse(http.StatusUnauthorized, "no %s header", Header)
	}
	var c claims
	_, err := jwt.ParseWithClaims(raw, &c, func(t *jwt.Token) (any, error) {
		if typ, _ := t.Header["typ"].(string); typ != assertionType {
			return nil, fmt.Errorf("typ %q is not %s", typ, assertionType)
		}
		kid, _ := t.Header["kid"].(string)
		return g.keys.get(ctx, kid)
	},
		jwt.WithValidMethods([]string{jwt.SigningMethodES256.Alg()}),
		jwt.WithIssuer(g.cfg.Issuer),
		jwt.WithAudience(g.cfg.Audience),
		jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(g.cfg.Now),
	)
	if err != nil {
		return Identity{}, refuse(http.StatusUnauthorized, "assertion: %v", err)
	}
	// countersign writes iat in whole seconds: an upstream whose clock is a
	// little behind would see nearly every assertion issued "in the
	// future". The expiry stays exact.
	if c.IssuedAt != nil && c.IssuedAt.After(g.cfg.Now().Add(issuedAtLeeway)) {
		return Identity{}, refuse(http.StatusUnauthorized, "assertion issued in the future (%s)", c.IssuedAt.Time)
	}
	sum := sha256.Sum256(body)
	switch {
	case c.Subject == "" || c.ID == "":
		return Identity{}, refuse(http.StatusUnauthorized, "assertion without sub or jti")
	case c.Req.Method != r.Method:
		return Identity{}, refuse(http.StatusUnauthorized, "assertion is for %s, request is %s", c.Req.Method, r.Method)
	case c.Req.Path != r.URL.EscapedPath():
		return Identity{}, refuse(http.StatusUnauthorized, "assertion is for path %q, request is %q", c.Req.Path, r.URL.EscapedPath())
	case c.Req.Query != r.URL.RawQuery:
		return Identity{}, refuse(http.StatusUnauthorized, "assertion is for query %q, request has %q", c.Req.Query, r.URL.RawQuery)
	case subtle.ConstantTimeCompare([]byte(c.Req.BodySHA256), []byte(hex.EncodeToString(sum[:]))) != 1:
		return Identity{}, refuse(http.StatusUnauthorized, "assertion is for another body")
	}
	if err := g.seen.add(c.ID, c.ExpiresAt.Time, g.cfg.Now()); err != nil {
		return Identity{}, err
	}
	id := Identity{UserID: c.Subject, OrgID: c.OrgID, Username: c.Username, Kind: c.Kind, TokenID: c.TokenID}
	if c.Act != nil {
		id.Action = &Action{ID: c.ID, CredentialID: c.Act.CredentialID, CredentialKind: c.Act.CredentialKind, Summary: c.Act.Summary}
	}
	return id, nil
}

type identityKey struct{}

// IdentityFrom returns the identity the middleware verified.
func IdentityFrom(ctx context.Context) (Identity, bool) {
	id, ok := ctx.Value(identityKey{}).(Identity)
	return id, ok
}

// Middleware refuses a request whose assertion does not verify, with a
// JSON error, and passes the others on with their identity in the context
// and their body readable again.
func (g *Guard) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, g.cfg.MaxBody))
		if err != nil {
			writeError(w, refuse(http.StatusRequestEntityTooLarge, "body: %v", err))
			return
		}
		id, err := g.Verify(r.Context(), r, body)
		if err != nil {
			writeError(w, err)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), identityKey{}, id)))
	})
}

func writeError(w http.ResponseWriter, err error) {
	status := http.StatusUnauthorized
	var ge *Error
	if errors.As(err, &ge) {
		status = ge.Status
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"status": status, "message": "request refused by the countersign guard"}})
}

// replayCache holds the ids of accepted assertions until they expire.
type replayCache struct {
	mu  sync.Mutex
	max int
	ids map[string]time.Time
}

func newReplayCache(max int) *replayCache {
	return &replayCache{max: max, ids: map[string]time.Time{}}
}

func (c *replayCache) add(id string, exp, now time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, seen := c.ids[id]; seen {
		return refuse(http.StatusUnauthorized, "assertion %s was already used", id)
	}
	if len(c.ids) >= c.max {
		for k, e := range c.ids {
			if !now.Before(e) {
				delete(c.ids, k)
			}
		}
		if len(c.ids) >= c.max {
			return refuse(http.StatusServiceUnavailable, "replay cache full (%d unexpired assertions)", c.max)
		}
	}
	c.ids[id] = exp
	return nil
}
