package server

import (
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net/http"
	"testing"

	"countersign/store"
)

// identityKey is the Ed25519 identity point, a small-order key, and forged
// the constant signature (R = identity, S = 0) that verifies with it for
// every message.
var (
	identityKey = ed25519.PublicKey(append([]byte{1}, make([]byte, 31)...))
	forged      = append(append([]byte{1}, make([]byte, 31)...), make([]byte, 32)...)
)

func pemOf(t testing.TB, pub any) string {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

func weakRSA(bits, e int) *rsa.PublicKey {
	n := new(big.Int).Lsh(big.NewInt(1), uint(bits-1))
	return &rsa.PublicKey{N: n.Add(n, big.NewInt(1)), E: e}
}

func TestWeakKeysAreRefused(t *testing.T) {
	h := newHarness(t)
	owner := h.newActionUser("owner")
	weak := map[string]string{
		"small-order Ed25519": pemOf(t, identityKey),
		"RSA-1024":            pemOf(t, weakRSA(1024, 65537)),
		"RSA with e=1":        pemOf(t, weakRSA(2048, 1)),
	}
	for name, key := range weak {
		t.Run("a PAT bound to a "+name+" key is refused", func(t *testing.T) {
			r := h.signedJSON(t, owner.tok, owner.first, "POST", "/auth/pats", map[string]any{"name": "weak", "publicKey": key})
			mustStatus(t, r, http.StatusBadRequest)
		})
		t.Run("a service account bound to a "+name+" key is refused", func(t *testing.T) {
			r := h.signedJSON(t, owner.tok, owner.first, "POST", "/auth/service-accounts", map[string]any{"name": "weak", "publicKey": key})
			mustStatus(t, r, http.StatusBadRequest)
		})
	}
	ts, err := h.st.ListAccessTokens(t.Context(), store.AccessTokenQuery{OrgID: owner.inv.Org.ID})
	if err != nil || len(ts) != 0 {
		t.Fatalf("tokens after the refusals: %v, %v", ts, err)
	}

	t.Run("registering a Key credential with a small-order key and the forged signature is refused", func(t *testing.T) {
		inv := h.invite("mallory")
		ri := h.registrationInit(inv)
		clientData, _ := json.Marshal(map[string]string{"type": "key.create", "challenge": ri.Challenge})
		att, _ := json.Marshal(map[string]string{"publicKey": pemOf(t, identityKey), "signature": hex.EncodeToString(forged)})
		r := h.register(ri.Temp, map[string]any{"credentialKind": "Key", "credentialInfo": map[string]string{
			"credId": "mallory-key", "clientData": b64(clientData), "attestationData": b64(att),
		}})
		mustStatus(t, r, http.StatusUnauthorized)
		if u := h.user(inv.User.ID); u.IsRegistered || len(h.credentials(inv.User.ID)) != 0 {
			t.Fatalf("the weak key was registered: %+v", u)
		}
	})
	t.Run("a weak key stored before the policy signs nobody in", func(t *testing.T) {
		inv, _ := h.registerKey("victim", "P256")
		cred := store.Credential{
			ID: store.NewID("cr"), OrgID: inv.Org.ID, UserID: inv.User.ID, Kind: store.CredentialKey,
			CredID: "legacy-weak-key", Name: "legacy", PublicKey: []byte(pemOf(t, identityKey)), IsActive: true, CreatedAt: h.clock(),
		}
		if err := h.st.CreateCredential(t.Context(), cred); err != nil {
			t.Fatal(err)
		}
		li := h.loginInit(inv.Org.ID, "victim")
		clientData, _ := json.Marshal(map[string]string{"type": "key.get", "challenge": li.Challenge})
		r := h.do("POST", "/auth/login", keyAssertion(li.ChallengeIdentifier, cred.CredID, b64(clientData), base64.RawURLEncoding.EncodeToString(forged)))
		mustStatus(t, r, http.StatusUnauthorized)
	})
}
