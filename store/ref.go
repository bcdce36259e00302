package store

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// Ref names a secret id, such as a user-action token, in logs and error
// messages without giving it away: its prefix and the start of its SHA-256
// ("ua#1f0c…"). The same id always gives the same ref, so log lines can
// still be matched with each other.
func Ref(id string) string {
	prefix, _, _ := strings.Cut(id, "-")
	sum := sha256.Sum256([]byte(id))
	return prefix + "#" + hex.EncodeToString(sum[:6])
}
