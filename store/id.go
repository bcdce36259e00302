package store

import (
	"crypto/rand"
	"strings"
)

const idAlphabet = "0123456789abcdefghijklmnopqrstuvwxyz"

// NewID returns a random id of the wire pattern
// `<prefix>-[a-z0-9]{5}-[a-z0-9]{5}-[a-z0-9]{16}` (spec §1.3), e.g.
// NewID("us") for a user. 26 base-36 characters carry about 134 bits.
func NewID(prefix string) string {
	const n = 5 + 5 + 16
	buf := make([]byte, n)
	if _, err := rand.Read(buf); err != nil {
		panic("crypto/rand: " + err.Error()) // never fails on supported platforms
	}
	var b strings.Builder
	b.Grow(len(prefix) + n + 3)
	b.WriteString(prefix)
	for i, c := range buf {
		if i == 0 || i == 5 || i == 10 {
			b.WriteByte('-')
		}
		// 256 % 36 != 0, so reject the biased tail: 252 = 7*36.
		for c >= 252 {
			var one [1]byte
			if _, err := rand.Read(one[:]); err != nil {
				panic("crypto/rand: " + err.Error())
			}
			c = one[0]
		}
		b.WriteByte(idAlphabet[c%36])
	}
	return b.String()
}
