package webauthn_test

import (
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"

	"countersign/webauthn"
	"countersign/webauthn/webauthntest"
)

const testChallenge = "MWM0MmY5YTQ0MDRiNzdhNTFhNzY5ODQwNWI5ZTQ4Y2RhODZiNDk3ZTYzOTE5OGYyMDcxZjBjYzk4MmQ5YzY1MA"

func mustDecode(t *testing.T, s string) []byte {
	t.Helper()
	b, err := webauthn.DecodeBase64URL(s)
	if err != nil {
		t.Fatalf("decode %q: %v", s, err)
	}
	return b
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("encode json: %v", err)
	}
	return b
}

func TestKeyCredentialRoundTrip(t *testing.T) {
	type variant struct {
		name   string
		hash   crypto.Hash
		origin string
	}
	variants := []variant{
		{name: "as the TS signers do"},
		{name: "with origin and crossOrigin in clientData", origin: "https://app.example"},
		{name: "with an untransmitted SHA-512 digest", hash: crypto.SHA512},
	}
	for _, kind := range webauthntest.KeySignerKinds {
		s := webauthntest.NewKeySigner(kind)
		for _, v := range variants {
			t.Run(kind+" key attests and asserts "+v.name, func(t *testing.T) {
				s.Hash, s.Origin = v.hash, v.origin
				cd, att := s.Attest(testChallenge)
				got, err := webauthn.VerifyKeyAttestation(testChallenge, mustDecode(t, cd), mustDecode(t, att))
				if err != nil {
					t.Fatalf("VerifyKeyAttestation: %v", err)
				}
				if want := s.PublicKeyPEM(); got != want {
					t.Errorf("attested PEM: got %q, want %q", got, want)
				}
				cd, sig := s.Sign(testChallenge)
				if err := webauthn.VerifyKeyAssertion(got, testChallenge, mustDecode(t, cd), mustDecode(t, sig), ""); err != nil {
					t.Fatalf("VerifyKeyAssertion: %v", err)
				}
			})
		}
	}
}

// attack is one forged Key-credential input, built from a legitimate signer.
type attack struct {
	name string
	// assertion: verify (pem, clientData, sig, algorithm) with VerifyKeyAssertion;
	// otherwise verify (clientData, attestationData) with VerifyKeyAttestation.
	assertion  bool
	pem        string
	clientData []byte
	sig        []byte
	algorithm  string
	attData    []byte
}

func keyAttacks(t *testing.T) []attack {
	t.Helper()
	s := webauthntest.NewKeySigner("P256")
	other := webauthntest.NewKeySigner("P256")
	pemKey := s.PublicKeyPEM()
	getData := []byte(`{"type":"key.get","challenge":"` + testChallenge + `"}`)
	createData := []byte(`{"type":"key.create","challenge":"` + testChallenge + `"}`)
	reencoded := base64.RawURLEncoding.EncodeToString([]byte(testChallenge))
	signed := func(cd []byte) attack {
		return attack{assertion: true, pem: pemKey, clientData: cd, sig: s.SignBytes(cd)}
	}
	with := func(a attack, name string) attack { a.name = name; return a }
	forged := signed(getData)
	forged.sig[len(forged.sig)/2] ^= 0x01
	byOther := signed(getData)
	byOther.sig = other.SignBytes(getData)
	overChallenge := signed(getData)
	overChallenge.sig = s.SignBytes([]byte(testChallenge))
	hexSig := signed(getData)
	hexSig.sig = []byte(hex.EncodeToString(hexSig.sig))
	wrongDigest := signed(getData)
	wrongDigest.algorithm = "SHA512"
	unknownAlg := signed(getData)
	unknownAlg.algorithm = "MD5"

	// attested builds attestationData the §2.4 way, with hooks to tamper.
	attested := func(name string, cd []byte, signedCD []byte, signer *webauthntest.KeySigner, sentPEM string, encode func([]byte) string) attack {
		sig := signer.SignBytes(webauthntest.Fingerprint(signedCD, signer.PublicKeyPEM()))
		return attack{name: name, clientData: cd, attData: mustJSON(t, map[string]string{"publicKey": sentPEM, "signature": encode(sig)})}
	}
	otherCreate := []byte(`{"type":"key.create","challenge":"b3RoZXI"}`)
	return []attack{
		with(forged, "forged assertion signature is rejected"),
		with(byOther, "assertion signed by another key is rejected"),
		with(signed(createData), "key.create clientData used for an assertion is rejected"),
		with(signed([]byte(`{"type":"key.get","challenge":"`+reencoded+`"}`)), "assertion with a re-encoded challenge is rejected"),
		with(signed([]byte(`{"type":"key.get","challenge":"b3RoZXI"}`)), "assertion with another challenge is rejected"),
		with(signed([]byte(`{"type":"key.get"}`)), "assertion without a challenge is rejected"),
		with(signed([]byte(`{"Type":"key.get","Challenge":"`+testChallenge+`"}`)), "assertion with capitalised keys is rejected"),
		with(signed([]byte(testChallenge)), "assertion whose clientData is not JSON is rejected"),
		with(signed([]byte(`["key.get","`+testChallenge+`"]`)), "assertion whose clientData is a JSON array is rejected"),
		with(signed([]byte(`{"type":"key.get","challenge":"`+testChallenge+`"} x`)), "assertion whose clientData has trailing bytes is rejected"),
		with(overChallenge, "assertion signing the challenge instead of clientData is rejected"),
		with(hexSig, "assertion with a hex signature is rejected"),
		with(wrongDigest, "assertion naming a digest it was not signed with is rejected"),
		with(unknownAlg, "assertion naming an unknown algorithm is rejected"),
		with(attack{assertion: true, pem: pemKey, clientData: getData}, "assertion without a signature is rejected"),

		attested("attestation made for another challenge is rejected", otherCreate, otherCreate, s, pemKey, hex.EncodeToString),
		attested("key.get clientData used for an attestation is rejected", getData, getData, s, pemKey, hex.EncodeToString),
		attested("attestation whose PEM was swapped is rejected", createData, createData, s, other.PublicKeyPEM(), hex.EncodeToString),
		attested("attestation whose PEM gained a newline after signing is rejected", createData, createData, s, pemKey+"\n", hex.EncodeToString),
		attested("attestation signed over another clientData is rejected", createData, otherCreate, s, pemKey, hex.EncodeToString),
		attested("attestation signed by another key is rejected", createData, createData, other, pemKey, hex.EncodeToString),
		attested("attestation with a base64url signature instead of hex is rejected", createData, createData, s, pemKey, base64.RawURLEncoding.EncodeToString),
		attested("attestation with a base64 signature instead of hex is rejected", createData, createData, s, pemKey, base64.StdEncoding.EncodeToString),
		attested("attestation whose public key is not a PEM is rejected", createData, createData, s, "not a key", hex.EncodeToString),
		attested("attestation without a signature is rejected", createData, createData, s, pemKey, func([]byte) string { return "" }),
		{name: "attestation data that is not JSON is rejected", clientData: createData, attData: []byte(pemKey)},
		{name: "attestation data with a numeric signature is rejected", clientData: createData,
			attData: mustJSON(t, map[string]any{"publicKey": pemKey, "signature": 12})},
		{name: "attestation clientData that is not JSON is rejected", clientData: []byte(testChallenge),
			attData: mustJSON(t, map[string]string{"publicKey": pemKey, "signature": "00"})},
	}
}

func TestKeyCredentialAttacksFail(t *testing.T) {
	for _, a := range keyAttacks(t) {
		t.Run(a.name, func(t *testing.T) {
			var err error
			if a.assertion {
				err = webauthn.VerifyKeyAssertion(a.pem, testChallenge, a.clientData, a.sig, a.algorithm)
			} else {
				var got string
				got, err = webauthn.VerifyKeyAttestation(testChallenge, a.clientData, a.attData)
				if got != "" {
					t.Errorf("PEM: got %q, want none", got)
				}
			}
			if !errors.Is(err, webauthn.ErrVerification) {
				t.Fatalf("got error %v, want ErrVerification", err)
			}
			t.Logf("rejected: %v", err)
		})
	}
}

// nodeCase is one entry of testdata/keycred_node.json, made by keycred_node.js.
type nodeCase struct {
	Name            string `json:"name"`
	Kind            string `json:"kind"`
	PublicKey       string `json:"publicKey"`
	Challenge       string `json:"challenge"`
	ClientData      string `json:"clientData"`
	Signature       string `json:"signature"`
	Algorithm       string `json:"algorithm"`
	AttestationData string `json:"attestationData"`
}

func loadNodeCases(t *testing.T) []nodeCase {
	t.Helper()
	raw, err := os.ReadFile("testdata/keycred_node.json")
	if err != nil {
		t.Fatalf("read fixtures: %v", err)
	}
	var file struct{ Cases []nodeCase }
	if err := json.Unmarshal(raw, &file); err != nil {
		t.Fatalf("parse fixtures: %v", err)
	}
	if len(file.Cases) == 0 {
		t.Fatal("no fixtures")
	}
	return file.Cases
}

func TestKeyCredentialNodeVectors(t *testing.T) {
	for _, c := range loadNodeCases(t) {
		t.Run(c.Name+" verifies", func(t *testing.T) {
			cd := mustDecode(t, c.ClientData)
			switch c.Kind {
			case "assertion":
				err := webauthn.VerifyKeyAssertion(c.PublicKey, c.Challenge, cd, mustDecode(t, c.Signature), c.Algorithm)
				if err != nil {
					t.Fatalf("VerifyKeyAssertion: %v", err)
				}
			case "attestation":
				got, err := webauthn.VerifyKeyAttestation(c.Challenge, cd, mustDecode(t, c.AttestationData))
				if err != nil {
					t.Fatalf("VerifyKeyAttestation: %v", err)
				}
				if got != c.PublicKey {
					t.Errorf("PEM: got %q, want %q as received", got, c.PublicKey)
				}
			default:
				t.Fatalf("unknown fixture kind %q", c.Kind)
			}
		})
	}
}

// OpenSSL does not normalise S, so Node's secp256k1 signatures are high-S half
// the time: both halves must verify.
func TestSecp256k1AcceptsHighAndLowS(t *testing.T) {
	var c nodeCase
	for _, nc := range loadNodeCases(t) {
		if strings.HasPrefix(nc.Name, "secp256k1 assertion") {
			c = nc
		}
	}
	var rs struct{ R, S *big.Int }
	if _, err := asn1.Unmarshal(mustDecode(t, c.Signature), &rs); err != nil {
		t.Fatalf("parse fixture signature: %v", err)
	}
	flipped, err := asn1.Marshal(struct{ R, S *big.Int }{rs.R, new(big.Int).Sub(secp256k1.S256().N, rs.S)})
	if err != nil {
		t.Fatalf("marshal flipped signature: %v", err)
	}
	for name, sig := range map[string][]byte{"node's S": mustDecode(t, c.Signature), "N minus node's S": flipped} {
		t.Run("signature with "+name+" verifies", func(t *testing.T) {
			if err := webauthn.VerifyKeyAssertion(c.PublicKey, c.Challenge, mustDecode(t, c.ClientData), sig, ""); err != nil {
				t.Fatalf("VerifyKeyAssertion: %v", err)
			}
		})
	}
}

func TestParsePublicKeyPEM(t *testing.T) {
	p256 := webauthntest.NewKeySigner("P256").PublicKeyPEM()
	body := strings.Join(strings.Split(p256, "\n")[1:3], "")
	k1 := webauthntest.NewKeySigner("secp256k1").PublicKeyPEM()
	x25519, _ := ecdh.X25519().GenerateKey(rand.Reader)
	x25519DER, _ := x509.MarshalPKIXPublicKey(x25519.PublicKey())
	ed, edPriv, _ := ed25519.GenerateKey(rand.Reader)
	privDER, _ := x509.MarshalPKCS8PrivateKey(edPriv)
	edDER, _ := x509.MarshalPKIXPublicKey(ed)
	pemOf := func(typ string, der []byte) string {
		return string(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}))
	}

	for _, tc := range []struct {
		name string
		pem  string
		want string // %T of the key, or "" for an ErrPublicKey failure
	}{
		{"browser PEM without trailing newline parses", p256, "*ecdsa.PublicKey"},
		{"Node PEM with trailing newline parses", p256 + "\n", "*ecdsa.PublicKey"},
		{"PEM with literal \\n escapes parses", strings.ReplaceAll(p256, "\n", `\n`), "*ecdsa.PublicKey"},
		{"PEM with CRLF and surrounding whitespace parses", "  \r\n" + strings.ReplaceAll(p256, "\n", "\r\n") + "\r\n\t ", "*ecdsa.PublicKey"},
		{"PEM on one line parses", "-----BEGIN PUBLIC KEY-----" + body + "-----END PUBLIC KEY-----", "*ecdsa.PublicKey"},
		{"secp256k1 SPKI parses as a decred key", k1, "*secp256k1.PublicKey"},
		{"Ed25519 SPKI parses", pemOf("PUBLIC KEY", edDER), "ed25519.PublicKey"},
		{"PKCS#1 RSA PEM parses", webauthntest.NewKeySigner("RSA-PKCS1").PublicKeyPEM(), "*rsa.PublicKey"},
		{"empty string is rejected", "", ""},
		{"base64 without armour is rejected", body, ""},
		{"X25519 key is rejected", pemOf("PUBLIC KEY", x25519DER), ""},
		{"private key is rejected", pemOf("PRIVATE KEY", privDER), ""},
		{"mismatched END line is rejected", strings.Replace(p256, "END PUBLIC KEY", "END RSA PUBLIC KEY", 1), ""},
		{"two PEM blocks are rejected", p256 + "\n" + p256, ""},
		{"corrupt base64 body is rejected", strings.Replace(p256, "M", "*", 1), ""},
		{"SPKI with trailing bytes is rejected", pemOf("PUBLIC KEY", append(edDER, 0)), ""},
		{"PKCS#1 armour around SPKI is rejected", pemOf("RSA PUBLIC KEY", edDER), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pub, err := webauthn.ParsePublicKeyPEM(tc.pem)
			if tc.want == "" {
				if !errors.Is(err, webauthn.ErrPublicKey) {
					t.Fatalf("got key %T, error %v; want ErrPublicKey", pub, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParsePublicKeyPEM: %v", err)
			}
			if got := typeName(pub); got != tc.want {
				t.Errorf("key type: got %s, want %s", got, tc.want)
			}
		})
	}
}

func typeName(pub crypto.PublicKey) string {
	switch pub.(type) {
	case *ecdsa.PublicKey:
		return "*ecdsa.PublicKey"
	case *secp256k1.PublicKey:
		return "*secp256k1.PublicKey"
	case ed25519.PublicKey:
		return "ed25519.PublicKey"
	case *rsa.PublicKey:
		return "*rsa.PublicKey"
	default:
		return "other"
	}
}

func TestVerifyKeyAssertionWithUnparseableStoredKey(t *testing.T) {
	s := webauthntest.NewKeySigner("Ed25519")
	cd, sig := s.Sign(testChallenge)
	err := webauthn.VerifyKeyAssertion("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----", testChallenge,
		mustDecode(t, cd), mustDecode(t, sig), "")
	if !errors.Is(err, webauthn.ErrPublicKey) || errors.Is(err, webauthn.ErrVerification) {
		t.Fatalf("got %v, want ErrPublicKey only: the stored key is the server's fault", err)
	}
}

func TestVerifyKeySignatureAlgorithmNames(t *testing.T) {
	s := webauthntest.NewKeySigner("RSA")
	s.Hash = crypto.SHA384
	data := []byte("payload")
	sig := s.SignBytes(data)
	for _, tc := range []struct {
		algorithm string
		ok        bool
	}{
		{"", true}, {"SHA384", true}, {"sha384", true}, {"RSA-SHA384", true}, {"SHA-384", true}, {"ecdsa-with-SHA384", true},
		{"SHA256", false}, {"RSA-SHA512", false}, {"SHA1", false},
	} {
		t.Run("algorithm "+strconv.Quote(tc.algorithm)+" on a SHA-384 signature", func(t *testing.T) {
			err := webauthn.VerifyKeySignature(s.PublicKey(), data, sig, tc.algorithm)
			if tc.ok && err != nil {
				t.Fatalf("got %v, want success", err)
			}
			if !tc.ok && !errors.Is(err, webauthn.ErrVerification) {
				t.Fatalf("got %v, want ErrVerification", err)
			}
		})
	}
}

func TestBase64URL(t *testing.T) {
	want := []byte{0xfb, 0xff, 0xbf, 0x01}
	if got := webauthn.EncodeBase64URL(want); got != "-_-_AQ" {
		t.Errorf("EncodeBase64URL: got %q, want %q", got, "-_-_AQ")
	}
	for _, in := range []string{"-_-_AQ", "-_-_AQ==", "+/+/AQ", "+/+/AQ=="} {
		t.Run(strconv.Quote(in)+" decodes", func(t *testing.T) {
			got, err := webauthn.DecodeBase64URL(in)
			if err != nil || string(got) != string(want) {
				t.Fatalf("got %x, %v; want %x", got, err, want)
			}
		})
	}
	for _, in := range []string{"a", "ab!c", "ab.c"} {
		t.Run(strconv.Quote(in)+" is rejected", func(t *testing.T) {
			if got, err := webauthn.DecodeBase64URL(in); err == nil {
				t.Fatalf("got %x, want an error", got)
			}
		})
	}
}
