package token

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// The signing keys live in the store as one keyring, newest first: the
// first key signs, every key verifies and is published in the JWKS. A
// rotation puts a new key first and marks the previous one retired; a
// retired key is dropped once no token it can have signed is still valid.
//
// The first key of a deployment that predates the keyring is the one kept
// under legacyKeySecret, which stays as it is, so the binary before this
// one (which reads only that secret) goes on verifying during a rolling
// upgrade, as long as nobody rotates before every replica runs this one.
const (
	keyringSecret   = "jwt-signing-keys"
	legacyKeySecret = "jwt-es256-key-1"
)

// ReloadInterval is how often a server re-reads the keyring (see Reload):
// within it every replica signs with the newest key. A token naming a key
// a replica does not know makes it re-read at once, at most every
// unknownKeyReloadEvery.
const ReloadInterval = time.Minute

// maxKeys bounds the keyring. Retired keys wait for the tokens they signed
// (up to two years for an access token), so a deployment rotating more
// often than that fills it; Rotate then refuses and says why.
const maxKeys = 16

// ErrRotationPending: a rotation while the previous one's key is not yet
// signing (it would retire a key that never signed).
var ErrRotationPending = errors.New("a rotation is pending")

// ErrKeyringFull: a rotation would keep more than maxKeys keys.
var ErrKeyringFull = errors.New("the keyring is full: retired keys are still needed by unexpired tokens")

// ActivationDelay is how long a rotated-in key is published, and verifies,
// before it signs: every replica re-reads the keyring within
// ReloadInterval, so by the time any of them signs with the new key all
// of them know it, and none meets a token under a key it does not have
// (nor serves a JWKS without it).
const ActivationDelay = 2 * ReloadInterval

// storedKey is one key of the stored keyring.
type storedKey struct {
	Key       []byte     `json:"key"` // PKCS#8 DER of an ECDSA P-256 key
	CreatedAt time.Time  `json:"createdAt"`
	ActiveAt  *time.Time `json:"activeAt,omitempty"`  // when it starts signing; nil: at once
	RetiredAt *time.Time `json:"retiredAt,omitempty"` // when a newer key took over signing
}

// signingKey is a parsed key of the keyring.
type signingKey struct {
	kid       string
	priv      *ecdsa.PrivateKey
	createdAt time.Time
	activeAt  time.Time // zero: signs from its creation
	retiredAt *time.Time
}

// keyring is an immutable snapshot of the stored keyring.
type keyring struct {
	keys []*signingKey // newest first
	byID map[string]*signingKey
	raw  []byte
}

// signer is the key that signs at now: the newest one already active. A
// key rotated in waits ActivationDelay (published, verifying) first. (A
// binary from before activation times signs with the newest at once.)
func (r *keyring) signer(now time.Time) *signingKey {
	for _, k := range r.keys {
		if !now.Before(k.activeAt) {
			return k
		}
	}
	return r.keys[len(r.keys)-1]
}

// signer is the key this issuer signs with now.
func (is *Issuer) signer() *signingKey { return is.ring.Load().signer(is.opts.Now()) }

func parseKeyring(raw []byte) (*keyring, error) {
	var stored []storedKey
	if err := json.Unmarshal(raw, &stored); err != nil {
		return nil, fmt.Errorf("signing keyring is unreadable: %w", err)
	}
	if len(stored) == 0 {
		return nil, errors.New("signing keyring is empty")
	}
	r := &keyring{byID: map[string]*signingKey{}, raw: raw}
	for i, sk := range stored {
		priv, err := parseKey(sk.Key)
		if err != nil {
			return nil, fmt.Errorf("signing key %d: %w", i, err)
		}
		k := &signingKey{kid: keyID(&priv.PublicKey), priv: priv, createdAt: sk.CreatedAt, retiredAt: sk.RetiredAt}
		if sk.ActiveAt != nil {
			k.activeAt = *sk.ActiveAt
		}
		r.keys = append(r.keys, k)
		r.byID[k.kid] = k
	}
	return r, nil
}

func parseKey(der []byte) (*ecdsa.PrivateKey, error) {
	parsed, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("parse signing key: %w", err)
	}
	key, ok := parsed.(*ecdsa.PrivateKey)
	if !ok || key.Curve != elliptic.P256() {
		return nil, fmt.Errorf("signing key is %T, want an ECDSA P-256 key", parsed)
	}
	return key, nil
}

func newKeyDER() ([]byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate signing key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("marshal signing key: %w", err)
	}
	return der, nil
}

// ensureKeyring returns the stored keyring, creating it on first start
// around the legacy key (itself created when missing). Replicas starting
// together agree on one keyring: EnsureSecret keeps the first writer's.
func ensureKeyring(ctx context.Context, st Store, now time.Time) (*keyring, error) {
	candidate, err := newKeyDER()
	if err != nil {
		return nil, err
	}
	first, err := st.EnsureSecret(ctx, legacyKeySecret, candidate)
	if err != nil {
		return nil, fmt.Errorf("load signing key: %w", err)
	}
	initial, err := json.Marshal([]storedKey{{Key: first, CreatedAt: now.UTC()}})
	if err != nil {
		return nil, err
	}
	raw, err := st.EnsureSecret(ctx, keyringSecret, initial)
	if err != nil {
		return nil, fmt.Errorf("load signing keyring: %w", err)
	}
	return parseKeyring(raw)
}

// Reload re-reads the keyring from the store, so a key added by a rotation
// (in another process) signs here too and a dropped key stops verifying.
// Servers call it every ReloadInterval; a failure keeps the keys in use.
func (is *Issuer) Reload(ctx context.Context) error {
	is.reloadMu.Lock()
	defer is.reloadMu.Unlock()
	raw, err := is.store.EnsureSecret(ctx, keyringSecret, is.ring.Load().raw)
	if err != nil {
		return fmt.Errorf("reload signing keyring: %w", err)
	}
	r, err := parseKeyring(raw)
	if err != nil {
		return fmt.Errorf("reload signing keyring: %w", err)
	}
	is.ring.Store(r)
	return nil
}

// Rotation is what Rotate did.
type Rotation struct {
	KID         string    // the new signing key
	PreviousKID string    // the key it replaces, retired from ActiveAt on
	ActiveAt    time.Time // when the new key starts signing
	Keys        []string  // every key kept, newest first
}

// Rotate adds a new signing key in front of the keyring, published and
// verifying at once and signing from ActivationDelay on (at once when
// immediately: replicas that have not reloaded then re-read the keyring
// on the first token they do not know). The previous key signs until then
// and keeps verifying (and stays in the JWKS) until Prune finds every
// token it can have signed expired.
func (is *Issuer) Rotate(ctx context.Context, immediately bool) (Rotation, error) {
	if _, err := ensureKeyring(ctx, is.store, is.opts.Now()); err != nil {
		return Rotation{}, err
	}
	der, err := newKeyDER()
	if err != nil {
		return Rotation{}, err
	}
	now := is.opts.Now().UTC()
	activeAt := now
	if !immediately {
		activeAt = now.Add(ActivationDelay)
	}
	var rot Rotation
	_, err = is.store.UpdateSecret(ctx, keyringSecret, func(cur []byte) ([]byte, error) {
		var stored []storedKey
		if err := json.Unmarshal(cur, &stored); err != nil || len(stored) == 0 {
			return nil, fmt.Errorf("signing keyring is unreadable or empty: %v", err)
		}
		if len(stored) >= maxKeys {
			return nil, fmt.Errorf("%w (%d keys)", ErrKeyringFull, len(stored))
		}
		if !immediately && stored[0].ActiveAt != nil && now.Before(*stored[0].ActiveAt) {
			return nil, fmt.Errorf("%w: the key of the last rotation starts signing only at %s; rotate after that, or immediately",
				ErrRotationPending, stored[0].ActiveAt.Format(time.RFC3339))
		}
		// The previous key signs until the new one does; every key older
		// than it was retired by an earlier rotation. A rotation made
		// immediately over a pending one also ends the wait of the key
		// still signing: no older key signs past the new key's activation,
		// and none is said to retire later than it does.
		stored[0].RetiredAt = &activeAt
		for i := range stored {
			if stored[i].RetiredAt != nil && stored[i].RetiredAt.After(activeAt) {
				stored[i].RetiredAt = &activeAt
			}
		}
		stored = append([]storedKey{{Key: der, CreatedAt: now, ActiveAt: &activeAt}}, stored...)
		raw, err := json.Marshal(stored)
		if err != nil {
			return nil, err
		}
		r, err := parseKeyring(raw)
		if err != nil {
			return nil, err
		}
		rot = Rotation{KID: r.keys[0].kid, PreviousKID: r.keys[1].kid, ActiveAt: activeAt}
		for _, k := range r.keys {
			rot.Keys = append(rot.Keys, k.kid)
		}
		return raw, nil
	})
	if err != nil {
		return Rotation{}, fmt.Errorf("rotate signing key: %w", err)
	}
	return rot, is.Reload(ctx)
}

// retirementGrace is how long after its retirement a key may still sign:
// a replica that missed the rotation's activation (its reloads failing),
// or a rotation made immediately, signs with it until its next Reload.
const retirementGrace = 2 * ReloadInterval

// RetiredKey is a retired key and how long it must stay published.
type RetiredKey struct {
	KID       string
	RetiredAt time.Time
	// Until is when the last token it can have signed expires: the key is
	// dropped by the first Prune after it.
	Until time.Time
}

// Retired lists the retired keys of the keyring with the time each may be
// dropped: the latest expiry of the unrevoked tokens created before its
// retirement (plus the grace during which replicas may still sign with
// it), and never before a temporary token signed then has expired.
func (is *Issuer) Retired(ctx context.Context) ([]RetiredKey, error) {
	var out []RetiredKey
	for _, k := range is.ring.Load().keys {
		if k.retiredAt == nil {
			continue
		}
		lastSigned := k.retiredAt.Add(retirementGrace)
		until, err := is.store.LatestTokenExpiry(ctx, lastSigned)
		if err != nil {
			return nil, err
		}
		if temp := lastSigned.Add(is.opts.TempTTL); until.Before(temp) {
			until = temp
		}
		out = append(out, RetiredKey{KID: k.kid, RetiredAt: *k.retiredAt, Until: until})
	}
	return out, nil
}

// Prune drops the retired keys whose every token has expired and returns
// their ids. The signing key is never dropped.
func (is *Issuer) Prune(ctx context.Context) ([]string, error) {
	if err := is.Reload(ctx); err != nil {
		return nil, err
	}
	retired, err := is.Retired(ctx)
	if err != nil {
		return nil, fmt.Errorf("prune signing keys: %w", err)
	}
	now := is.opts.Now()
	drop := map[string]bool{}
	for _, k := range retired {
		if !now.Before(k.Until) {
			drop[k.KID] = true
		}
	}
	if len(drop) == 0 {
		return nil, nil
	}
	var dropped []string
	_, err = is.store.UpdateSecret(ctx, keyringSecret, func(cur []byte) ([]byte, error) {
		var stored []storedKey
		if err := json.Unmarshal(cur, &stored); err != nil || len(stored) == 0 {
			return nil, fmt.Errorf("signing keyring is unreadable or empty: %v", err)
		}
		kept := []storedKey{stored[0]}
		dropped = nil
		for _, sk := range stored[1:] {
			priv, err := parseKey(sk.Key)
			if err != nil {
				return nil, err
			}
			if kid := keyID(&priv.PublicKey); drop[kid] && sk.RetiredAt != nil {
				dropped = append(dropped, kid)
				continue
			}
			kept = append(kept, sk)
		}
		return json.Marshal(kept)
	})
	if err != nil {
		return nil, fmt.Errorf("prune signing keys: %w", err)
	}
	return dropped, is.Reload(ctx)
}
