package webauthn

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"errors"
	"fmt"
	"math/big"

	"filippo.io/edwards25519"
	"github.com/decred/dcrd/dcrec/secp256k1/v4"
	"github.com/go-webauthn/webauthn/protocol/webauthncose"
)

// The key policy: every public key a credential or an access token is bound
// to must be one of these. Anything else is refused when the key is
// registered and again whenever it is used, so a key stored before the
// policy existed cannot sign either.
//
//   - ECDSA on P-256 or P-384; secp256k1 (the curve Dfns wallets use)
//   - Ed25519 with a canonical, full-order point
//   - RSA of 2048 to 4096 bits with e = 65537
//
// Small-order Ed25519 points make one constant signature valid for every
// message; P-224, short RSA moduli and RSA with e = 1 are forgeable or
// close to it.
const (
	minRSABits = 2048
	maxRSABits = 4096
	rsaE       = 65537
)

// ErrWeakKey: a public key parses but is outside the key policy. Errors
// wrapping it wrap ErrPublicKey too.
var ErrWeakKey = errors.New("public key outside the key policy")

// weak wraps ErrWeakKey and ErrPublicKey in a refusal saying why.
func weak(format string, args ...any) error {
	return fmt.Errorf("%s: %w: %w", fmt.Sprintf(format, args...), ErrWeakKey, ErrPublicKey)
}

// CheckPublicKey refuses a key outside the policy with ErrWeakKey.
func CheckPublicKey(pub crypto.PublicKey) error {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() && k.Curve != elliptic.P384() {
			return weak("ecdsa curve %s is not P-256 or P-384", k.Curve.Params().Name)
		}
		return nil
	case *secp256k1.PublicKey:
		return nil // ParsePubKey already refused points off the curve
	case ed25519.PublicKey:
		return checkEd25519(k)
	case *rsa.PublicKey:
		if bits := k.N.BitLen(); bits < minRSABits || bits > maxRSABits {
			return weak("rsa key of %d bits is not %d to %d", bits, minRSABits, maxRSABits)
		}
		if k.E != rsaE {
			return weak("rsa exponent %d is not %d", k.E, rsaE)
		}
		return nil
	default:
		return weak("key type %T", pub)
	}
}

// checkEd25519 refuses an encoding that is not the canonical one of a
// point, and points of small order (the identity among them), whose
// signatures verify for any message (RFC 8032 lets verifiers differ here;
// countersign refuses them outright).
func checkEd25519(k ed25519.PublicKey) error {
	if len(k) != ed25519.PublicKeySize {
		return weak("ed25519 key of %d bytes", len(k))
	}
	p, err := new(edwards25519.Point).SetBytes(k)
	if err != nil {
		return weak("ed25519 key is not a point")
	}
	if !bytes.Equal(p.Bytes(), k) {
		return weak("ed25519 key is not canonically encoded")
	}
	if new(edwards25519.Point).MultByCofactor(p).Equal(edwards25519.NewIdentityPoint()) == 1 {
		return weak("ed25519 key is a point of small order")
	}
	return nil
}

// CheckCOSEKey applies the policy to a Fido2 credential's COSE public key,
// wrapping ErrPublicKey.
func CheckCOSEKey(cose []byte) error {
	parsed, err := webauthncose.ParsePublicKey(cose)
	if err != nil {
		return fmt.Errorf("parse cose key: %w: %w", ErrPublicKey, err)
	}
	switch k := parsed.(type) {
	case webauthncose.EC2PublicKeyData:
		switch webauthncose.COSEEllipticCurve(k.Curve) {
		case webauthncose.P256, webauthncose.P384:
			return nil
		}
		return weak("cose ec2 curve %d is not P-256 or P-384", k.Curve)
	case webauthncose.OKPPublicKeyData:
		if webauthncose.COSEEllipticCurve(k.Curve) != webauthncose.Ed25519 {
			return weak("cose okp curve %d is not Ed25519", k.Curve)
		}
		return checkEd25519(ed25519.PublicKey(k.XCoord))
	case webauthncose.RSAPublicKeyData:
		n, e := new(big.Int).SetBytes(k.Modulus), new(big.Int).SetBytes(k.Exponent)
		if !e.IsInt64() {
			return weak("cose rsa exponent is too large")
		}
		return CheckPublicKey(&rsa.PublicKey{N: n, E: int(e.Int64())})
	default:
		return weak("cose key type %T", parsed)
	}
}
