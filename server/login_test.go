package server

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"countersign/webauthn"
	"countersign/webauthn/webauthntest"
)

func TestLoginAttacks(t *testing.T) {
	t.Run("replayed key assertion is refused", func(t *testing.T) {
		h := newHarness(t)
		inv, signer := h.registerKey("alice", "P256")
		li := h.loginInit(inv.Org.ID, "alice")
		cd, sig := signer.Sign(li.Challenge)
		body := keyAssertion(li.ChallengeIdentifier, signer.CredID, cd, sig)
		mustStatus(t, h.do("POST", "/auth/login", body), http.StatusOK)
		mustStatus(t, h.do("POST", "/auth/login", body), http.StatusUnauthorized)
	})
	t.Run("replayed passkey assertion is refused", func(t *testing.T) {
		h := newHarness(t)
		inv, auth := h.registerFido2("alice")
		li := h.loginInit(inv.Org.ID, "alice")
		id, cd, ad, sig, uh := auth.Get([]byte(li.Challenge))
		body := fido2Assertion(li.ChallengeIdentifier, id, cd, ad, sig, uh)
		mustStatus(t, h.do("POST", "/auth/login", body), http.StatusOK)
		mustStatus(t, h.do("POST", "/auth/login", body), http.StatusUnauthorized)
	})
	t.Run("a login challenge finished concurrently succeeds exactly once", func(t *testing.T) {
		h := newHarness(t)
		inv, signer := h.registerKey("alice", "P256")
		li := h.loginInit(inv.Org.ID, "alice")
		cd, sig := signer.Sign(li.Challenge)
		body := keyAssertion(li.ChallengeIdentifier, signer.CredID, cd, sig)
		const n = 20
		statuses := make(chan int, n)
		var wg sync.WaitGroup
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				statuses <- h.do("POST", "/auth/login", body).Status
			}()
		}
		wg.Wait()
		close(statuses)
		ok := 0
		for s := range statuses {
			switch s {
			case http.StatusOK:
				ok++
			case http.StatusUnauthorized:
			default:
				t.Errorf("unexpected status %d", s)
			}
		}
		if ok != 1 {
			t.Fatalf("%d of %d concurrent finishes succeeded, want exactly 1", ok, n)
		}
	})
	t.Run("a bad signature burns the challenge for the right one", func(t *testing.T) {
		h := newHarness(t)
		inv, signer := h.registerKey("alice", "P256")
		li := h.loginInit(inv.Org.ID, "alice")
		cd, sig := signer.Sign(li.Challenge)
		forged := b64(webauthntest.NewKeySigner("P256").SignBytes(mustDecode(t, cd)))
		mustStatus(t, h.do("POST", "/auth/login", keyAssertion(li.ChallengeIdentifier, signer.CredID, cd, forged)), http.StatusUnauthorized)
		mustStatus(t, h.do("POST", "/auth/login", keyAssertion(li.ChallengeIdentifier, signer.CredID, cd, sig)), http.StatusUnauthorized)
	})
	t.Run("a signature by another key under a known credId is refused", func(t *testing.T) {
		h := newHarness(t)
		inv, signer := h.registerKey("alice", "Ed25519")
		li := h.loginInit(inv.Org.ID, "alice")
		cd, sig := webauthntest.NewKeySigner("Ed25519").Sign(li.Challenge)
		mustStatus(t, h.do("POST", "/auth/login", keyAssertion(li.ChallengeIdentifier, signer.CredID, cd, sig)), http.StatusUnauthorized)
	})
	t.Run("a signature of another challenge is refused", func(t *testing.T) {
		h := newHarness(t)
		inv, signer := h.registerKey("alice", "P256")
		old := h.loginInit(inv.Org.ID, "alice")
		li := h.loginInit(inv.Org.ID, "alice")
		cd, sig := signer.Sign(old.Challenge)
		mustStatus(t, h.do("POST", "/auth/login", keyAssertion(li.ChallengeIdentifier, signer.CredID, cd, sig)), http.StatusUnauthorized)
	})
	t.Run("an expired challenge is refused", func(t *testing.T) {
		h := newHarness(t)
		inv, signer := h.registerKey("alice", "P256")
		li := h.loginInit(inv.Org.ID, "alice")
		h.advance(5*time.Minute + time.Second)
		cd, sig := signer.Sign(li.Challenge)
		mustStatus(t, h.do("POST", "/auth/login", keyAssertion(li.ChallengeIdentifier, signer.CredID, cd, sig)), http.StatusUnauthorized)
	})
	t.Run("user A's credential cannot log in as user B", func(t *testing.T) {
		h := newHarness(t)
		_, alice := h.registerKey("alice", "P256")
		bob, _ := h.registerKey("bob", "P256")
		li := h.loginInit(bob.Org.ID, "bob")
		cd, sig := alice.Sign(li.Challenge)
		mustStatus(t, h.do("POST", "/auth/login", keyAssertion(li.ChallengeIdentifier, alice.CredID, cd, sig)), http.StatusUnauthorized)
	})
	t.Run("a passkey assertion for a foreign origin is refused", func(t *testing.T) {
		h := newHarness(t)
		inv, auth := h.registerFido2("alice")
		li := h.loginInit(inv.Org.ID, "alice")
		id, cd, ad, sig, uh := auth.Get([]byte(li.Challenge), webauthntest.WithOrigin("http://localhost:9999"))
		mustStatus(t, h.do("POST", "/auth/login", fido2Assertion(li.ChallengeIdentifier, id, cd, ad, sig, uh)), http.StatusUnauthorized)
	})
	t.Run("a passkey assertion for a foreign rp id is refused", func(t *testing.T) {
		h := newHarness(t)
		inv, auth := h.registerFido2("alice")
		li := h.loginInit(inv.Org.ID, "alice")
		id, cd, ad, sig, uh := auth.Get([]byte(li.Challenge), webauthntest.WithRPID("evil.example"))
		mustStatus(t, h.do("POST", "/auth/login", fido2Assertion(li.ChallengeIdentifier, id, cd, ad, sig, uh)), http.StatusUnauthorized)
	})
	t.Run("a passkey assertion of type webauthn.create is refused", func(t *testing.T) {
		h := newHarness(t)
		inv, auth := h.registerFido2("alice")
		li := h.loginInit(inv.Org.ID, "alice")
		id, cd, ad, sig, uh := auth.Get([]byte(li.Challenge), webauthntest.WithType("webauthn.create"))
		mustStatus(t, h.do("POST", "/auth/login", fido2Assertion(li.ChallengeIdentifier, id, cd, ad, sig, uh)), http.StatusUnauthorized)
	})
	t.Run("a passkey assertion with a corrupt signature is refused", func(t *testing.T) {
		h := newHarness(t)
		inv, auth := h.registerFido2("alice")
		li := h.loginInit(inv.Org.ID, "alice")
		id, cd, ad, sig, uh := auth.Get([]byte(li.Challenge), webauthntest.WithCorruptSignature())
		mustStatus(t, h.do("POST", "/auth/login", fido2Assertion(li.ChallengeIdentifier, id, cd, ad, sig, uh)), http.StatusUnauthorized)
	})
	t.Run("a passkey assertion without user verification is refused", func(t *testing.T) {
		h := newHarness(t)
		inv, auth := h.registerFido2("alice")
		li := h.loginInit(inv.Org.ID, "alice")
		id, cd, ad, sig, uh := auth.Get([]byte(li.Challenge), webauthntest.WithFlags(webauthntest.FlagUP))
		mustStatus(t, h.do("POST", "/auth/login", fido2Assertion(li.ChallengeIdentifier, id, cd, ad, sig, uh)), http.StatusUnauthorized)
	})
	t.Run("a sign count that goes backwards is refused", func(t *testing.T) {
		h := newHarness(t)
		inv, auth := h.registerFido2("alice")
		auth.CounterStep = 1
		h.loginFido2(inv, auth) // counter 1
		h.loginFido2(inv, auth) // counter 2
		li := h.loginInit(inv.Org.ID, "alice")
		id, cd, ad, sig, uh := auth.Get([]byte(li.Challenge), webauthntest.WithCounter(2))
		r := h.do("POST", "/auth/login", fido2Assertion(li.ChallengeIdentifier, id, cd, ad, sig, uh))
		mustStatus(t, r, http.StatusUnauthorized)
	})
	t.Run("a synced passkey reporting counter 0 keeps logging in", func(t *testing.T) {
		h := newHarness(t)
		inv, auth := h.registerFido2("alice")
		auth.CounterStep = 0
		h.loginFido2(inv, auth)
		h.loginFido2(inv, auth)
	})
}

func TestDiscoverableLogin(t *testing.T) {
	t.Run("a passkey logs in without a username", func(t *testing.T) {
		h := newHarness(t)
		inv, auth := h.registerFido2("alice")
		li := h.loginInit(inv.Org.ID, "")
		if len(li.AllowCredentials.Webauthn) != 0 || len(li.AllowCredentials.Key) != 0 {
			t.Fatalf("usernameless challenge lists credentials: %+v", li.AllowCredentials)
		}
		id, cd, ad, sig, uh := auth.Get([]byte(li.Challenge))
		mustStatus(t, h.do("POST", "/auth/login", fido2Assertion(li.ChallengeIdentifier, id, cd, ad, sig, uh)), http.StatusOK)
	})
	t.Run("a user handle naming another user is refused", func(t *testing.T) {
		h := newHarness(t)
		inv, auth := h.registerFido2("alice")
		bob, _ := h.registerFido2("bob")
		li := h.loginInit(inv.Org.ID, "")
		id, cd, ad, sig, _ := auth.Get([]byte(li.Challenge), webauthntest.WithUserHandle([]byte(h.user(bob.User.ID).UserHandle)))
		mustStatus(t, h.do("POST", "/auth/login", fido2Assertion(li.ChallengeIdentifier, id, cd, ad, sig, []byte(h.user(bob.User.ID).UserHandle))), http.StatusUnauthorized)
	})
	t.Run("an assertion without user handle is refused", func(t *testing.T) {
		h := newHarness(t)
		inv, auth := h.registerFido2("alice")
		li := h.loginInit(inv.Org.ID, "")
		id, cd, ad, sig, _ := auth.Get([]byte(li.Challenge))
		mustStatus(t, h.do("POST", "/auth/login", fido2Assertion(li.ChallengeIdentifier, id, cd, ad, sig, nil)), http.StatusUnauthorized)
	})
	t.Run("a key credential cannot log in without a username", func(t *testing.T) {
		h := newHarness(t)
		inv, signer := h.registerKey("alice", "P256")
		li := h.loginInit(inv.Org.ID, "")
		cd, sig := signer.Sign(li.Challenge)
		mustStatus(t, h.do("POST", "/auth/login", keyAssertion(li.ChallengeIdentifier, signer.CredID, cd, sig)), http.StatusUnauthorized)
	})
}

func TestLoginDoesNotEnumerateAccounts(t *testing.T) {
	h := newHarness(t)
	inv, signer := h.registerKey("alice", "P256")
	unknown := h.loginInit(inv.Org.ID, "nobody")
	again := h.loginInit(inv.Org.ID, "nobody")
	t.Run("an unknown user gets a challenge with a stable decoy credential", func(t *testing.T) {
		first, second := allowedOf(unknown), allowedOf(again)
		if len(first) != 1 || len(second) != 1 || first[0] != second[0] {
			t.Fatalf("decoy = %+v then %+v", unknown.AllowCredentials, again.AllowCredentials)
		}
	})
	t.Run("failures read the same whatever the cause", func(t *testing.T) {
		cd, sig := signer.Sign(unknown.Challenge)
		unknownUser := h.do("POST", "/auth/login", keyAssertion(unknown.ChallengeIdentifier, signer.CredID, cd, sig))
		li := h.loginInit(inv.Org.ID, "alice")
		cd2, _ := signer.Sign(li.Challenge)
		badSig := h.do("POST", "/auth/login", keyAssertion(li.ChallengeIdentifier, signer.CredID, cd2, b64(make([]byte, 64))))
		unknownChallenge := h.do("POST", "/auth/login", keyAssertion("ch-nope", signer.CredID, cd2, b64(make([]byte, 64))))
		for _, r := range []response{unknownUser, badSig, unknownChallenge} {
			mustStatus(t, r, http.StatusUnauthorized)
			if got, want := stripID(t, r), stripID(t, badSig); got != want {
				t.Fatalf("error bodies differ:\n%s\n%s", got, want)
			}
		}
	})
}

func TestTokens(t *testing.T) {
	h := newHarness(t)
	inv, signer := h.registerKey("alice", "P256")
	tok := h.loginKey(inv, signer)
	creds := func(tok string) response {
		return h.do("GET", "/auth/credentials", nil, "Authorization", "Bearer "+tok)
	}
	t.Run("the login token carries the orgId claim the SDK reads", func(t *testing.T) {
		parts := strings.Split(tok, ".")
		payload := mustDecode(t, parts[1])
		var claims map[string]any
		if err := json.Unmarshal(payload, &claims); err != nil {
			t.Fatal(err)
		}
		meta, _ := claims["https://custom/app_metadata"].(map[string]any)
		if meta["orgId"] != inv.Org.ID || meta["userId"] != inv.User.ID || meta["tokenKind"] != "Token" {
			t.Fatalf("claims = %v", claims)
		}
	})
	t.Run("a token with alg none is refused", func(t *testing.T) {
		parts := strings.Split(tok, ".")
		none := b64([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + parts[1] + "."
		mustStatus(t, creds(none), http.StatusUnauthorized)
	})
	t.Run("a token with a changed payload is refused", func(t *testing.T) {
		parts := strings.Split(tok, ".")
		payload := strings.Replace(string(mustDecode(t, parts[1])), inv.User.ID, "us-other", 1)
		mustStatus(t, creds(parts[0]+"."+b64([]byte(payload))+"."+parts[2]), http.StatusUnauthorized)
	})
	t.Run("a temporary registration token is not a login token", func(t *testing.T) {
		bob := h.invite("bob")
		ri := h.registrationInit(bob)
		mustStatus(t, creds(ri.Temp), http.StatusUnauthorized)
	})
	t.Run("a missing or malformed Authorization header is refused", func(t *testing.T) {
		mustStatus(t, h.do("GET", "/auth/credentials", nil), http.StatusUnauthorized)
		mustStatus(t, h.do("GET", "/auth/credentials", nil, "Authorization", "Basic "+tok), http.StatusUnauthorized)
		mustStatus(t, creds("garbage"), http.StatusUnauthorized)
	})
	t.Run("a logged-out token is refused", func(t *testing.T) {
		other := h.loginKey(inv, signer)
		mustStatus(t, creds(other), http.StatusOK)
		mustStatus(t, h.do("PUT", "/auth/logout", nil, "Authorization", "Bearer "+other), http.StatusOK)
		mustStatus(t, creds(other), http.StatusUnauthorized)
		mustStatus(t, creds(tok), http.StatusOK) // other sessions live on
	})
	t.Run("an expired token is refused", func(t *testing.T) {
		h.advance(time.Hour + time.Second)
		mustStatus(t, creds(tok), http.StatusUnauthorized)
	})
}

func TestLoginTokenVerifiesWithPublishedJWKS(t *testing.T) {
	h := newHarness(t)
	inv, signer := h.registerKey("alice", "P256")
	tok := h.loginKey(inv, signer)
	r := h.do("GET", "/.well-known/jwks.json", nil)
	mustStatus(t, r, http.StatusOK)
	if err := verifyWithJWKS(tok, r.Body); err != nil {
		t.Fatalf("token does not verify with the published JWKS: %v", err)
	}
}

func mustDecode(t testing.TB, s string) []byte {
	t.Helper()
	b, err := webauthn.DecodeBase64URL(s)
	if err != nil {
		t.Fatalf("decode %q: %v", s, err)
	}
	return b
}

// stripID returns an error body without its per-request id.
func stripID(t testing.TB, r response) string {
	t.Helper()
	m := r.json(t)
	delete(m["error"].(map[string]any), "id")
	out, _ := json.Marshal(m)
	return string(out)
}

// allowedOf lists the credential ids a login challenge offers, keys first.
func allowedOf(li loginInit) []string {
	var ids []string
	for _, c := range append(li.AllowCredentials.Key, li.AllowCredentials.Webauthn...) {
		ids = append(ids, c.ID)
	}
	return ids
}
