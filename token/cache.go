package token

import (
	"crypto/sha256"

	lru "github.com/hashicorp/golang-lru/v2"
)

// verifiedCacheSize bounds the verified-token cache: the tokens of that
// many recent sessions and machines skip their signature check. Only a
// token whose signature verified enters it, so nobody can fill it with
// garbage; past the bound the least recently used is verified again.
const verifiedCacheSize = 16384

// verifiedToken is what verifying a token established: its claims and the
// key that signed it (the entry is ignored once that key has left the
// keyring).
type verifiedToken struct {
	claims Claims
	kid    string
}

// verifiedCache maps the SHA-256 of a token string to its verification.
// Keyed by the hash, it holds no bearer token a memory dump could replay.
type verifiedCache struct {
	lru *lru.Cache[[sha256.Size]byte, verifiedToken]
}

func newVerifiedCache() *verifiedCache {
	c, err := lru.New[[sha256.Size]byte, verifiedToken](verifiedCacheSize)
	if err != nil {
		panic("token: verified cache: " + err.Error()) // only for a size below 1
	}
	return &verifiedCache{lru: c}
}

func cacheKey(raw string) [sha256.Size]byte { return sha256.Sum256([]byte(raw)) }

func (c *verifiedCache) get(k [sha256.Size]byte) (verifiedToken, bool) { return c.lru.Get(k) }
func (c *verifiedCache) add(k [sha256.Size]byte, v verifiedToken)      { c.lru.Add(k, v) }
func (c *verifiedCache) remove(k [sha256.Size]byte)                    { c.lru.Remove(k) }
