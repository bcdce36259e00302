package webauthn

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"math/big"
	"testing"

	"github.com/go-webauthn/webauthn/protocol/webauthncbor"
	"github.com/go-webauthn/webauthn/protocol/webauthncose"

	"countersign/webauthn/webauthntest"
)

// smallOrderEd25519 are the encodings of Ed25519 points of order 1, 2, 4
// and 8 (the identity among them), and non-canonical encodings of small
// points: with any of them as the public key one constant signature
// verifies for every message.
var smallOrderEd25519 = []string{
	"0100000000000000000000000000000000000000000000000000000000000000", // identity
	"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", // order 2
	"0000000000000000000000000000000000000000000000000000000000000000", // order 4
	"0000000000000000000000000000000000000000000000000000000000000080", // order 4, -0
	"26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05", // order 8
	"26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85", // order 8
	"c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a", // order 8
	"c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa", // order 8
	"eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", // y = p+1: the identity, not canonical
	"edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", // y = p: not canonical
}

func spkiPEM(t testing.TB, pub crypto.PublicKey) string {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

// fakeRSA is an RSA public key of bits bits and exponent e: the policy
// looks at the sizes only, so no key is generated.
func fakeRSA(bits, e int) *rsa.PublicKey {
	n := new(big.Int).Lsh(big.NewInt(1), uint(bits-1))
	return &rsa.PublicKey{N: n.Add(n, big.NewInt(1)), E: e}
}

func TestKeyPolicy(t *testing.T) {
	p224, _ := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	p521, _ := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	refused := map[string]string{
		"P-224":            spkiPEM(t, &p224.PublicKey),
		"P-521":            spkiPEM(t, &p521.PublicKey),
		"RSA-1024":         spkiPEM(t, fakeRSA(1024, 65537)),
		"RSA-2047":         spkiPEM(t, fakeRSA(2047, 65537)),
		"RSA-8192":         spkiPEM(t, fakeRSA(8192, 65537)),
		"RSA with e=1":     spkiPEM(t, fakeRSA(2048, 1)),
		"RSA with e=3":     spkiPEM(t, fakeRSA(2048, 3)),
		"PKCS#1 RSA e=1":   string(pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(fakeRSA(2048, 1))})),
		"PKCS#1 RSA-1024":  string(pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(fakeRSA(1024, 65537))})),
		"Ed25519 too long": spkiPEM(t, ed25519.PublicKey(make([]byte, 33))),
	}
	for i, h := range smallOrderEd25519 {
		b, _ := hex.DecodeString(h)
		refused["small or non-canonical Ed25519 #"+string(rune('0'+i))] = spkiPEM(t, ed25519.PublicKey(b))
	}
	for name, p := range refused {
		if _, err := ParsePublicKeyPEM(p); !errors.Is(err, ErrPublicKey) {
			t.Errorf("%s: ParsePublicKeyPEM = %v, want ErrPublicKey", name, err)
		}
	}
	for _, kind := range []string{"P256", "P384", "secp256k1", "Ed25519", "RSA", "RSA-PKCS1"} {
		if _, err := ParsePublicKeyPEM(webauthntest.NewKeySigner(kind).PublicKeyPEM()); err != nil {
			t.Errorf("%s: refused: %v", kind, err)
		}
	}
	for _, bits := range []int{2048, 3072, 4096} {
		if _, err := ParsePublicKeyPEM(spkiPEM(t, fakeRSA(bits, 65537))); err != nil {
			t.Errorf("RSA-%d: refused: %v", bits, err)
		}
	}
}

// The attack the policy stops: with the identity point as public key, the
// constant signature R = identity, S = 0 verifies for any message, so
// whoever knows a username whose key it is signs in.
func TestSmallOrderKeyForgesEverySignature(t *testing.T) {
	identity, _ := hex.DecodeString(smallOrderEd25519[0])
	forged := append(append([]byte{}, identity...), make([]byte, 32)...)
	for _, msg := range []string{"any", "message", `{"type":"key.get","challenge":"x"}`} {
		if !ed25519.Verify(ed25519.PublicKey(identity), []byte(msg), forged) {
			t.Fatal("the forgery does not verify: the test no longer shows the attack")
		}
	}
	clientData := []byte(`{"type":"key.get","challenge":"the-challenge"}`)
	err := VerifyKeyAssertion(spkiPEM(t, ed25519.PublicKey(identity)), "the-challenge", clientData, forged, "")
	if !errors.Is(err, ErrPublicKey) {
		t.Fatalf("VerifyKeyAssertion with a small-order key = %v, want ErrPublicKey", err)
	}
}

func coseKey(t testing.TB, v any) []byte {
	t.Helper()
	b, err := webauthncbor.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestCOSEKeyPolicy(t *testing.T) {
	ec := func(curve elliptic.Curve, crv webauthncose.COSEEllipticCurve, alg webauthncose.COSEAlgorithmIdentifier) []byte {
		k, _ := ecdsa.GenerateKey(curve, rand.Reader)
		size := (curve.Params().BitSize + 7) / 8
		return coseKey(t, webauthncose.EC2PublicKeyData{
			PublicKeyData: webauthncose.PublicKeyData{KeyType: int64(webauthncose.EllipticKey), Algorithm: int64(alg)},
			Curve:         int64(crv), XCoord: k.X.FillBytes(make([]byte, size)), YCoord: k.Y.FillBytes(make([]byte, size)),
		})
	}
	okp := func(x []byte) []byte {
		return coseKey(t, webauthncose.OKPPublicKeyData{
			PublicKeyData: webauthncose.PublicKeyData{KeyType: int64(webauthncose.OctetKey), Algorithm: int64(webauthncose.AlgEdDSA)},
			Curve:         int64(webauthncose.Ed25519), XCoord: x,
		})
	}
	rsaKey := func(k *rsa.PublicKey) []byte {
		return coseKey(t, webauthncose.RSAPublicKeyData{
			PublicKeyData: webauthncose.PublicKeyData{KeyType: int64(webauthncose.RSAKey), Algorithm: int64(webauthncose.AlgRS256)},
			Modulus:       k.N.Bytes(), Exponent: big.NewInt(int64(k.E)).Bytes(),
		})
	}
	goodEd, _, _ := ed25519.GenerateKey(rand.Reader)
	small, _ := hex.DecodeString(smallOrderEd25519[4])
	for name, tc := range map[string]struct {
		key  []byte
		want bool
	}{
		"ES256 on P-256":         {ec(elliptic.P256(), webauthncose.P256, webauthncose.AlgES256), true},
		"ES384 on P-384":         {ec(elliptic.P384(), webauthncose.P384, webauthncose.AlgES384), true},
		"ES512 on P-521":         {ec(elliptic.P521(), webauthncose.P521, webauthncose.AlgES512), false},
		"EdDSA on Ed25519":       {okp(goodEd), true},
		"EdDSA small order":      {okp(small), false},
		"RS256 with 2048 bits":   {rsaKey(fakeRSA(2048, 65537)), true},
		"RS256 with 1024 bits":   {rsaKey(fakeRSA(1024, 65537)), false},
		"RS256 with exponent 1":  {rsaKey(fakeRSA(2048, 1)), false},
		"not a COSE key at all":  {[]byte{0x01, 0x02}, false},
		"a software passkey key": {softwarePasskeyKey(), true},
	} {
		err := CheckCOSEKey(tc.key)
		if got := err == nil; got != tc.want {
			t.Errorf("%s: CheckCOSEKey = %v, want accepted %v", name, err, tc.want)
		}
	}
}

// softwarePasskeyKey is the COSE key of a passkey made by the software
// authenticator the handler tests register with.
func softwarePasskeyKey() []byte {
	a := webauthntest.NewAuthenticator("localhost", "http://localhost")
	id, _, _ := a.Create([]byte("challenge"), []byte("user"))
	return a.CredentialPublicKey(id)
}
