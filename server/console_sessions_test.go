package server

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"countersign/store"
	"countersign/webauthn/webauthntest"
)

func TestSignOutEverywhereElse(t *testing.T) {
	h := newHarness(t)
	alice := h.signInConsole("alice") // a console session and an API login token
	other := h.loginKey(alice.inv, alice.signer)
	_, current, err := h.tokens.Verify(t.Context(), alice.tok, store.TokenLogin)
	if err != nil {
		t.Fatal(err)
	}
	sessions, err := h.st.ListActiveTokens(t.Context(), alice.inv.User.ID, store.TokenLogin, h.clock())
	if err != nil || len(sessions) != 3 {
		t.Fatalf("sessions = %v, %v; want 3", sessions, err)
	}
	page := string(h.page(alice, pathSessions).Body)
	if n := strings.Count(page, `data-testid="session-row"`); n != 3 {
		t.Errorf("the sessions page lists %d sessions, want 3", n)
	}

	t.Run("this session cannot be revoked from the list", func(t *testing.T) {
		r := h.signedJSON(t, alice.tok, alice.signer, "PUT", apiSessionsRevoke, map[string][]string{"tokenIds": {current.ID}})
		mustStatus(t, r, http.StatusBadRequest)
	})
	t.Run("a request naming both some sessions and all others is refused", func(t *testing.T) {
		r := h.signedJSON(t, alice.tok, alice.signer, "PUT", apiSessionsRevoke, map[string]any{"tokenIds": []string{sessions[0].ID}, "allOthers": true})
		mustStatus(t, r, http.StatusBadRequest)
	})
	if got, destructive := h.actionSummaryOf(t, alice.tok, "PUT", apiSessionsRevoke, `{"allOthers":true}`); !strings.HasPrefix(got, "Sign out 2 other sessions of yours (") || !destructive {
		t.Errorf("the approval of signing out everywhere else says %q (destructive %t)", got, destructive)
	}
	r := h.signedJSON(t, alice.tok, alice.signer, "PUT", apiSessionsRevoke, map[string]bool{"allOthers": true})
	mustStatus(t, r, http.StatusOK)
	if n := r.json(t)["revoked"]; n != float64(2) {
		t.Errorf("revoked = %v, want 2", n)
	}
	t.Run("the other sessions stop working at once", func(t *testing.T) {
		mustStatus(t, get(h, other, "/auth/credentials"), http.StatusUnauthorized)
		if r := h.page(alice, pathConsole); r.Status != http.StatusSeeOther {
			t.Errorf("the console session still opens the console: %d", r.Status)
		}
	})
	t.Run("this one goes on", func(t *testing.T) {
		mustStatus(t, get(h, alice.tok, "/auth/credentials"), http.StatusOK)
	})
	t.Run("someone else's session is left alone", func(t *testing.T) {
		bob := h.signInConsole("bob")
		_, bobTok, err := h.tokens.Verify(t.Context(), bob.tok, store.TokenLogin)
		if err != nil {
			t.Fatal(err)
		}
		r := h.signedJSON(t, alice.tok, alice.signer, "PUT", apiSessionsRevoke, map[string][]string{"tokenIds": {bobTok.ID}})
		mustStatus(t, r, http.StatusOK)
		if n := r.json(t)["revoked"]; n != float64(0) {
			t.Errorf("revoked %v of bob's sessions", n)
		}
		mustStatus(t, get(h, bob.tok, "/auth/credentials"), http.StatusOK)
	})
}

func TestSignInsAndRefusedSignInsAreRecorded(t *testing.T) {
	h := newHarness(t)
	alice := h.signInConsole("alice")
	events := func() []store.SignInEvent {
		es, err := h.st.ListSignInEvents(t.Context(), store.SignInQuery{OrgID: alice.inv.Org.ID, Start: time.Unix(0, 0), End: h.clock().Add(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		return es
	}
	got := events()
	vias := map[string]bool{}
	for _, e := range got {
		vias[e.Via] = e.Outcome == store.SignInSucceeded && e.TokenID != "" && e.UserID == alice.inv.User.ID
	}
	if len(got) != 2 || !vias[store.ViaAPI] || !vias[store.ViaConsole] {
		t.Fatalf("after a console and an API sign-in, events = %+v", got)
	}
	h.advance(time.Second)

	// A signature by another key over alice's challenge, with her credId.
	li := h.loginInit(alice.inv.Org.ID, "alice")
	forger := webauthntest.NewKeySigner("P256")
	cd, sig := forger.Sign(li.Challenge)
	mustStatus(t, h.do("POST", "/auth/login", keyAssertion(li.ChallengeIdentifier, alice.signer.CredID, cd, sig)), http.StatusUnauthorized)
	got = events()
	if len(got) != 3 || got[0].Outcome != store.SignInFailed || got[0].UserID != alice.inv.User.ID || got[0].Reason != "The signature was not accepted" {
		t.Fatalf("after a forged sign-in, newest event = %+v", got[0])
	}

	// A challenge identifier countersign never sealed, or one already
	// spent, is nobody's sign-in attempt: nothing is filed, so nobody can
	// flood an account's log (and push out its real failures) without
	// asking for a challenge each time.
	mustStatus(t, h.do("POST", "/auth/login", keyAssertion("cs1.forged", alice.signer.CredID, cd, sig)), http.StatusUnauthorized)
	mustStatus(t, h.do("POST", "/auth/login", keyAssertion(li.ChallengeIdentifier, alice.signer.CredID, cd, sig)), http.StatusUnauthorized) // spent above
	if n := len(events()); n != 3 {
		t.Errorf("a forged or spent challenge's failure was filed: %d events", n)
	}

	// An unknown credential names no organisation: nothing is filed.
	li = h.loginInit(alice.inv.Org.ID, "alice")
	cd, sig = forger.Sign(li.Challenge)
	mustStatus(t, h.do("POST", "/auth/login", keyAssertion(li.ChallengeIdentifier, forger.CredID, cd, sig)), http.StatusUnauthorized)
	if n := len(events()); n != 3 {
		t.Errorf("an unknown credential's failure was filed: %d events", n)
	}
}

func TestBrowserNames(t *testing.T) {
	for ua, want := range map[string]string{
		"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36":            "Chrome on Linux",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.0 Safari/605": "Safari on macOS",
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/140.0 Safari/537.36 Edg/140.0":                "Edge on Windows",
		"Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) AppleWebKit/605.1.15 Version/18.0 Mobile Safari/604.1":     "Safari on iOS",
		"": "Unknown browser",
	} {
		if got := browserName(ua); got != want {
			t.Errorf("browserName(%q) = %q, want %q", ua, got, want)
		}
	}
}
