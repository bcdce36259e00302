package webauthn

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"
	secpecdsa "github.com/decred/dcrd/dcrec/secp256k1/v4/ecdsa"
)

// Key credentials (spec §2.3, §2.4): a PEM public key held by a server, a CLI
// or a browser signer, proving possession by signing the clientData bytes.

// ErrPublicKey: a PEM public key is malformed or of a type Key credentials do
// not support. VerifyKeyAttestation wraps it together with ErrVerification,
// since there the key comes from the client.
var ErrPublicKey = errors.New("invalid or unsupported public key")

// clientData types of Key credentials (spec §2.3, §2.4).
const (
	keyTypeGet    = "key.get"
	keyTypeCreate = "key.create"
)

var (
	oidECPublicKey = asn1.ObjectIdentifier{1, 2, 840, 10045, 2, 1}
	oidSecp256k1   = asn1.ObjectIdentifier{1, 3, 132, 0, 10}
)

// EncodeBase64URL encodes b as RFC 4648 §5 base64url without padding, the only
// form this API sends (spec §1.8).
func EncodeBase64URL(b []byte) string {
	return base64.RawURLEncoding.EncodeToString(b)
}

// DecodeBase64URL decodes base64url with or without padding, and also accepts
// the standard alphabet: some clients convert, others do not (spec §1.8).
func DecodeBase64URL(s string) ([]byte, error) {
	s = strings.TrimRight(s, "=")
	s = strings.NewReplacer("+", "-", "/", "_").Replace(s)
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("decode base64url: %w", err)
	}
	return b, nil
}

// ParsePublicKeyPEM parses an SPKI "PUBLIC KEY" (EC P-256 or P-384,
// secp256k1, Ed25519, RSA) or a PKCS#1 "RSA PUBLIC KEY" and refuses a key
// outside the key policy (CheckPublicKey). Like the API's own pattern
// (spec §4.4) it tolerates literal `\n` escapes and surrounding whitespace.
// secp256k1 keys come back as *secp256k1.PublicKey (decred), because
// crypto/x509 rejects their OID.
func ParsePublicKeyPEM(pemKey string) (crypto.PublicKey, error) {
	_, pub, err := DecodePublicKeyPEM(pemKey)
	return pub, err
}

// DecodePublicKeyPEM is ParsePublicKeyPEM that also returns the DER the
// PEM holds (what a key's fingerprint is taken of).
func DecodePublicKeyPEM(pemKey string) ([]byte, crypto.PublicKey, error) {
	typ, der, err := decodePEM(pemKey)
	if err != nil {
		return nil, nil, err
	}
	var pub crypto.PublicKey
	switch typ {
	case "PUBLIC KEY":
		pub, err = parseSPKI(der)
	case "RSA PUBLIC KEY":
		if pub, err = x509.ParsePKCS1PublicKey(der); err != nil {
			err = fmt.Errorf("parse pkcs1 public key: %w: %w", ErrPublicKey, err)
		}
	default:
		err = fmt.Errorf("pem block %q: %w", typ, ErrPublicKey)
	}
	if err != nil {
		return nil, nil, err
	}
	if err := CheckPublicKey(pub); err != nil {
		return nil, nil, err
	}
	return der, pub, nil
}

// decodePEM is a lenient encoding/pem: one block, no headers, line breaks
// optional or written as literal `\n` / `\r` escapes (JSON double-escaping).
func decodePEM(s string) (typ string, der []byte, err error) {
	s = strings.NewReplacer(`\r`, "\n", `\n`, "\n").Replace(strings.TrimSpace(s))
	const begin, end, dashes = "-----BEGIN ", "-----END ", "-----"
	rest, ok := strings.CutPrefix(s, begin)
	if !ok {
		return "", nil, fmt.Errorf("pem: no BEGIN line: %w", ErrPublicKey)
	}
	typ, rest, ok = strings.Cut(rest, dashes)
	if !ok {
		return "", nil, fmt.Errorf("pem: malformed BEGIN line: %w", ErrPublicKey)
	}
	body, ok := strings.CutSuffix(rest, end+typ+dashes)
	if !ok || strings.Contains(body, dashes) {
		return "", nil, fmt.Errorf("pem %q: missing or extra END line: %w", typ, ErrPublicKey)
	}
	body = strings.Join(strings.Fields(body), "")
	der, err = base64.StdEncoding.DecodeString(body)
	if err != nil {
		return "", nil, fmt.Errorf("pem %q body: %w: %w", typ, ErrPublicKey, err)
	}
	return typ, der, nil
}

// spki is SubjectPublicKeyInfo (RFC 5280 §4.1), read by hand only to spot
// secp256k1 before handing everything else to crypto/x509.
type spki struct {
	Algorithm struct {
		Algorithm  asn1.ObjectIdentifier
		Parameters asn1.RawValue `asn1:"optional"`
	}
	PublicKey asn1.BitString
}

func parseSPKI(der []byte) (crypto.PublicKey, error) {
	var info spki
	rest, err := asn1.Unmarshal(der, &info)
	if err != nil || len(rest) != 0 {
		return nil, fmt.Errorf("parse spki: %w", ErrPublicKey)
	}
	if info.Algorithm.Algorithm.Equal(oidECPublicKey) {
		var curve asn1.ObjectIdentifier
		if _, err := asn1.Unmarshal(info.Algorithm.Parameters.FullBytes, &curve); err == nil && curve.Equal(oidSecp256k1) {
			pub, err := secp256k1.ParsePubKey(info.PublicKey.RightAlign())
			if err != nil {
				return nil, fmt.Errorf("parse secp256k1 point: %w: %w", ErrPublicKey, err)
			}
			return pub, nil
		}
	}
	pub, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, fmt.Errorf("parse spki: %w: %w", ErrPublicKey, err)
	}
	switch pub.(type) {
	case *ecdsa.PublicKey, ed25519.PublicKey, *rsa.PublicKey:
		return pub, nil
	default:
		return nil, fmt.Errorf("spki key type %T: %w", pub, ErrPublicKey)
	}
}

// digestFor maps the optional `algorithm` of an assertion (spec §2.3: `SHA256`,
// `SHA512`, `RSA-SHA256`, Node digest names) to the hashes to try. Absent, the
// client may still have signed with another digest (the keysigner's option is
// not transmitted), so SHA-256 is tried first, then SHA-384 and SHA-512.
func digestFor(algorithm string) ([]crypto.Hash, error) {
	name := strings.ToUpper(strings.TrimSpace(algorithm))
	for _, prefix := range []string{"RSA-", "ECDSA-WITH-", "ECDSA-"} {
		name = strings.TrimPrefix(name, prefix)
	}
	switch strings.ReplaceAll(name, "-", "") {
	case "":
		return []crypto.Hash{crypto.SHA256, crypto.SHA384, crypto.SHA512}, nil
	case "SHA256":
		return []crypto.Hash{crypto.SHA256}, nil
	case "SHA384":
		return []crypto.Hash{crypto.SHA384}, nil
	case "SHA512":
		return []crypto.Hash{crypto.SHA512}, nil
	default:
		return nil, fmt.Errorf("unsupported algorithm %q: %w", algorithm, ErrVerification)
	}
}

func digest(h crypto.Hash, data []byte) []byte {
	switch h {
	case crypto.SHA384:
		d := sha512.Sum384(data)
		return d[:]
	case crypto.SHA512:
		d := sha512.Sum512(data)
		return d[:]
	default:
		d := sha256.Sum256(data)
		return d[:]
	}
}

// VerifyKeySignature checks sig over data the way Node's
// crypto.sign(algorithm, data, key) produces it (spec §2.3): EC keys (NIST
// curves and secp256k1) take ASN.1 DER over SHA-256, P-256 also raw r||s;
// Ed25519 is pure EdDSA over data; RSA is PKCS#1 v1.5 with SHA-256. A non-empty
// algorithm names the digest; Ed25519 ignores it. High-S ECDSA signatures are
// accepted: OpenSSL does not normalise S. Failures wrap ErrVerification.
func VerifyKeySignature(pub crypto.PublicKey, data, sig []byte, algorithm string) error {
	hashes, err := digestFor(algorithm)
	if err != nil {
		return err
	}
	if k, ok := pub.(ed25519.PublicKey); ok {
		if len(k) == ed25519.PublicKeySize && ed25519.Verify(k, data, sig) {
			return nil
		}
		return fmt.Errorf("ed25519 signature: %w", ErrVerification)
	}
	for _, h := range hashes {
		ok, err := verifyDigest(pub, h, digest(h, data), sig)
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
	}
	return fmt.Errorf("%T signature: %w", pub, ErrVerification)
}

// verifyDigest verifies one digest; the error is for unsupported keys only.
func verifyDigest(pub crypto.PublicKey, h crypto.Hash, d, sig []byte) (bool, error) {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if ecdsa.VerifyASN1(k, d, sig) {
			return true, nil
		}
		// [CHOICE] spec §2.3: raw IEEE P1363 r||s (WebCrypto's native form) for P-256.
		if k.Curve == elliptic.P256() && len(sig) == 64 {
			r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
			return ecdsa.Verify(k, d, r, s), nil
		}
		return false, nil
	case *secp256k1.PublicKey:
		s, err := secpecdsa.ParseDERSignature(sig)
		return err == nil && s.Verify(d, k), nil
	case *rsa.PublicKey:
		return rsa.VerifyPKCS1v15(k, h, d, sig) == nil, nil
	default:
		return false, fmt.Errorf("key type %T: %w: %w", pub, ErrPublicKey, ErrVerification)
	}
}

// VerifyKeyAssertion verifies a Key-credential assertion (spec §2.3):
// clientData and sig are the decoded bytes from the wire, pemKey the stored
// credential key. clientData must be a JSON object with type "key.get" and the
// server challenge verbatim; the signed message is the raw clientData bytes.
// Failures wrap ErrVerification. A stored key that does not parse wraps
// ErrPublicKey only (the store holds something it should not: a server
// fault); one outside the key policy (stored before it existed) is refused
// like a bad signature.
func VerifyKeyAssertion(pemKey string, challenge string, clientData []byte, sig []byte, algorithm string) error {
	if err := checkKeyClientData(clientData, keyTypeGet, challenge); err != nil {
		return fmt.Errorf("key assertion: %w", err)
	}
	pub, err := ParsePublicKeyPEM(pemKey)
	if err != nil {
		if errors.Is(err, ErrWeakKey) {
			return fmt.Errorf("key assertion stored key: %w: %w", err, ErrVerification)
		}
		return fmt.Errorf("key assertion stored key: %w", err)
	}
	if err := VerifyKeySignature(pub, clientData, sig, algorithm); err != nil {
		return fmt.Errorf("key assertion: %w", err)
	}
	return nil
}

// VerifyKeyAttestation verifies a Key-credential registration (spec §2.4 recipe)
// and returns the public key PEM exactly as the client sent it, to be stored
// verbatim. clientData and attestationData are the decoded bytes from the wire.
// Failures wrap ErrVerification.
func VerifyKeyAttestation(challenge string, clientData []byte, attestationData []byte) (pemKey string, err error) {
	if err := checkKeyClientData(clientData, keyTypeCreate, challenge); err != nil {
		return "", fmt.Errorf("key attestation: %w", err)
	}
	fields, err := jsonStringFields(attestationData, "publicKey", "signature", "algorithm")
	if err != nil {
		return "", fmt.Errorf("key attestation data: %w", err)
	}
	pemKey, hexSig, algorithm := fields[0], fields[1], fields[2]
	pub, err := ParsePublicKeyPEM(pemKey)
	if err != nil {
		return "", fmt.Errorf("key attestation public key: %w: %w", ErrVerification, err)
	}
	// Spec §2.4 step 4: the signature is hex, not base64url.
	sig, err := hex.DecodeString(hexSig)
	if err != nil || len(sig) == 0 {
		return "", fmt.Errorf("key attestation signature is not hex: %w", ErrVerification)
	}
	fp, err := keyFingerprint(clientData, pemKey)
	if err != nil {
		return "", err
	}
	err = VerifyKeySignature(pub, fp, sig, algorithm)
	if err == nil {
		return pemKey, nil
	}
	// [CHOICE] spec §2.4 / §8.2: the docs hash clientData re-serialised with
	// sorted keys; the browser signer hashes what it sends. Raw bytes first.
	if canon, cerr := canonicalJSON(clientData); cerr == nil && !bytes.Equal(canon, clientData) {
		if fp, ferr := keyFingerprint(canon, pemKey); ferr == nil && VerifyKeySignature(pub, fp, sig, algorithm) == nil {
			return pemKey, nil
		}
	}
	return "", fmt.Errorf("key attestation: %w", err)
}

// keyFingerprint is JSON.stringify({clientDataHash, publicKey}) (spec §2.4
// step 3): this key order, no spaces, no HTML escaping, no trailing newline.
func keyFingerprint(clientData []byte, pemKey string) ([]byte, error) {
	sum := sha256.Sum256(clientData)
	fp := struct {
		ClientDataHash string `json:"clientDataHash"`
		PublicKey      string `json:"publicKey"`
	}{hex.EncodeToString(sum[:]), pemKey}
	return marshalJSONString(fp)
}

// marshalJSONString encodes like JSON.stringify: no HTML escaping, no newline.
func marshalJSONString(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("encode json: %w", err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// canonicalJSON re-serialises a JSON object with sorted keys and no spaces
// (Go sorts map keys; numbers keep their literal form).
func canonicalJSON(data []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v map[string]any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return marshalJSONString(v)
}

// checkKeyClientData parses clientData as a JSON object and requires the
// ceremony type and the server challenge verbatim (no re-encoding, spec §2.3).
// Other fields (origin, crossOrigin) are allowed and not checked.
func checkKeyClientData(clientData []byte, wantType, challenge string) error {
	fields, err := jsonStringFields(clientData, "type", "challenge")
	if err != nil {
		return fmt.Errorf("client data: %w", err)
	}
	if fields[0] != wantType {
		return fmt.Errorf("client data type %q, want %q: %w", fields[0], wantType, ErrVerification)
	}
	if challenge == "" || fields[1] != challenge {
		return fmt.Errorf("client data challenge does not match: %w", ErrVerification)
	}
	return nil
}

// jsonStringFields reads the named fields of a JSON object by exact key
// (encoding/json matches struct fields case-insensitively, which a verifier
// must not). A missing or null field reads as "", any other non-string is an
// error. Errors wrap ErrVerification.
func jsonStringFields(data []byte, names ...string) ([]string, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(data, &obj); err != nil || obj == nil {
		return nil, fmt.Errorf("not a json object: %w", ErrVerification)
	}
	out := make([]string, len(names))
	for i, name := range names {
		raw, ok := obj[name]
		if !ok || string(raw) == "null" {
			continue
		}
		if err := json.Unmarshal(raw, &out[i]); err != nil {
			return nil, fmt.Errorf("field %q is not a string: %w", name, ErrVerification)
		}
	}
	return out, nil
}
