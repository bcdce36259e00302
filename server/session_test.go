package server

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// sessionCookie logs in through the console endpoint and returns the
// session cookie it sets.
func (h *harness) sessionCookie(t *testing.T, u actionUser) *http.Cookie {
	t.Helper()
	li := h.loginInit(u.inv.Org.ID, u.inv.User.Username)
	cd, sig := u.first.Sign(li.Challenge)
	r := h.do("POST", pathSessionLogin, keyAssertion(li.ChallengeIdentifier, u.first.CredID, cd, sig), "Origin", testOrigin)
	mustStatus(t, r, http.StatusOK)
	if strings.Contains(string(r.Body), "token") {
		t.Fatalf("the console login answered a token to JavaScript: %s", r.Body)
	}
	res := http.Response{Header: r.Header}
	for _, c := range res.Cookies() {
		if c.Name == sessionCookie {
			if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/" || c.MaxAge <= 0 {
				t.Fatalf("cookie options = %+v", c)
			}
			return c
		}
	}
	t.Fatalf("no session cookie in %v", r.Header)
	return nil
}

func withCookie(srv http.Handler, c *http.Cookie, method, path string, header ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, nil)
	req.AddCookie(c)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, req)
	return rec
}

func TestSessionCookie(t *testing.T) {
	h := newHarness(t)
	u := h.newActionUser("alice")
	cookie := h.sessionCookie(t, u)
	t.Run("the cookie carries the token for same-origin API calls", func(t *testing.T) {
		if rec := withCookie(h.srv, cookie, "GET", "/auth/credentials"); rec.Code != http.StatusOK {
			t.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
	})
	t.Run("a cross-origin request carrying the cookie is refused", func(t *testing.T) {
		rec := withCookie(h.srv, cookie, "PUT", "/auth/credentials/deactivate", "Origin", "https://evil.example")
		if rec.Code != http.StatusForbidden {
			t.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
		rec = withCookie(h.srv, cookie, "POST", pathSessionLogout, "Origin", "https://evil.example")
		if rec.Code != http.StatusForbidden {
			t.Fatalf("cross-site logout status %d", rec.Code)
		}
		rec = withCookie(h.srv, cookie, "POST", pathSessionLogout, "Sec-Fetch-Site", "cross-site")
		if rec.Code != http.StatusForbidden {
			t.Fatalf("cross-site logout without Origin status %d", rec.Code)
		}
	})
	t.Run("a console login from another origin is refused", func(t *testing.T) {
		li := h.loginInit(u.inv.Org.ID, "alice")
		cd, sig := u.first.Sign(li.Challenge)
		r := h.do("POST", pathSessionLogin, keyAssertion(li.ChallengeIdentifier, u.first.CredID, cd, sig), "Origin", "https://evil.example")
		mustStatus(t, r, http.StatusForbidden)
	})
	t.Run("rotated keys keep opening the previous cookies, not older ones", func(t *testing.T) {
		ctx := context.Background()
		fresh := func() http.Handler {
			srv, err := New(ctx, h.st, h.cs, h.tokens, Options{Origins: []string{testOrigin}, Now: h.clock, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
			if err != nil {
				t.Fatal(err)
			}
			return srv
		}
		if n, err := RotateSessionKeys(ctx, h.st); err != nil || n != 2 {
			t.Fatalf("rotate: %d pairs, %v", n, err)
		}
		if rec := withCookie(fresh(), cookie, "GET", "/auth/credentials"); rec.Code != http.StatusOK {
			t.Fatalf("after one rotation: status %d", rec.Code)
		}
		if _, err := RotateSessionKeys(ctx, h.st); err != nil {
			t.Fatal(err)
		}
		if rec := withCookie(fresh(), cookie, "GET", "/auth/credentials"); rec.Code != http.StatusUnauthorized {
			t.Fatalf("after two rotations: status %d, want 401", rec.Code)
		}
	})
	t.Run("logout revokes the token and clears the cookie", func(t *testing.T) {
		c := h.sessionCookie(t, u)
		rec := withCookie(h.srv, c, "POST", pathSessionLogout, "Origin", testOrigin)
		if rec.Code != http.StatusSeeOther || !strings.Contains(rec.Header().Get("Set-Cookie"), "Max-Age=0") {
			t.Fatalf("logout: %d %v", rec.Code, rec.Header())
		}
		if rec := withCookie(h.srv, c, "GET", "/auth/credentials"); rec.Code != http.StatusUnauthorized {
			t.Fatalf("a logged-out cookie still works: %d", rec.Code)
		}
	})
}
