package webauthn

import (
	"context"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"golang.org/x/crypto/chacha20poly1305"

	"countersign/store"
)

// Login and action challenges are sealed: their whole state (purpose,
// challenge, organisation, user, token, the request an action is for, the
// credentials offered, expiry) is encrypted and authenticated into the
// challenge identifier the client hands back, so beginning the ceremony
// writes nothing. What stays in the store is what makes them single use:
// the first attempt to finish one, successful or not, spends its id
// (store.SpendChallenge, or store.RecordAssertion with what it produced),
// and a spent id is refused. The key is a secret of the store, so every
// replica opens what another sealed. Registration, credential and other
// ceremonies keep their stored challenges (CreateChallenge,
// ConsumeChallenge).

// SealKeySecret is the store secret holding the challenge-sealing key.
const SealKeySecret = "challenge-seal-key"

// sealedPrefix starts every sealed identifier, so it is never mistaken for
// a stored challenge's id (ch-…) and a later format can be told apart.
const sealedPrefix = "cs1."

// maxSealed bounds the identifier accepted for opening: an action's
// payload travels in it, JSON-escaped and base64-encoded (about 1.4 times
// its size for ordinary JSON; up to 8 times for a body of nothing but
// escaped characters). seal refuses to make a longer one, so a payload
// that would not open again is refused before anyone is asked to sign.
const maxSealed = 256 << 10

// sealAD is the associated data of every sealed challenge: a key shared
// with another use could not open it as one.
var sealAD = []byte("countersign sealed challenge v1")

// sealedState is what a sealed identifier holds, short-named to keep it
// small.
type sealedState struct {
	ID        string          `json:"i"` // what is spent
	Purpose   string          `json:"p"`
	Challenge string          `json:"c"`
	OrgID     string          `json:"o"`
	UserID    string          `json:"u,omitempty"`
	TokenID   string          `json:"t,omitempty"`
	Data      json.RawMessage `json:"d,omitempty"`
	CreatedAt int64           `json:"a"` // unix milliseconds
	ExpiresAt int64           `json:"e"`
}

// newSealer returns the AEAD of key: XChaCha20-Poly1305, whose 24-byte
// nonces may be drawn at random for every seal without counting them.
func newSealer(key []byte) (cipher.AEAD, error) {
	if len(key) != chacha20poly1305.KeySize {
		return nil, fmt.Errorf("the challenge seal key is %d bytes, want %d", len(key), chacha20poly1305.KeySize)
	}
	return chacha20poly1305.NewX(key)
}

// seal returns the identifier carrying ch (its ID is what will be spent).
func (cs *Ceremonies) seal(ch store.Challenge) (string, error) {
	plain, err := json.Marshal(sealedState{
		ID: ch.ID, Purpose: ch.Purpose, Challenge: ch.Challenge, OrgID: ch.OrgID, UserID: ch.UserID,
		TokenID: ch.TokenID, Data: ch.Data, CreatedAt: ch.CreatedAt.UnixMilli(), ExpiresAt: ch.ExpiresAt.UnixMilli(),
	})
	if err != nil {
		return "", fmt.Errorf("seal challenge: %w", err)
	}
	nonce := make([]byte, cs.sealer.NonceSize(), cs.sealer.NonceSize()+len(plain)+cs.sealer.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		panic("crypto/rand: " + err.Error())
	}
	if len(sealedPrefix)+base64.RawURLEncoding.EncodedLen(cap(nonce)) > maxSealed {
		return "", fmt.Errorf("sealed challenge of %d bytes of state: %w", len(plain), ErrTooLarge)
	}
	return sealedPrefix + base64.RawURLEncoding.EncodeToString(cs.sealer.Seal(nonce, nonce, plain, sealAD)), nil
}

// open returns the challenge an identifier carries if this server sealed
// it, it is of purpose and it has not expired; ErrChallenge otherwise, like
// an unknown stored challenge. It spends nothing.
func (cs *Ceremonies) open(id, purpose string) (store.Challenge, error) {
	raw, ok := strings.CutPrefix(id, sealedPrefix)
	if !ok || len(id) > maxSealed {
		return store.Challenge{}, fmt.Errorf("challenge identifier is not sealed: %w", ErrChallenge)
	}
	box, err := base64.RawURLEncoding.DecodeString(raw)
	if err != nil || len(box) < cs.sealer.NonceSize()+cs.sealer.Overhead() {
		return store.Challenge{}, fmt.Errorf("sealed challenge does not decode: %w", ErrChallenge)
	}
	n := cs.sealer.NonceSize()
	plain, err := cs.sealer.Open(nil, box[:n], box[n:], sealAD)
	if err != nil {
		return store.Challenge{}, fmt.Errorf("sealed challenge does not open: %w", ErrChallenge)
	}
	var st sealedState
	if err := json.Unmarshal(plain, &st); err != nil {
		return store.Challenge{}, fmt.Errorf("sealed challenge: %w: %w", err, ErrChallenge)
	}
	ch := store.Challenge{
		ID: st.ID, Purpose: st.Purpose, Challenge: st.Challenge, OrgID: st.OrgID, UserID: st.UserID,
		TokenID: st.TokenID, Data: st.Data, CreatedAt: time.UnixMilli(st.CreatedAt).UTC(), ExpiresAt: time.UnixMilli(st.ExpiresAt).UTC(),
	}
	if ch.Purpose != purpose {
		return store.Challenge{}, fmt.Errorf("challenge %s is for %s, not %s: %w", ch.ID, ch.Purpose, purpose, ErrChallenge)
	}
	if !cs.opts.Now().Before(ch.ExpiresAt) {
		return store.Challenge{}, fmt.Errorf("challenge %s expired at %s: %w", ch.ID, ch.ExpiresAt.Format(time.RFC3339), ErrChallenge)
	}
	return ch, nil
}

// spent is the record that spends ch.
func spent(ch store.Challenge) store.SpentChallenge {
	return store.SpentChallenge{ID: ch.ID, ExpiresAt: ch.ExpiresAt}
}

// burn spends a sealed challenge after a failed attempt to finish it, so
// that it cannot be tried again; err is the attempt's failure, returned as
// is unless the spending itself fails (the store is unavailable).
func (cs *Ceremonies) burn(ctx context.Context, ch store.Challenge, err error) error {
	serr := cs.store.SpendChallenge(ctx, spent(ch))
	switch {
	case serr == nil:
		return err
	case errors.Is(serr, store.ErrConflict):
		// Already spent: a concurrent attempt with the same identifier.
		return fmt.Errorf("challenge %s already spent: %w", ch.ID, ErrChallenge)
	default:
		return fmt.Errorf("%w; spend challenge %s: %w", err, ch.ID, serr)
	}
}

// record writes what a verified assertion of a sealed challenge produced
// (r.Challenge is set here). A spent challenge is ErrChallenge (a replay),
// a counter that lost its race or a credential deactivated meanwhile
// ErrVerification; the challenge is spent in both.
func (cs *Ceremonies) record(ctx context.Context, ch store.Challenge, r store.AssertionRecord) error {
	r.Challenge = spent(ch)
	err := cs.store.RecordAssertion(ctx, r)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, store.ErrConflict):
		return fmt.Errorf("challenge %s: %w: %w", ch.ID, err, ErrChallenge)
	case errors.Is(err, store.ErrSignCount), errors.Is(err, store.ErrNotFound):
		return fmt.Errorf("record use of %s: %w: %w", r.CredentialID, err, ErrVerification)
	default:
		return fmt.Errorf("record assertion: %w", err)
	}
}
