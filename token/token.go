package token

import (
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/time/rate"

	"countersign/store"
)

// ErrInvalid: the token is malformed, not ours, expired, revoked, of the
// wrong kind, or its identity is gone. One error on purpose: the client is
// told only that its token is not accepted.
var ErrInvalid = errors.New("token invalid")

// appMetadataClaim is the claim the Dfns SDK reads orgId from (spec §1.7).
const appMetadataClaim = "https://custom/app_metadata"

// Store is what the issuer needs from the persistence layer.
type Store interface {
	EnsureSecret(ctx context.Context, name string, value []byte) ([]byte, error)
	UpdateSecret(ctx context.Context, name string, update func(current []byte) ([]byte, error)) ([]byte, error)
	CreateToken(ctx context.Context, t store.Token) error
	GetBearer(ctx context.Context, tokenID, kind string) (store.Bearer, error)
	LatestTokenExpiry(ctx context.Context, createdBefore time.Time) (time.Time, error)
}

// Options configure an Issuer.
type Options struct {
	Issuer   string        // iss and aud of every token
	LoginTTL time.Duration // lifetime of login tokens
	TempTTL  time.Duration // lifetime of registration (temporary) tokens
	Now      func() time.Time
}

// Issuer signs and verifies tokens with the keys of the stored keyring
// (keyring.go). It is safe for concurrent use.
type Issuer struct {
	store    Store
	opts     Options
	ring     atomic.Pointer[keyring]
	reloadMu sync.Mutex
	// unknownKID bounds the reloads a token naming an unknown key causes:
	// anyone can send such a token.
	unknownKID *rate.Limiter
	// verified holds the tokens whose signature this process has checked
	// (cache.go): a bearer token is verified once, not on every request.
	verified *verifiedCache
	// signatureChecks counts the signatures verified (tests read it).
	signatureChecks atomic.Int64
}

// unknownKeyReloadEvery is the least time between two reloads caused by
// tokens naming a key this issuer does not know.
const unknownKeyReloadEvery = time.Second

// AppMetadata is the namespaced claim the SDK reads.
type AppMetadata struct {
	OrgID     string `json:"orgId"`
	UserID    string `json:"userId"`
	TokenID   string `json:"tokenId,omitempty"`
	TokenKind string `json:"tokenKind"`
}

// Claims are the claims of every countersign token.
type Claims struct {
	jwt.RegisteredClaims
	AppMetadata AppMetadata `json:"https://custom/app_metadata"`
	Username    string      `json:"https://custom/username,omitempty"`
}

// New loads the signing keyring from the store, creating it on first start.
func New(ctx context.Context, st Store, opts Options) (*Issuer, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	r, err := ensureKeyring(ctx, st, opts.Now())
	if err != nil {
		return nil, err
	}
	is := &Issuer{store: st, opts: opts, unknownKID: rate.NewLimiter(rate.Every(unknownKeyReloadEvery), 1), verified: newVerifiedCache()}
	is.ring.Store(r)
	return is, nil
}

// SigningKeyID is the kid new tokens are signed with.
func (is *Issuer) SigningKeyID() string { return is.signer().kid }

// keyID is the base64url SHA-256 of the public key's SPKI: stable across
// restarts and replicas.
func keyID(pub *ecdsa.PublicKey) string {
	spki, _ := x509.MarshalPKIXPublicKey(pub)
	sum := sha256.Sum256(spki)
	return base64.RawURLEncoding.EncodeToString(sum[:16])
}

// Issued is a freshly signed token.
type Issued struct {
	Token     string
	ID        string
	ExpiresAt time.Time
}

// IssueLogin records and signs a login token for a user.
func (is *Issuer) IssueLogin(ctx context.Context, u store.User) (Issued, error) {
	t := is.LoginRecord(u)
	if err := is.store.CreateToken(ctx, t); err != nil {
		return Issued{}, fmt.Errorf("record login token: %w", err)
	}
	return is.sign(t, u.Username)
}

// LoginRecord is the record of a new login token for u, for the caller to
// store in the transaction of the login itself (store.RecordAssertion);
// SignLogin then signs it.
func (is *Issuer) LoginRecord(u store.User) store.Token {
	now := is.opts.Now().UTC()
	return store.Token{
		ID: store.NewID("to"), Kind: store.TokenLogin, OrgID: u.OrgID, UserID: u.ID,
		CreatedAt: now, ExpiresAt: now.Add(is.opts.LoginTTL),
	}
}

// SignLogin signs the login token of a record LoginRecord made and the
// caller has stored.
func (is *Issuer) SignLogin(t store.Token, username string) (Issued, error) {
	if t.Kind != store.TokenLogin {
		return Issued{}, fmt.Errorf("sign login token: %s is a %s token", t.ID, t.Kind)
	}
	return is.sign(t, username)
}

// IssueTemp signs the temporary token of a registration ceremony. It is not
// recorded: its id is the ceremony's challenge id, consumed on first use.
func (is *Issuer) IssueTemp(challengeID string, u store.User) (Issued, error) {
	now := is.opts.Now().UTC()
	return is.sign(store.Token{
		ID: challengeID, Kind: store.TokenTemp, OrgID: u.OrgID, UserID: u.ID,
		CreatedAt: now, ExpiresAt: now.Add(is.opts.TempTTL),
	}, u.Username)
}

// SignAccessToken signs the bearer token of a PAT or service account. It is
// recorded by the store together with its metadata and Key credential, in
// the transaction of the signed change that creates it.
func (is *Issuer) SignAccessToken(t store.AccessToken, username string) (Issued, error) {
	return is.sign(store.Token{
		ID: t.ID, Kind: t.Kind, OrgID: t.OrgID, UserID: t.UserID, CreatedAt: t.CreatedAt, ExpiresAt: t.ExpiresAt,
	}, username)
}

func (is *Issuer) sign(t store.Token, username string) (Issued, error) {
	claims := Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    is.opts.Issuer,
			Audience:  jwt.ClaimStrings{is.opts.Issuer},
			Subject:   t.UserID,
			IssuedAt:  jwt.NewNumericDate(t.CreatedAt),
			ExpiresAt: jwt.NewNumericDate(t.ExpiresAt),
			ID:        t.ID,
		},
		AppMetadata: AppMetadata{OrgID: t.OrgID, UserID: t.UserID, TokenID: t.ID, TokenKind: t.Kind},
		Username:    username,
	}
	key := is.signer()
	tok := jwt.NewWithClaims(jwt.SigningMethodES256, claims)
	tok.Header["kid"] = key.kid
	s, err := tok.SignedString(key.priv)
	if err != nil {
		return Issued{}, fmt.Errorf("sign token: %w", err)
	}
	return Issued{Token: s, ID: t.ID, ExpiresAt: t.ExpiresAt}, nil
}

// Parse checks a token's signature, algorithm (ES256 only: `alg: none` and
// HMAC confusion are refused), issuer, audience and expiry, and that it is of
// one of the wanted kinds. It does not consult the store; Verify does.
func (is *Issuer) Parse(raw string, kinds ...string) (Claims, error) {
	return is.parse(context.Background(), raw, kinds...)
}

// verificationKey returns the public key named kid. A kid this issuer does
// not know may be a key another process has just added: the keyring is
// re-read once (rate-limited) before the token is refused.
func (is *Issuer) verificationKey(ctx context.Context, kid string) (*ecdsa.PublicKey, error) {
	if k, ok := is.ring.Load().byID[kid]; ok {
		return &k.priv.PublicKey, nil
	}
	if kid == "" || len(kid) > 64 || !is.unknownKID.Allow() {
		return nil, errors.New("unknown key id")
	}
	if err := is.Reload(ctx); err != nil {
		return nil, err
	}
	if k, ok := is.ring.Load().byID[kid]; ok {
		return &k.priv.PublicKey, nil
	}
	return nil, errors.New("unknown key id")
}

func (is *Issuer) parse(ctx context.Context, raw string, kinds ...string) (Claims, error) {
	c, err := is.verifiedClaims(ctx, raw)
	if err != nil {
		return Claims{}, err
	}
	for _, k := range kinds {
		if c.AppMetadata.TokenKind == k {
			return c, nil
		}
	}
	return Claims{}, fmt.Errorf("%w: kind %q not accepted here", ErrInvalid, c.AppMetadata.TokenKind)
}

// verifiedClaims returns the claims of a token whose signature, issuer,
// audience and expiry check out: from the cache when this process has
// verified the same token before (its key still in the keyring, its expiry
// checked again now), else by verifying it and caching the result.
func (is *Issuer) verifiedClaims(ctx context.Context, raw string) (Claims, error) {
	key := cacheKey(raw)
	if v, ok := is.verified.get(key); ok {
		if _, known := is.ring.Load().byID[v.kid]; known && is.opts.Now().Before(v.claims.ExpiresAt.Time) {
			return v.claims, nil
		}
		is.verified.remove(key)
	}
	var (
		c   Claims
		kid string
	)
	_, err := jwt.ParseWithClaims(raw, &c, func(t *jwt.Token) (any, error) {
		if typ, _ := t.Header["typ"].(string); typ == AssertionType {
			return nil, errors.New("a gateway assertion is not a bearer token")
		}
		kid, _ = t.Header["kid"].(string)
		is.signatureChecks.Add(1)
		return is.verificationKey(ctx, kid)
	},
		jwt.WithValidMethods([]string{jwt.SigningMethodES256.Alg()}),
		jwt.WithIssuer(is.opts.Issuer),
		jwt.WithAudience(is.opts.Issuer),
		jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(is.opts.Now),
	)
	if err != nil {
		return Claims{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	is.verified.add(key, verifiedToken{claims: c, kid: kid}) // WithExpirationRequired: ExpiresAt is set
	return c, nil
}

// Verify parses a recorded token (login, PAT, service account) and checks
// the store: it must exist, match the claims and not be revoked. It returns
// the token's record, read in one query with its user and access token
// (VerifyBearer returns those too). The signature is checked once per process (the
// cache); the store, on every request, so that revocation and
// deactivation take effect at once.
func (is *Issuer) Verify(ctx context.Context, raw string, kinds ...string) (Claims, store.Token, error) {
	c, b, err := is.VerifyBearer(ctx, raw, kinds...)
	return c, b.Token, err
}

// VerifyBearer is Verify returning the token's user and, for a machine,
// its access token too, read in the same query.
func (is *Issuer) VerifyBearer(ctx context.Context, raw string, kinds ...string) (Claims, store.Bearer, error) {
	c, err := is.parse(ctx, raw, kinds...)
	if err != nil {
		return Claims{}, store.Bearer{}, err
	}
	b, err := is.store.GetBearer(ctx, c.ID, c.AppMetadata.TokenKind)
	if errors.Is(err, store.ErrNotFound) {
		return Claims{}, store.Bearer{}, fmt.Errorf("%w: token %s not recorded", ErrInvalid, c.ID)
	}
	if err != nil {
		return Claims{}, store.Bearer{}, fmt.Errorf("load token %s: %w", c.ID, err)
	}
	t := b.Token
	if t.RevokedAt != nil {
		return Claims{}, store.Bearer{}, fmt.Errorf("%w: token %s revoked", ErrInvalid, t.ID)
	}
	if t.Kind != c.AppMetadata.TokenKind || t.UserID != c.Subject || t.OrgID != c.AppMetadata.OrgID {
		return Claims{}, store.Bearer{}, fmt.Errorf("%w: token %s claims differ from its record", ErrInvalid, t.ID)
	}
	if !is.opts.Now().Before(t.ExpiresAt) {
		return Claims{}, store.Bearer{}, fmt.Errorf("%w: token %s expired", ErrInvalid, t.ID)
	}
	return c, b, nil
}

// JWKS returns the public keys of the keyring, newest first, as a JSON Web
// Key Set document: a rotated-in key is in it before it signs, and retired
// keys stay in it until they are pruned.
func (is *Issuer) JWKS() map[string]any {
	var keys []map[string]string
	for _, k := range is.ring.Load().keys {
		point, err := k.priv.PublicKey.Bytes() // 0x04 || X || Y
		if err != nil {
			panic("a P-256 key always encodes: " + err.Error())
		}
		x, y := point[1:33], point[33:65]
		keys = append(keys, map[string]string{
			"kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig", "kid": k.kid,
			"x": base64.RawURLEncoding.EncodeToString(x),
			"y": base64.RawURLEncoding.EncodeToString(y),
		})
	}
	return map[string]any{"keys": keys}
}
