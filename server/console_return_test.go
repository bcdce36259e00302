package server

import (
	"net/http"
	"net/url"
	"testing"
)

func TestSignInReturnsOnlyToPagesOfTheConsole(t *testing.T) {
	for raw, want := range map[string]string{
		"":                                     "/",
		"/console/permissions":                 "/console/permissions",
		"/activity?kind=failed&person=us-1":    "/activity?kind=failed&person=us-1",
		"/activity?b=2&a=1#frag":               "/activity?a=1&b=2",
		"https://evil.example/":                "/",
		"//evil.example/":                      "/",
		"///evil.example":                      "/",
		`/\evil.example`:                       "/",
		"/%2F%2Fevil.example":                  "/",
		"/%5Cevil.example":                     "/",
		"javascript:alert(1)":                  "/",
		"evil.example":                         "/",
		"/auth/users":                          "/", // a route, not a page
		"/static/app.js":                       "/",
		"/activity\r\nLocation: https://x/":    "/",
		"/users/../auth/pats":                  "/",
		"http:/evil.example":                   "/",
		"/login?next=https://evil.example":     "/", // the login page itself is no destination
		"/credentials?x=" + string(rune(0x7f)): "/",
	} {
		if got := returnPath(raw); got != want {
			t.Errorf("returnPath(%q) = %q, want %q", raw, got, want)
		}
	}
}

// TestTheOpenRedirectAttackFails: a link to the sign-in page with a next
// of another site signs the person in and keeps them on countersign.
func TestTheOpenRedirectAttackFails(t *testing.T) {
	h := newHarness(t)
	alice := h.signInConsole("alice")
	for _, next := range []string{"https://evil.example/", "//evil.example", `/\evil.example`, "/sessions"} {
		r := h.do("GET", pathLogin+"?next="+url.QueryEscape(next), nil, "Accept", "text/html", "Cookie", alice.cookie)
		mustStatus(t, r, http.StatusSeeOther)
		want := returnPath(next)
		if got := r.Header.Get("Location"); got != want {
			t.Errorf("signed in, /login?next=%s sends to %q, want %q", next, got, want)
		}

		li := h.loginInit(alice.inv.Org.ID, "alice")
		cd, sig := alice.signer.Sign(li.Challenge)
		r = h.do("POST", pathSessionLogin+"?next="+url.QueryEscape(next), keyAssertion(li.ChallengeIdentifier, alice.signer.CredID, cd, sig), "Origin", testOrigin)
		mustStatus(t, r, http.StatusOK)
		if got := r.json(t)["next"]; got != want {
			t.Errorf("a sign-in with next=%s answers next %v, want %q", next, got, want)
		}
	}
}
