package server

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/go-webauthn/webauthn/protocol/webauthncbor"

	"countersign/aaguid"
	"countersign/webauthn"
)

// keyWords names a public key for a person to compare: its algorithm and
// the SHA-256 fingerprint of its DER encoding, written as OpenSSH writes
// fingerprints ("SHA256:…"), so `ssh-keygen -lf` or
// `openssl pkey -pubin -outform DER | openssl dgst -sha256 -binary | base64`
// gives the same text.
func keyWords(pemKey string) string {
	fp, alg := keyFingerprint(pemKey)
	if fp == "" {
		return "with a public key that could not be read"
	}
	return fmt.Sprintf("signing key %s %s", alg, fp)
}

// keyFingerprint is "SHA256:<base64 of the DER's SHA-256>" and the key's
// algorithm, or "" when pemKey is not a public key.
func keyFingerprint(pemKey string) (string, string) {
	der, pub, err := webauthn.DecodePublicKeyPEM(pemKey)
	if err != nil {
		return "", ""
	}
	sum := sha256.Sum256(der)
	return "SHA256:" + base64.RawStdEncoding.EncodeToString(sum[:]), keyAlgorithm(pub)
}

func keyAlgorithm(pub any) string {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		return "EC " + k.Curve.Params().Name
	case ed25519.PublicKey:
		return "Ed25519"
	case *rsa.PublicKey:
		return fmt.Sprintf("RSA %d", k.N.BitLen())
	}
	return "EC secp256k1" // the one curve crypto/x509 does not parse
}

// attestedKey is the public key a Key credential's attestationData carries
// (spec §2.4), "" when it cannot be read.
func attestedKey(attestationData string) string {
	raw, err := webauthn.DecodeBase64URL(attestationData)
	if err != nil {
		return ""
	}
	var att struct {
		PublicKey string `json:"publicKey"`
	}
	if json.Unmarshal(raw, &att) != nil {
		return ""
	}
	return att.PublicKey
}

// attestedProvider names the provider of a new passkey from the AAGUID in
// its attestation object, "" when it is unknown or unreadable.
func attestedProvider(attestationObject string) string {
	raw, err := webauthn.DecodeBase64URL(attestationObject)
	if err != nil || len(raw) > 1<<16 {
		return ""
	}
	var obj struct {
		AuthData []byte `cbor:"authData"`
	}
	if webauthncbor.Unmarshal(raw, &obj) != nil {
		return ""
	}
	// authData: rpIdHash (32), flags (1), signCount (4), then the attested
	// credential data, which starts with the AAGUID (WebAuthn L3 §6.5.1).
	const at = 37
	if len(obj.AuthData) < at+16 || obj.AuthData[32]&0x40 == 0 {
		return ""
	}
	p, ok := aaguid.Lookup(obj.AuthData[at : at+16])
	if !ok {
		return ""
	}
	return strings.TrimSpace(p.Name)
}
