package webauthn

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"sync"

	"countersign/store"
)

// decoyKey and decoySig are a P-256 key and a signature by it that
// spendVerification checks: the work of verifying a real ES256 assertion.
var decoyKey = sync.OnceValues(func() (*ecdsa.PublicKey, []byte) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic("crypto/rand: " + err.Error())
	}
	d := sha256.Sum256([]byte("countersign decoy"))
	sig, err := ecdsa.SignASN1(rand.Reader, k, d[:])
	if err != nil {
		panic("sign decoy: " + err.Error())
	}
	return &k.PublicKey, sig
})

// spendVerification performs the signature verifications a refused
// assertion a by a real credential costs, with results that do not matter:
// failures that would otherwise return before verifying anything take as
// long as a signature that does not verify. A Key assertion without an
// algorithm is tried with three digests before it fails, a Fido2 one once.
func spendVerification(a Assertion) {
	n := 1
	if a.Kind == store.CredentialKey {
		if hashes, err := digestFor(a.Algorithm); err == nil {
			n = len(hashes)
		}
	}
	pub, sig := decoyKey()
	d := sha256.Sum256([]byte("countersign decoy"))
	for range n {
		ecdsa.VerifyASN1(pub, d[:], sig)
	}
}
