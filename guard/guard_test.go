package guard

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// issuer plays countersign: a signing key published in a JWKS.
type issuer struct {
	key  *ecdsa.PrivateKey
	kid  string
	jwks *httptest.Server
	hits atomic.Int32
	// hold, when set, makes the JWKS answer wait: the handler sends on
	// arrived, then waits until hold is closed.
	hold, arrived chan struct{}
}

func newIssuer(t *testing.T) *issuer {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	is := &issuer{key: key, kid: "kid-1"}
	is.jwks = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		is.hits.Add(1)
		if is.hold != nil {
			is.arrived <- struct{}{}
			<-is.hold
		}
		pt, _ := is.key.PublicKey.Bytes()
		json.NewEncoder(w).Encode(map[string]any{"keys": []map[string]string{{
			"kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig", "kid": is.kid,
			"x": base64.RawURLEncoding.EncodeToString(pt[1:33]), "y": base64.RawURLEncoding.EncodeToString(pt[33:]),
		}}})
	}))
	t.Cleanup(is.jwks.Close)
	return is
}

const origin = "https://auth.example.com"

var now = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)

// assertion is what countersign would send for method path?query with body.
func (is *issuer) assertion(t *testing.T, edit func(jwt.MapClaims, map[string]any), method, path, query, body string) string {
	t.Helper()
	sum := sha256.Sum256([]byte(body))
	claims := jwt.MapClaims{
		"iss": origin, "aud": []string{"orders"}, "sub": "us-1", "org_id": "or-1", "username": "alice", "kind": "user",
		"token_id": "to-1", "iat": now.Unix(), "exp": now.Add(60 * time.Second).Unix(), "jti": "ua-" + t.Name() + path + body,
		"req": map[string]string{"method": method, "path": path, "query": query, "body_sha256": hex.EncodeToString(sum[:])},
		"act": map[string]string{"credential_id": "cr-1", "credential_kind": "Fido2", "summary": "Create an order"},
	}
	header := map[string]any{"kid": is.kid, "typ": assertionType}
	if edit != nil {
		edit(claims, header)
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodES256, claims)
	for k, v := range header {
		tok.Header[k] = v
	}
	s, err := tok.SignedString(is.key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func newGuard(t *testing.T, is *issuer) *Guard {
	t.Helper()
	g, err := New(Config{JWKSURL: is.jwks.URL, Issuer: origin, Audience: "orders", Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// serveCtx is serve with the request's context.
func serveCtx(ctx context.Context, g *Guard, method, target, body, assertion string) int {
	h := g.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) }))
	req := httptest.NewRequestWithContext(ctx, method, target, strings.NewReader(body))
	req.Header.Set(Header, assertion)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code
}

// serve sends a request through the middleware and tells whether it
// reached the handler, and with what identity.
func serve(g *Guard, method, target, body, assertion string) (int, *Identity) {
	var got *Identity
	h := g.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, _ := IdentityFrom(r.Context())
		b, _ := io.ReadAll(r.Body)
		if string(b) != body {
			panic("the handler got another body")
		}
		got = &id
		w.WriteHeader(http.StatusOK)
	}))
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	if assertion != "" {
		req.Header.Set(Header, assertion)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code, got
}

func TestGuardAcceptsCountersignsAssertion(t *testing.T) {
	is := newIssuer(t)
	g := newGuard(t, is)
	body := `{"amount":1}`
	status, id := serve(g, "POST", "/orders?dry=1", body, is.assertion(t, nil, "POST", "/orders", "dry=1", body))
	if status != http.StatusOK || id == nil || id.UserID != "us-1" || id.Kind != "user" || id.Action == nil || id.Action.Summary != "Create an order" {
		t.Fatalf("status %d, identity %+v", status, id)
	}
}

// An upstream whose clock is a little behind countersign's still accepts
// its assertions (their iat is up to issuedAtLeeway ahead).
func TestGuardToleratesASlightlySlowClock(t *testing.T) {
	is := newIssuer(t)
	g := newGuard(t, is)
	body := `{"amount":1}`
	ahead := is.assertion(t, func(c jwt.MapClaims, h map[string]any) { c["iat"] = now.Add(2 * time.Second).Unix() }, "POST", "/orders", "", body)
	if status, id := serve(g, "POST", "/orders", body, ahead); status != http.StatusOK || id == nil {
		t.Fatalf("an assertion issued 2 s ahead: status %d", status)
	}
}

func TestGuardRefuses(t *testing.T) {
	is := newIssuer(t)
	other := newIssuer(t)
	body := `{"amount":1}`
	good := func() string { return is.assertion(t, nil, "POST", "/orders", "", body) }
	loginToken := is.assertion(t, func(c jwt.MapClaims, h map[string]any) {
		delete(h, "typ")
		c["aud"] = []string{origin}
		c["https://custom/app_metadata"] = map[string]string{"orgId": "or-1", "tokenKind": "Token"}
	}, "POST", "/orders", "", body)
	hs := func() string {
		// HS256 keyed with the public key's bytes: the classic alg swap.
		der, _ := x509.MarshalPKIXPublicKey(&is.key.PublicKey)
		tok := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"iss": origin, "aud": "orders", "sub": "us-1", "exp": now.Add(time.Minute).Unix(), "jti": "x"})
		tok.Header["kid"], tok.Header["typ"] = is.kid, assertionType
		s, _ := tok.SignedString(der)
		return s
	}()
	none := func() string {
		tok := jwt.NewWithClaims(jwt.SigningMethodNone, jwt.MapClaims{"iss": origin, "aud": "orders", "sub": "us-1", "exp": now.Add(time.Minute).Unix()})
		tok.Header["kid"], tok.Header["typ"] = is.kid, assertionType
		s, _ := tok.SignedString(jwt.UnsafeAllowNoneSignatureType)
		return s
	}()
	for name, tc := range map[string]struct {
		method, target, body, assertion string
	}{
		"a missing assertion":           {"POST", "/orders", body, ""},
		"one forged with another key":   {"POST", "/orders", body, other.assertion(t, func(c jwt.MapClaims, h map[string]any) { h["kid"] = is.kid }, "POST", "/orders", "", body)},
		"an alg swapped to HS256":       {"POST", "/orders", body, hs},
		"alg none":                      {"POST", "/orders", body, none},
		"a login token":                 {"POST", "/orders", body, loginToken},
		"another typ":                   {"POST", "/orders", body, is.assertion(t, func(c jwt.MapClaims, h map[string]any) { h["typ"] = "JWT" }, "POST", "/orders", "", body)},
		"an expired one":                {"POST", "/orders", body, is.assertion(t, func(c jwt.MapClaims, h map[string]any) { c["exp"] = now.Add(-time.Second).Unix() }, "POST", "/orders", "", body)},
		"another audience":              {"POST", "/orders", body, is.assertion(t, func(c jwt.MapClaims, h map[string]any) { c["aud"] = []string{"payments"} }, "POST", "/orders", "", body)},
		"another issuer":                {"POST", "/orders", body, is.assertion(t, func(c jwt.MapClaims, h map[string]any) { c["iss"] = "https://evil.example" }, "POST", "/orders", "", body)},
		"another body":                  {"POST", "/orders", `{"amount":1000}`, good()},
		"another path":                  {"POST", "/orders/x", body, good()},
		"another method":                {"PUT", "/orders", body, good()},
		"another query":                 {"POST", "/orders?all=1", body, good()},
		"an issued-at in the future":    {"POST", "/orders", body, is.assertion(t, func(c jwt.MapClaims, h map[string]any) { c["iat"] = now.Add(time.Hour).Unix() }, "POST", "/orders", "", body)},
		"an issued-at past the leeway":  {"POST", "/orders", body, is.assertion(t, func(c jwt.MapClaims, h map[string]any) { c["iat"] = now.Add(issuedAtLeeway + time.Second).Unix() }, "POST", "/orders", "", body)},
		"one with its signature cut":    {"POST", "/orders", body, strings.Join(strings.Split(good(), ".")[:2], ".") + "."},
		"one whose claims were changed": {"POST", "/orders", body, tamper(good())},
	} {
		g := newGuard(t, is)
		if status, id := serve(g, tc.method, tc.target, tc.body, tc.assertion); status == http.StatusOK || id != nil {
			t.Errorf("%s: status %d, reached the handler as %+v", name, status, id)
		}
	}
}

func tamper(tok string) string {
	parts := strings.Split(tok, ".")
	claims, _ := base64.RawURLEncoding.DecodeString(parts[1])
	parts[1] = base64.RawURLEncoding.EncodeToString([]byte(strings.Replace(string(claims), `"us-1"`, `"us-2"`, 1)))
	return strings.Join(parts, ".")
}

func TestGuardRefusesAReplay(t *testing.T) {
	is := newIssuer(t)
	g := newGuard(t, is)
	a := is.assertion(t, nil, "POST", "/orders", "", "{}")
	if status, _ := serve(g, "POST", "/orders", "{}", a); status != http.StatusOK {
		t.Fatalf("first use: %d", status)
	}
	if status, id := serve(g, "POST", "/orders", "{}", a); status != http.StatusUnauthorized || id != nil {
		t.Fatalf("replay: status %d, identity %+v", status, id)
	}
}

func TestGuardRefusesWhenItCannotRecord(t *testing.T) {
	is := newIssuer(t)
	g, _ := New(Config{JWKSURL: is.jwks.URL, Issuer: origin, Audience: "orders", MaxReplayEntries: 1, Now: func() time.Time { return now }})
	first := is.assertion(t, nil, "POST", "/a", "", "{}")
	second := is.assertion(t, nil, "POST", "/b", "", "{}")
	serve(g, "POST", "/a", "{}", first)
	if status, _ := serve(g, "POST", "/b", "{}", second); status != http.StatusServiceUnavailable {
		t.Fatalf("a full replay cache accepted an assertion it could not record: %d", status)
	}
}

func TestGuardFetchesTheKeysAgainForAnUnknownKid(t *testing.T) {
	is := newIssuer(t)
	g := newGuard(t, is)
	serve(g, "POST", "/a", "{}", is.assertion(t, nil, "POST", "/a", "", "{}"))
	// countersign rotates its key: the guard fetches the JWKS again.
	is.key, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	is.kid = "kid-2"
	now = now.Add(refetchEvery)
	defer func() { now = now.Add(-refetchEvery) }()
	if status, _ := serve(g, "POST", "/b", "{}", is.assertion(t, nil, "POST", "/b", "", "{}")); status != http.StatusOK {
		t.Fatalf("an assertion under a new key: %d", status)
	}
	if n := is.hits.Load(); n != 2 {
		t.Fatalf("the JWKS was fetched %d times, want 2", n)
	}
}

// rotate makes the issuer sign with a new key under a new key id whose
// JWKS answer waits until release is called, and moves the clock past the
// refetch interval.
func rotate(t *testing.T, is *issuer) (release func()) {
	t.Helper()
	is.key, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	is.kid = "kid-2"
	is.hold, is.arrived = make(chan struct{}), make(chan struct{}, 1)
	now = now.Add(refetchEvery)
	t.Cleanup(func() { now = now.Add(-refetchEvery) })
	var once sync.Once
	release = func() { once.Do(func() { close(is.hold) }) }
	t.Cleanup(release)
	return release
}

// While the JWKS is being fetched for a new key, assertions under a key
// the guard holds are verified without waiting for it. (Were they held
// up, this test would wait for ever: the fetch is released only after.)
func TestAKnownKeyIsNotHeldUpByAFetch(t *testing.T) {
	is := newIssuer(t)
	g := newGuard(t, is)
	known := is.assertion(t, nil, "POST", "/known", "", "{}")
	if status, _ := serve(g, "POST", "/a", "{}", is.assertion(t, nil, "POST", "/a", "", "{}")); status != http.StatusOK {
		t.Fatalf("first assertion: %d", status)
	}
	release := rotate(t, is)
	fresh := is.assertion(t, nil, "POST", "/b", "", "{}")
	done := make(chan int, 1)
	go func() { done <- serveCtx(t.Context(), g, "POST", "/b", "{}", fresh) }()
	<-is.arrived // the fetch for kid-2 is under way and waiting
	if status, _ := serve(g, "POST", "/known", "{}", known); status != http.StatusOK {
		t.Fatalf("an assertion under the held key during a fetch: %d", status)
	}
	release()
	if status := <-done; status != http.StatusOK {
		t.Fatalf("the assertion under the new key: %d", status)
	}
}

// A request that goes away while the JWKS is fetched for it does not fail
// the fetch: the keys it brings are there for the next request, which
// does not fetch again.
func TestAFetchOutlivesTheRequestThatStartedIt(t *testing.T) {
	is := newIssuer(t)
	g := newGuard(t, is)
	serve(g, "POST", "/a", "{}", is.assertion(t, nil, "POST", "/a", "", "{}"))
	release := rotate(t, is)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan int, 1)
	go func() { done <- serveCtx(ctx, g, "POST", "/b", "{}", is.assertion(t, nil, "POST", "/b", "", "{}")) }()
	<-is.arrived
	cancel()
	if status := <-done; status == http.StatusOK {
		t.Fatal("a request whose client went away was served")
	}
	release()
	if status := serveCtx(t.Context(), g, "POST", "/c", "{}", is.assertion(t, nil, "POST", "/c", "", "{}")); status != http.StatusOK {
		t.Fatalf("the next assertion under the new key: %d", status)
	}
	if n := is.hits.Load(); n != 2 {
		t.Fatalf("the JWKS was fetched %d times, want 2", n)
	}
}
