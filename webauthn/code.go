package webauthn

import (
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"strings"
)

// Codes people read, write down or type: Crockford's base32 alphabet,
// which has no I, L, O or U (nothing to mistake for 1, 0 or V, and no
// accidental words), in groups of a few characters. Reading one back is
// forgiving as Crockford specifies: any case, I and L read as 1, O as 0,
// and spaces and hyphens are ignored.

const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// ErrCode: a one-time code (verification code, reset link, credential
// code) is unknown, wrong, expired or used (one error on purpose).
var ErrCode = errors.New("code invalid, expired or used")

// Code lengths: a secret code is looked up by its hash alone, so it
// carries 25 × 5 = 125 random bits; a verification code is checked against
// one user's code only, and is short-lived and rate-limited, so 12 × 5 =
// 60 bits are plenty and it is quick to type from an e-mail.
const (
	secretCodeChars       = 25
	verificationCodeChars = 12
)

// newCode returns n random characters of the alphabet in groups of group.
func newCode(n, group int) string {
	var b strings.Builder
	raw := make([]byte, n)
	if _, err := rand.Read(raw); err != nil {
		panic("crypto/rand: " + err.Error())
	}
	for i, r := range raw {
		if i > 0 && i%group == 0 {
			b.WriteByte('-')
		}
		b.WriteByte(crockford[r&31]) // 256 is a multiple of 32: uniform
	}
	return b.String()
}

// NewSecretCode is a code of 125 random bits: XXXXX-XXXXX-XXXXX-XXXXX-XXXXX.
// Recovery codes, reset links and credential codes are of this form.
func NewSecretCode() string { return newCode(secretCodeChars, 5) }

// NewVerificationCode is a code of 60 random bits: XXXX-XXXX-XXXX.
func NewVerificationCode() string { return newCode(verificationCodeChars, 4) }

// NormalizeCode reads a typed code back to its characters: upper case,
// without separators, I and L as 1, O as 0. Anything outside the alphabet
// is kept, so that it cannot match a real code.
func NormalizeCode(s string) string {
	var b strings.Builder
	for _, r := range strings.ToUpper(s) {
		switch r {
		case ' ', '-', '\t':
			continue
		case 'I', 'L':
			r = '1'
		case 'O':
			r = '0'
		}
		b.WriteRune(r)
	}
	return b.String()
}

// HashOneTimeCode is what the store keeps of a one-time code: the SHA-256
// of its normalised characters.
func HashOneTimeCode(code string) []byte {
	sum := sha256.Sum256([]byte("countersign one-time code\x00" + NormalizeCode(code)))
	return sum[:]
}
