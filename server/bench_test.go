package server

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"countersign/gateway"
	"countersign/store"
	"countersign/webauthn/webauthntest"
)

// BenchmarkLoginKey is one whole Key-credential login through the router:
// init, the client's signature, finish, token issued.
func BenchmarkLoginKey(b *testing.B) {
	h := newHarness(b)
	inv, signer := h.registerKey("alice", "P256")
	b.ResetTimer()
	for b.Loop() {
		li := h.loginInit(inv.Org.ID, "alice")
		cd, sig := signer.Sign(li.Challenge)
		r := h.do("POST", "/auth/login", keyAssertion(li.ChallengeIdentifier, signer.CredID, cd, sig))
		if r.Status != http.StatusOK {
			b.Fatalf("status %d: %s", r.Status, r.Body)
		}
	}
}

// BenchmarkLoginFido2 is one whole passkey login through the router.
func BenchmarkLoginFido2(b *testing.B) {
	h := newHarness(b)
	inv, auth := h.registerFido2("alice")
	b.ResetTimer()
	for b.Loop() {
		li := h.loginInit(inv.Org.ID, "alice")
		id, cd, ad, sig, uh := auth.Get([]byte(li.Challenge))
		r := h.do("POST", "/auth/login", fido2Assertion(li.ChallengeIdentifier, id, cd, ad, sig, uh))
		if r.Status != http.StatusOK {
			b.Fatalf("status %d: %s", r.Status, r.Body)
		}
	}
}

// BenchmarkLoginRefusedUnknownUser and BenchmarkLoginRefusedBadSignature
// are the two refusals an attacker probing usernames can time: an assertion
// for a decoy credential, and one with a bad signature for a real one.
// Run side by side; their ratio should be near 1.
func BenchmarkLoginRefusedUnknownUser(b *testing.B) {
	h := newHarness(b)
	inv, signer := h.registerKey("alice", "P256")
	b.ResetTimer()
	for b.Loop() {
		li := h.loginInit(inv.Org.ID, "nobody")
		cd, sig := signer.Sign(li.Challenge)
		id := li.AllowCredentials.Webauthn
		credID := signer.CredID
		if len(id) > 0 {
			credID = id[0].ID
		} else if len(li.AllowCredentials.Key) > 0 {
			credID = li.AllowCredentials.Key[0].ID
		}
		if r := h.do("POST", "/auth/login", keyAssertion(li.ChallengeIdentifier, credID, cd, sig)); r.Status != http.StatusUnauthorized {
			b.Fatalf("status %d: %s", r.Status, r.Body)
		}
	}
}

func BenchmarkLoginRefusedBadSignature(b *testing.B) {
	h := newHarness(b)
	inv, signer := h.registerKey("alice", "P256")
	other := webauthntest.NewKeySigner("P256")
	b.ResetTimer()
	for b.Loop() {
		li := h.loginInit(inv.Org.ID, "alice")
		cd, sig := other.Sign(li.Challenge)
		if r := h.do("POST", "/auth/login", keyAssertion(li.ChallengeIdentifier, signer.CredID, cd, sig)); r.Status != http.StatusUnauthorized {
			b.Fatalf("status %d: %s", r.Status, r.Body)
		}
	}
}

// BenchmarkECDSAP256Verify is the raw crypto a login cannot avoid, for the
// ratio: one P-256 signature verification.
func BenchmarkECDSAP256Verify(b *testing.B) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	digest := sha256.Sum256([]byte(`{"type":"key.get","challenge":"abc"}`))
	sig, err := ecdsa.SignASN1(rand.Reader, key, digest[:])
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		if !ecdsa.VerifyASN1(&key.PublicKey, digest[:], sig) {
			b.Fatal("verify failed")
		}
	}
}

// BenchmarkECDSAP256Sign is the other unavoidable operation of a login: the
// server signs one ES256 token (and the client signs the challenge).
func BenchmarkECDSAP256Sign(b *testing.B) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	digest := sha256.Sum256([]byte("token"))
	b.ResetTimer()
	for b.Loop() {
		if _, err := ecdsa.SignASN1(rand.Reader, key, digest[:]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDurableCommit is the smallest write the store can make durable:
// one spent challenge, one transaction of the SQLite writer, one fsync of
// its WAL, on the same disk as the other benchmarks' databases. A signed
// action commits twice and a login once; with the ECDSA benchmarks of the
// same run it is their floor on this machine's disk.
func BenchmarkDurableCommit(b *testing.B) {
	h := newHarness(b)
	ctx := b.Context()
	expires := time.Now().Add(time.Hour)
	b.ResetTimer()
	for b.Loop() {
		if err := h.st.SpendChallenge(ctx, store.SpentChallenge{ID: store.NewID("ch"), ExpiresAt: expires}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSignedActionKey is one full signed action with a Key credential
// through the router: /auth/action/init, the client's signature,
// /auth/action, and the guarded request it authorises (a rename), with its
// two commits (fsyncs). The crypto it cannot avoid is one client ECDSA sign
// and one assertion verify (the bearer token's signature is verified once
// per process): compare with BenchmarkECDSAP256Verify +
// BenchmarkECDSAP256Sign from the same run. Before the verified-token
// cache it also verified the bearer token on each of its three requests.
func BenchmarkSignedActionKey(b *testing.B) {
	h := newHarness(b)
	inv, signer := h.registerKey("alice", "P256")
	tok := h.loginKey(inv, signer)
	uuid := h.credentials(inv.User.ID)[0].ID
	body := `{"credentialUuid":"` + uuid + `","name":"bench"}`
	b.ResetTimer()
	for b.Loop() {
		ua := h.signAction(tok, signer, "PUT", "/auth/credentials/name", body)
		if r := h.signedDo(tok, ua, "PUT", "/auth/credentials/name", body); r.Status != http.StatusOK {
			b.Fatalf("status %d: %s", r.Status, r.Body)
		}
	}
}

// BenchmarkGatewaySignedOrder is one signed request through the gateway:
// /auth/action/init, the client's signature, /auth/action, and the POST
// forwarded over loopback to an upstream that verifies the assertion with
// guard. Compare with BenchmarkUpstreamDirect (the same POST straight to
// the same upstream, unguarded) and BenchmarkSignedActionKey (a signed
// request to countersign's own API) from the same run.
func BenchmarkGatewaySignedOrder(b *testing.B) {
	h, up := gatewayHarness(b, func(u *gateway.Upstream) { u.RateLimit = new(float64) }) // no limit: the benchmark is the load
	owner := h.newActionUser("owner")
	b.ResetTimer()
	for b.Loop() {
		ua := h.signAction(owner.tok, owner.first, "POST", "/api/orders", orderBody)
		if r := h.signedDo(owner.tok, ua, "POST", "/api/orders", orderBody); r.Status != http.StatusCreated {
			b.Fatalf("status %d: %s", r.Status, r.Body)
		}
	}
	b.StopTimer()
	if n := len(up.requests()); n != b.N {
		b.Fatalf("the upstream got %d of %d requests", n, b.N)
	}
}

// BenchmarkUpstreamDirect is the same POST sent straight to an upstream
// that only reads it: what the gateway adds is the difference.
func BenchmarkUpstreamDirect(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, `{"ok":true}`)
	}))
	defer srv.Close()
	client := srv.Client()
	b.ResetTimer()
	for b.Loop() {
		res, err := client.Post(srv.URL+"/api/orders", "application/json", strings.NewReader(orderBody))
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusCreated {
			b.Fatalf("status %d", res.StatusCode)
		}
	}
}
