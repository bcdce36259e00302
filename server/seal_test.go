package server

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"countersign/token"
	"countersign/webauthn"
	"countersign/webauthn/webauthntest"
)

// actionInit asks for an action challenge and returns it.
func (h *harness) actionInit(tok, method, path, payload string) loginInit {
	h.t.Helper()
	r := h.do("POST", "/auth/action/init", map[string]string{
		"userActionPayload": payload, "userActionHttpMethod": method, "userActionHttpPath": path,
	}, "Authorization", "Bearer "+tok)
	h.mustStatus(r, http.StatusOK)
	var ch loginInit
	if err := json.Unmarshal(r.Body, &ch); err != nil {
		h.t.Fatal(err)
	}
	return ch
}

// tamper flips one bit of a sealed identifier's ciphertext.
func tamper(t *testing.T, id string) string {
	t.Helper()
	raw, ok := strings.CutPrefix(id, "cs1.")
	if !ok {
		t.Fatalf("challenge identifier %q is not sealed", id)
	}
	b, err := base64.RawURLEncoding.DecodeString(raw)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0x01
	return "cs1." + base64.RawURLEncoding.EncodeToString(b)
}

// replica is a second server on h's store, as another process on the same
// database would be, with seal key key.
func (h *harness) replica(t *testing.T, key []byte) *Server {
	t.Helper()
	return h.serverOn(t, h.timed, key)
}

// serverStore is every store interface a server is built on.
type serverStore interface {
	Store
	webauthn.Store
	token.Store
}

// serverOn builds a server, its ceremonies and its issuer on st with h's
// clock and logger, and seal key key.
func (h *harness) serverOn(t *testing.T, st serverStore, key []byte) *Server {
	t.Helper()
	cs, err := webauthn.New(st, webauthn.Options{
		RPID: testRPID, RPName: "countersign test", Origins: []string{testOrigin},
		DecoyKey: []byte("test decoy key"), SealKey: key, Now: h.clock, Logger: h.log,
	})
	if err != nil {
		t.Fatal(err)
	}
	tokens, err := token.New(context.Background(), st, token.Options{Issuer: testOrigin, LoginTTL: time.Hour, TempTTL: 5 * time.Minute, Now: h.clock})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := New(context.Background(), st, cs, tokens, Options{Origins: []string{testOrigin}, Now: h.clock, Logger: h.log})
	if err != nil {
		t.Fatal(err)
	}
	return srv
}

func TestSealedChallenges(t *testing.T) {
	t.Run("a tampered login challenge identifier is refused", func(t *testing.T) {
		h := newHarness(t)
		inv, signer := h.registerKey("alice", "P256")
		li := h.loginInit(inv.Org.ID, "alice")
		cd, sig := signer.Sign(li.Challenge)
		mustStatus(t, h.do("POST", "/auth/login", keyAssertion(tamper(t, li.ChallengeIdentifier), signer.CredID, cd, sig)), http.StatusUnauthorized)
		// The untampered one still works: a forgery cannot burn it.
		mustStatus(t, h.do("POST", "/auth/login", keyAssertion(li.ChallengeIdentifier, signer.CredID, cd, sig)), http.StatusOK)
	})
	t.Run("an identifier that only looks sealed is refused", func(t *testing.T) {
		h := newHarness(t)
		inv, signer := h.registerKey("alice", "P256")
		li := h.loginInit(inv.Org.ID, "alice")
		cd, sig := signer.Sign(li.Challenge)
		for _, id := range []string{"cs1.", "cs1.!!!", "cs1." + strings.Repeat("A", 300), "ch-" + li.ChallengeIdentifier, strings.Repeat("x", 300<<10)} {
			mustStatus(t, h.do("POST", "/auth/login", keyAssertion(id, signer.CredID, cd, sig)), http.StatusUnauthorized)
		}
	})
	t.Run("a challenge sealed by another deployment's key is refused", func(t *testing.T) {
		h := newHarness(t)
		inv, signer := h.registerKey("alice", "P256")
		other := h.replica(t, []byte("another deployment's seal key!!!"))
		r := httpDo(t, other, "POST", "/auth/login/init", map[string]string{"orgId": inv.Org.ID, "username": "alice"})
		mustStatus(t, r, http.StatusOK)
		var li loginInit
		if err := json.Unmarshal(r.Body, &li); err != nil {
			t.Fatal(err)
		}
		cd, sig := signer.Sign(li.Challenge)
		mustStatus(t, h.do("POST", "/auth/login", keyAssertion(li.ChallengeIdentifier, signer.CredID, cd, sig)), http.StatusUnauthorized)
	})
	t.Run("a login begun on one replica finishes on another, once", func(t *testing.T) {
		h := newHarness(t)
		inv, signer := h.registerKey("alice", "P256")
		other := h.replica(t, testSealKey)
		li := h.loginInit(inv.Org.ID, "alice")
		cd, sig := signer.Sign(li.Challenge)
		body := keyAssertion(li.ChallengeIdentifier, signer.CredID, cd, sig)
		mustStatus(t, httpDo(t, other, "POST", "/auth/login", body), http.StatusOK)
		mustStatus(t, h.do("POST", "/auth/login", body), http.StatusUnauthorized)
	})
	t.Run("a bad signature burns an action challenge for the right one", func(t *testing.T) {
		h := newHarness(t)
		u := h.newActionUser("alice")
		body := `{"credentialUuid":"` + u.secondUUID + `","name":"x"}`
		ch := h.actionInit(u.tok, "PUT", "/auth/credentials/name", body)
		cd, sig := u.first.Sign(ch.Challenge)
		forged := b64(webauthntest.NewKeySigner("P256").SignBytes(mustDecode(t, cd)))
		mustStatus(t, h.do("POST", "/auth/action", keyAssertion(ch.ChallengeIdentifier, u.first.CredID, cd, forged), "Authorization", "Bearer "+u.tok), http.StatusUnauthorized)
		mustStatus(t, h.do("POST", "/auth/action", keyAssertion(ch.ChallengeIdentifier, u.first.CredID, cd, sig), "Authorization", "Bearer "+u.tok), http.StatusUnauthorized)
	})
	t.Run("a replayed action assertion is refused and issues one action", func(t *testing.T) {
		h := newHarness(t)
		u := h.newActionUser("alice")
		body := `{"credentialUuid":"` + u.secondUUID + `","name":"x"}`
		ch := h.actionInit(u.tok, "PUT", "/auth/credentials/name", body)
		cd, sig := u.first.Sign(ch.Challenge)
		a := keyAssertion(ch.ChallengeIdentifier, u.first.CredID, cd, sig)
		mustStatus(t, h.do("POST", "/auth/action", a, "Authorization", "Bearer "+u.tok), http.StatusOK)
		mustStatus(t, h.do("POST", "/auth/action", a, "Authorization", "Bearer "+u.tok), http.StatusUnauthorized)
	})
	t.Run("an expired action challenge is refused", func(t *testing.T) {
		h := newHarness(t)
		u := h.newActionUser("alice")
		body := `{"credentialUuid":"` + u.secondUUID + `","name":"x"}`
		ch := h.actionInit(u.tok, "PUT", "/auth/credentials/name", body)
		h.advance(5*time.Minute + time.Second)
		cd, sig := u.first.Sign(ch.Challenge)
		mustStatus(t, h.do("POST", "/auth/action", keyAssertion(ch.ChallengeIdentifier, u.first.CredID, cd, sig), "Authorization", "Bearer "+u.tok), http.StatusUnauthorized)
	})
	t.Run("the request an action was begun for is the one the action authorises", func(t *testing.T) {
		// The request travels sealed: the action issued carries it, and a
		// request for another body is refused.
		h := newHarness(t)
		u := h.newActionUser("alice")
		body := `{"credentialUuid":"` + u.secondUUID + `","name":"sealed"}`
		ua := h.signAction(u.tok, u.first, "PUT", "/auth/credentials/name", body)
		other := `{"credentialUuid":"` + u.secondUUID + `","name":"other"}`
		mustStatus(t, h.signedDo(u.tok, ua, "PUT", "/auth/credentials/name", other), http.StatusForbidden)
		mustStatus(t, h.signedDo(u.tok, ua, "PUT", "/auth/credentials/name", body), http.StatusOK)
	})
}

// httpDo sends one JSON request to srv.
func httpDo(t *testing.T, srv *Server, method, path string, body any) response {
	h := &harness{t: t, srv: srv}
	return h.do(method, path, body)
}
