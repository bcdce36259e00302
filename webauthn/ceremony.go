package webauthn

import (
	"context"
	"crypto/cipher"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	gowebauthn "github.com/go-webauthn/webauthn/webauthn"

	"countersign/store"
)

// Store is what the ceremonies need from the persistence layer.
type Store interface {
	Invite(ctx context.Context, in store.Invitation) error
	ListOrgs(ctx context.Context) ([]store.Org, error)
	GetOrg(ctx context.Context, id string) (store.Org, error)
	GetUser(ctx context.Context, id string) (store.User, error)
	GetUserByUsername(ctx context.Context, orgID, username string) (store.User, error)
	GetUserByHandle(ctx context.Context, handle string) (store.User, error)
	GetRegistrationCode(ctx context.Context, userID string) (store.RegistrationCode, error)
	RenewRegistrationCode(ctx context.Context, code store.RegistrationCode) error
	CompleteRegistration(ctx context.Context, r store.Registration) error
	GetRegistrationResult(ctx context.Context, ceremonyID string, now time.Time) (store.RegistrationResult, error)
	GetCredentialByCredID(ctx context.Context, credID string) (store.Credential, error)
	ListCredentials(ctx context.Context, userID string) ([]store.Credential, error)
	RecordCredentialUse(ctx context.Context, id string, use store.CredentialUse) error
	CreateChallenge(ctx context.Context, c store.Challenge) error
	CreateChallengeCapped(ctx context.Context, c store.Challenge, maxOpen int) error
	ConsumeChallenge(ctx context.Context, id string, now time.Time) (store.Challenge, error)
	SpendChallenge(ctx context.Context, c store.SpentChallenge) error
	RecordAssertion(ctx context.Context, r store.AssertionRecord) error
	GetCredential(ctx context.Context, id string) (store.Credential, error)
	CreateUserAction(ctx context.Context, a store.UserAction) error
	GetUserActionCredential(ctx context.Context, id string) (store.UserAction, store.Credential, error)
	RecordUserActionMismatch(ctx context.Context, id string, now time.Time, limit int) (bool, error)
	PutCode(ctx context.Context, c store.Code) error
	GetCode(ctx context.Context, purpose, userID string) (store.Code, error)
	FindCode(ctx context.Context, purpose string, codeHash []byte, now time.Time) (store.Code, error)
	CompleteCredentialCode(ctx context.Context, codeHash []byte, now time.Time, c store.Credential, audit store.AuditEntry) error
	Recover(ctx context.Context, r store.Recovery) error
}

// Options configure the ceremonies. RP id, name and origins come from
// validated configuration, never from a request.
type Options struct {
	RPID         string
	RPName       string
	Origins      []string      // exact allow-list, e.g. http://localhost:8080
	ChallengeTTL time.Duration // default 5 min
	ActionTTL    time.Duration // lifetime of a user-action token, default 5 min
	CodeTTL      time.Duration // registration code lifetime, default 24 h
	// RecoveryCodeTTL is the lifetime of a recovery verification code
	// (default 15 min), ResetTTL of a reset link (default 24 h), and
	// MaxCredentialCodeTTL the longest a credential code may live (default
	// 5 min: it adds a credential to the account, unsigned).
	RecoveryCodeTTL      time.Duration
	ResetTTL             time.Duration
	MaxCredentialCodeTTL time.Duration
	UserVerification     string // "required" (default), "preferred" or "discouraged"
	// MaxOpenChallenges caps the open action and credential challenges of
	// one identity (default 32): asking for more replaces the oldest.
	MaxOpenChallenges int
	// ActionMismatches is how many uses of a user action on a request it was
	// not signed for spend it (default 3).
	ActionMismatches int
	DecoyKey         []byte // keys the decoy credential ids of unknown users
	// SealKey (32 bytes, a store secret: SealKeySecret) seals login and
	// action challenges; every replica must have the same.
	SealKey []byte
	Now     func() time.Time
	Logger  *slog.Logger
}

// Ceremonies runs registration and login against a store.
type Ceremonies struct {
	store  Store
	opts   Options
	fido   *gowebauthn.WebAuthn
	sealer cipher.AEAD
}

// New validates opts and returns the ceremonies.
func New(st Store, opts Options) (*Ceremonies, error) {
	if opts.ChallengeTTL == 0 {
		opts.ChallengeTTL = 5 * time.Minute
	}
	if opts.ActionTTL == 0 {
		opts.ActionTTL = 5 * time.Minute
	}
	if opts.CodeTTL == 0 {
		opts.CodeTTL = 24 * time.Hour
	}
	if opts.RecoveryCodeTTL == 0 {
		opts.RecoveryCodeTTL = 15 * time.Minute
	}
	if opts.ResetTTL == 0 {
		opts.ResetTTL = 24 * time.Hour
	}
	if opts.MaxCredentialCodeTTL == 0 {
		opts.MaxCredentialCodeTTL = 5 * time.Minute
	}
	if opts.UserVerification == "" {
		opts.UserVerification = "required"
	}
	if opts.MaxOpenChallenges == 0 {
		opts.MaxOpenChallenges = 32
	}
	if opts.ActionMismatches == 0 {
		opts.ActionMismatches = 3
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if err := opts.validate(); err != nil {
		return nil, err
	}
	fido, err := gowebauthn.New(&gowebauthn.Config{
		RPID:          opts.RPID,
		RPDisplayName: opts.RPName,
		RPOrigins:     opts.Origins,
	})
	if err != nil {
		return nil, fmt.Errorf("configure webauthn: %w", err)
	}
	sealer, err := newSealer(opts.SealKey)
	if err != nil {
		return nil, err
	}
	return &Ceremonies{store: st, opts: opts, fido: fido, sealer: sealer}, nil
}

func (o Options) validate() error {
	var errs []error
	if o.RPID == "" {
		errs = append(errs, errors.New("rp id is empty"))
	}
	if len(o.Origins) == 0 {
		errs = append(errs, errors.New("no origin configured"))
	}
	for _, origin := range o.Origins {
		u, err := url.Parse(origin)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || (u.Path != "" && u.Path != "/") {
			errs = append(errs, fmt.Errorf("origin %q is not scheme://host[:port]", origin))
			continue
		}
		host := u.Hostname()
		if host != o.RPID && !strings.HasSuffix(host, "."+o.RPID) {
			errs = append(errs, fmt.Errorf("origin %q is not within rp id %q", origin, o.RPID))
		}
	}
	switch o.UserVerification {
	case "required", "preferred", "discouraged":
	default:
		errs = append(errs, fmt.Errorf("user verification %q is not required, preferred or discouraged", o.UserVerification))
	}
	if o.ChallengeTTL < 0 || o.CodeTTL < 0 || o.RecoveryCodeTTL < 0 || o.ResetTTL < 0 || o.MaxCredentialCodeTTL < 0 {
		errs = append(errs, errors.New("lifetimes must be positive"))
	}
	if o.MaxOpenChallenges < 1 || o.ActionMismatches < 1 {
		errs = append(errs, errors.New("the open-challenge cap and the mismatch limit must be at least 1"))
	}
	return errors.Join(errs...)
}

// RPID is the relying party id the ceremonies verify against.
func (cs *Ceremonies) RPID() string { return cs.opts.RPID }

// RPName is the relying party's display name.
func (cs *Ceremonies) RPName() string { return cs.opts.RPName }

// MaxCredentialCodeTTL is the longest a credential code may live.
func (cs *Ceremonies) MaxCredentialCodeTTL() time.Duration { return cs.opts.MaxCredentialCodeTTL }

// UserVerification is the user verification requirement sent to clients.
func (cs *Ceremonies) UserVerification() string { return cs.opts.UserVerification }

// newChallenge returns base64url(ascii(hex(32 random bytes))), spec §2.1: an
// opaque string already in the base64url alphabet, never derived from input.
func newChallenge() string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("crypto/rand: " + err.Error())
	}
	return EncodeBase64URL([]byte(hex.EncodeToString(b[:])))
}

// consume burns a challenge and checks its purpose. Every failure is
// ErrChallenge: unknown, used, expired and wrong-purpose look the same.
func (cs *Ceremonies) consume(ctx context.Context, id, purpose string) (store.Challenge, error) {
	ch, err := cs.store.ConsumeChallenge(ctx, id, cs.opts.Now())
	if errors.Is(err, store.ErrNotFound) {
		return store.Challenge{}, fmt.Errorf("consume challenge: %w", ErrChallenge)
	}
	if err != nil {
		return store.Challenge{}, fmt.Errorf("consume challenge: %w", err)
	}
	if ch.Purpose != purpose {
		return store.Challenge{}, fmt.Errorf("challenge %s is for %s, not %s: %w", id, ch.Purpose, purpose, ErrChallenge)
	}
	return ch, nil
}

// CodeTTL is how long a registration code (an invitation) stays valid.
func (cs *Ceremonies) CodeTTL() time.Duration { return cs.opts.CodeTTL }
