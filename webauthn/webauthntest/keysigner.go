package webauthntest

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"
	secpecdsa "github.com/decred/dcrd/dcrec/secp256k1/v4/ecdsa"
)

// KeySignerKinds lists the kinds NewKeySigner accepts, for table tests.
var KeySignerKinds = []string{"P256", "P384", "secp256k1", "Ed25519", "RSA", "RSA-PKCS1"}

// KeySigner is a Key credential (spec §2.3, §2.4) with a fresh private key. It
// produces exactly the wire values of the TypeScript signers: Attest follows
// BrowserKeySigner.create, Sign follows AsymmetricKeySigner.sign.
type KeySigner struct {
	// Kind is one of KeySignerKinds.
	Kind string
	// CredID is client-chosen: base64url of 32 random bytes, like the browser signer.
	CredID string
	// Hash is the digest for EC and RSA signatures; zero means SHA-256, Node's
	// default. The TS keysigner's `algorithm` option changes it without saying so.
	Hash crypto.Hash
	// Origin, when set, makes Sign add origin and crossOrigin:false to clientData,
	// as newer keysigner releases and the docs do.
	Origin string

	signer crypto.Signer         // NIST EC, Ed25519, RSA
	k1     *secp256k1.PrivateKey // secp256k1
}

// NewKeySigner generates a key of the given kind: "P256", "P384", "secp256k1",
// "Ed25519", "RSA" (2048 bits, SPKI PEM) or "RSA-PKCS1" (PEM as
// `BEGIN RSA PUBLIC KEY`). It panics on any other kind.
func NewKeySigner(kind string) *KeySigner {
	s := &KeySigner{Kind: kind, CredID: base64.RawURLEncoding.EncodeToString(randomBytes(32))}
	var err error
	switch kind {
	case "P256":
		s.signer, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "P384":
		s.signer, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case "secp256k1":
		s.k1, err = secp256k1.GeneratePrivateKey()
	case "Ed25519":
		_, s.signer, err = ed25519.GenerateKey(rand.Reader)
	case "RSA", "RSA-PKCS1":
		s.signer, err = rsa.GenerateKey(rand.Reader, 2048)
	default:
		panic(fmt.Sprintf("webauthntest: unknown key kind %q, want one of %v", kind, KeySignerKinds))
	}
	if err != nil {
		panic(fmt.Sprintf("webauthntest: generate %s key: %v", kind, err))
	}
	return s
}

// PublicKey returns the public key as ParsePublicKeyPEM would return it
// (*secp256k1.PublicKey for secp256k1).
func (s *KeySigner) PublicKey() crypto.PublicKey {
	if s.k1 != nil {
		return s.k1.PubKey()
	}
	return s.signer.Public()
}

// PublicKeyPEM returns the public key as the browser signer exports it: 64-char
// base64 lines and no trailing newline (Node's export would end with one).
func (s *KeySigner) PublicKeyPEM() string {
	typ, der := "PUBLIC KEY", []byte(nil)
	var err error
	switch {
	case s.k1 != nil:
		der, err = secp256k1SPKI(s.k1.PubKey())
	case s.Kind == "RSA-PKCS1":
		typ, der = "RSA PUBLIC KEY", x509.MarshalPKCS1PublicKey(s.signer.Public().(*rsa.PublicKey))
	default:
		der, err = x509.MarshalPKIXPublicKey(s.signer.Public())
	}
	if err != nil {
		panic(fmt.Sprintf("webauthntest: marshal %s public key: %v", s.Kind, err))
	}
	b64 := base64.StdEncoding.EncodeToString(der)
	var lines []string
	for len(b64) > 64 {
		lines, b64 = append(lines, b64[:64]), b64[64:]
	}
	lines = append(lines, b64)
	return "-----BEGIN " + typ + "-----\n" + strings.Join(lines, "\n") + "\n-----END " + typ + "-----"
}

// secp256k1SPKI builds the SubjectPublicKeyInfo crypto/x509 refuses to marshal.
func secp256k1SPKI(pub *secp256k1.PublicKey) ([]byte, error) {
	curve, err := asn1.Marshal(asn1.ObjectIdentifier{1, 3, 132, 0, 10})
	if err != nil {
		return nil, err
	}
	point := pub.SerializeUncompressed()
	return asn1.Marshal(struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}{
		Algorithm: pkix.AlgorithmIdentifier{
			Algorithm:  asn1.ObjectIdentifier{1, 2, 840, 10045, 2, 1},
			Parameters: asn1.RawValue{FullBytes: curve},
		},
		PublicKey: asn1.BitString{Bytes: point, BitLength: 8 * len(point)},
	})
}

// Attest registers the key as BrowserKeySigner.create does (spec §2.4) and
// returns credentialInfo.clientData and credentialInfo.attestationData as sent
// on the wire (base64url). The fingerprint signature is hex.
func (s *KeySigner) Attest(challenge string) (clientData, attestationData string) {
	cd := mustJSON(struct {
		Type      string `json:"type"`
		Challenge string `json:"challenge"`
	}{"key.create", challenge})
	pemKey := s.PublicKeyPEM()
	att := mustJSON(struct {
		PublicKey string `json:"publicKey"`
		Signature string `json:"signature"`
	}{pemKey, hex.EncodeToString(s.SignBytes(Fingerprint(cd, pemKey)))})
	return base64.RawURLEncoding.EncodeToString(cd), base64.RawURLEncoding.EncodeToString(att)
}

// Fingerprint is the message a Key attestation signs (spec §2.4 step 3):
// JSON.stringify({clientDataHash: hex(SHA-256(clientData)), publicKey}).
func Fingerprint(clientData []byte, pemKey string) []byte {
	sum := sha256.Sum256(clientData)
	return mustJSON(struct {
		ClientDataHash string `json:"clientDataHash"`
		PublicKey      string `json:"publicKey"`
	}{hex.EncodeToString(sum[:]), pemKey})
}

// Sign answers a challenge as AsymmetricKeySigner.sign does (spec §2.3) and
// returns credentialAssertion.clientData and credentialAssertion.signature as
// sent on the wire (base64url). The signed message is the clientData bytes.
func (s *KeySigner) Sign(challenge string) (clientData, signature string) {
	var cd []byte
	if s.Origin == "" {
		cd = mustJSON(struct {
			Type      string `json:"type"`
			Challenge string `json:"challenge"`
		}{"key.get", challenge})
	} else {
		cd = mustJSON(struct {
			Type        string `json:"type"`
			Challenge   string `json:"challenge"`
			Origin      string `json:"origin"`
			CrossOrigin bool   `json:"crossOrigin"`
		}{"key.get", challenge, s.Origin, false})
	}
	return base64.RawURLEncoding.EncodeToString(cd), base64.RawURLEncoding.EncodeToString(s.SignBytes(cd))
}

// SignBytes signs data like Node's crypto.sign(undefined, data, key): ASN.1 DER
// ECDSA over the digest for EC keys, pure Ed25519, RSA PKCS#1 v1.5.
func (s *KeySigner) SignBytes(data []byte) []byte {
	h := s.Hash
	if h == 0 {
		h = crypto.SHA256
	}
	var d []byte
	switch h {
	case crypto.SHA256:
		sum := sha256.Sum256(data)
		d = sum[:]
	case crypto.SHA384:
		sum := sha512.Sum384(data)
		d = sum[:]
	case crypto.SHA512:
		sum := sha512.Sum512(data)
		d = sum[:]
	default:
		panic(fmt.Sprintf("webauthntest: unsupported hash %v", h))
	}
	var sig []byte
	var err error
	switch k := s.signer.(type) {
	case nil:
		sig = secpecdsa.Sign(s.k1, d).Serialize()
	case *ecdsa.PrivateKey:
		sig, err = ecdsa.SignASN1(rand.Reader, k, d)
	case ed25519.PrivateKey:
		sig = ed25519.Sign(k, data)
	case *rsa.PrivateKey:
		sig, err = rsa.SignPKCS1v15(rand.Reader, k, h, d)
	}
	if err != nil {
		panic(fmt.Sprintf("webauthntest: sign with %s key: %v", s.Kind, err))
	}
	return sig
}

// mustJSON encodes like JSON.stringify: no HTML escaping, no trailing newline.
func mustJSON(v any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic(fmt.Sprintf("webauthntest: encode json: %v", err))
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("webauthntest: random: %v", err))
	}
	return b
}
