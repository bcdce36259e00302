package server

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"
	"github.com/labstack/echo/v4"

	"countersign/webauthn"
	"countersign/webauthn/webauthntest"
)

func TestEveryErrorIsJSON(t *testing.T) {
	h := newHarness(t)
	h.srv.echo.GET("/test/panic", func(echo.Context) error { panic("boom") })
	cases := []struct {
		name         string
		method, path string
		body         any
		wantStatus   int
		wantCode     string
	}{
		{"an unknown route answers a JSON 404", "GET", "/nope", nil, 404, "not_found"},
		{"a wrong method answers a JSON 405", "DELETE", "/auth/login/init", nil, 405, "method_not_allowed"},
		{"a panic answers a JSON 500", "GET", "/test/panic", nil, 500, "internal"},
		{"malformed JSON answers 400", "POST", "/auth/login/init", `{"orgId":`, 400, "invalid_request"},
		{"a JSON array body answers 400", "POST", "/auth/login/init", `[1]`, 400, "invalid_request"},
		{"trailing data answers 400", "POST", "/auth/login/init", `{"orgId":"or-x"} {}`, 400, "invalid_request"},
		{"a field of the wrong type answers 400", "POST", "/auth/login/init", `{"orgId":5}`, 400, "invalid_request"},
		{"a missing orgId answers 400", "POST", "/auth/login/init", `{}`, 400, "invalid_request"},
		{"a missing registration code answers 400", "POST", "/auth/registration/init", `{"orgId":"or-x","username":"a"}`, 400, "invalid_request"},
		{"a login without firstFactor answers 400", "POST", "/auth/login", `{"challengeIdentifier":"ch-x"}`, 400, "invalid_request"},
		{"a login with an unknown kind answers 400", "POST", "/auth/login", `{"challengeIdentifier":"ch-x","firstFactor":{"kind":"Password","credentialAssertion":{}}}`, 400, "invalid_request"},
		{"a login with non-base64 fields answers 400", "POST", "/auth/login", `{"challengeIdentifier":"ch-x","firstFactor":{"kind":"Key","credentialAssertion":{"credId":"x","clientData":"!!","signature":"AA"}}}`, 400, "invalid_request"},
		{"a body over the limit answers 413", "POST", "/auth/login/init", `{"orgId":"` + strings.Repeat("a", 2<<20) + `"}`, 413, "body_too_large"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := h.do(tc.method, tc.path, tc.body)
			mustStatus(t, r, tc.wantStatus)
			if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Fatalf("Content-Type = %q", ct)
			}
			m := r.json(t)
			e, _ := m["error"].(map[string]any)
			if e == nil || e["code"] != tc.wantCode || e["status"] != float64(tc.wantStatus) || e["message"] == "" || m["message"] != e["message"] {
				t.Fatalf("error body = %s, want code %s status %d", r.Body, tc.wantCode, tc.wantStatus)
			}
		})
	}
	t.Run("a 500 never shows its cause", func(t *testing.T) {
		r := h.do("GET", "/test/panic", nil)
		if strings.Contains(string(r.Body), "boom") {
			t.Fatalf("body leaks the panic: %s", r.Body)
		}
	})
	t.Run("HEAD gets no body", func(t *testing.T) {
		r := h.do("HEAD", "/nope", nil)
		if len(r.Body) != 0 {
			t.Fatalf("HEAD body = %q", r.Body)
		}
	})
}

func TestFailedRequestsPersistNothing(t *testing.T) {
	h := newHarness(t)
	inv := h.invite("alice")
	ri := h.registrationInit(inv)
	for _, body := range []string{`{`, `{"firstFactorCredential":{}}`, `{"firstFactorCredential":{"credentialKind":"Key","credentialInfo":{"credId":"a","clientData":"e30","attestationData":"e30"}},"secondFactorCredential":{}}`} {
		r := h.do("POST", "/auth/registration", body, "Authorization", "Bearer "+ri.Temp)
		mustStatus(t, r, http.StatusBadRequest)
	}
	if len(h.credentials(inv.User.ID)) != 0 || h.user(inv.User.ID).IsRegistered {
		t.Fatal("a refused registration persisted something")
	}
	// Body validation happens before the ceremony, so the challenge was not
	// burned by malformed requests.
	mustStatus(t, h.register(ri.Temp, keyCredential(webauthntest.NewKeySigner("P256"), ri.Challenge)), http.StatusOK)
}

func TestCORSPreflight(t *testing.T) {
	h := newHarness(t)
	r := h.do("OPTIONS", "/auth/login/init", nil,
		"Origin", "https://app.example", "Access-Control-Request-Method", "POST",
		"Access-Control-Request-Headers", "authorization,content-type,x-dfns-useraction,x-dfns-sdk-version")
	if r.Status != http.StatusNoContent && r.Status != http.StatusOK {
		t.Fatalf("preflight status = %d", r.Status)
	}
	allowed := strings.ToLower(r.Header.Get("Access-Control-Allow-Headers"))
	for _, hdr := range []string{"authorization", "content-type", "x-dfns-useraction", "x-dfns-sdk-version"} {
		if !strings.Contains(allowed, hdr) {
			t.Fatalf("Access-Control-Allow-Headers = %q lacks %s", allowed, hdr)
		}
	}
	if r.Header.Get("Access-Control-Allow-Credentials") == "true" {
		t.Fatal("cross-origin credentials must not be allowed")
	}
}

func TestArraysAreNeverNull(t *testing.T) {
	h := newHarness(t)
	inv, signer := h.registerKey("alice", "P256")
	r := h.do("POST", "/auth/login/init", map[string]string{"orgId": inv.Org.ID, "username": "alice"})
	if strings.Contains(string(r.Body), "null") {
		t.Fatalf("login challenge has a null: %s", r.Body)
	}
	r = h.do("POST", "/auth/login/init", map[string]string{"orgId": inv.Org.ID})
	if strings.Contains(string(r.Body), "null") {
		t.Fatalf("usernameless challenge has a null: %s", r.Body)
	}
	bob := h.invite("bob")
	r = h.do("POST", "/auth/registration/init", map[string]string{"orgId": bob.Org.ID, "username": "bob", "registrationCode": bob.Code})
	if strings.Contains(string(r.Body), "null") {
		t.Fatalf("registration challenge has a null: %s", r.Body)
	}
	tok := h.loginKey(inv, signer)
	r = h.do("GET", "/auth/credentials", nil, "Authorization", "Bearer "+tok)
	if strings.Contains(string(r.Body), "null") {
		t.Fatalf("credential list has a null: %s", r.Body)
	}
}

// verifyWithJWKS checks a token against a published JWKS document only.
func verifyWithJWKS(tok string, doc []byte) error {
	var set struct {
		Keys []struct{ Kid, Crv, X, Y string } `json:"keys"`
	}
	if err := json.Unmarshal(doc, &set); err != nil {
		return err
	}
	_, err := jwt.Parse(tok, func(t *jwt.Token) (any, error) {
		for _, k := range set.Keys {
			if k.Kid == t.Header["kid"] && k.Crv == "P-256" {
				x, errX := webauthn.DecodeBase64URL(k.X)
				y, errY := webauthn.DecodeBase64URL(k.Y)
				if errX != nil || errY != nil {
					return nil, fmt.Errorf("bad coordinates")
				}
				return &ecdsa.PublicKey{Curve: elliptic.P256(), X: new(big.Int).SetBytes(x), Y: new(big.Int).SetBytes(y)}, nil
			}
		}
		return nil, errors.New("no key with that kid")
	}, jwt.WithValidMethods([]string{"ES256"}), jwt.WithoutClaimsValidation())
	return err
}

func TestRateLimitIgnoresForwardedHeaders(t *testing.T) {
	h := newHarness(t)
	srv, err := New(context.Background(), h.st, h.cs, h.tokens, Options{Origins: []string{testOrigin}, RateLimit: 1, Now: h.clock, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	h.srv = srv
	limited := 0
	for i := range 10 {
		// A client cannot pose as ten clients by naming other addresses.
		r := h.do("POST", "/auth/login/init", `{"orgId":"or-x"}`, "X-Forwarded-For", fmt.Sprintf("10.0.0.%d", i), "X-Real-IP", fmt.Sprintf("10.0.1.%d", i))
		if r.Status == http.StatusTooManyRequests {
			limited++
		}
	}
	if limited == 0 {
		t.Fatal("10 quick requests from one peer were never limited")
	}
}
