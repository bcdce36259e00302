package webauthn

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"countersign/store"
)

// Recovery (spec §4.8): a person who lost every passkey proves their
// mailbox with a verification code and their recovery key by signing the
// new credentials, or opens a reset link an administrator issued; then
// every earlier credential and token is replaced at once (store.Recover).

// ErrRecoveryCredential: the recovery credential named at recovery is not
// an active recovery key of the person (told apart from ErrCode, since by
// then the verification code has proved the mailbox).
var ErrRecoveryCredential = errors.New("not an active recovery key of this user")

// RecoveryChallenge is the server side of /auth/recover/user/init and of a
// reset link: the challenge the new credentials attest.
type RecoveryChallenge struct {
	ID        string // also the temporary token's id
	Challenge string
	User      store.User
	Key       *store.Credential // the recovery key that must sign; nil for a reset link
	IssuedBy  string            // who issued the reset link ("" for the operator)
	ExpiresAt time.Time
}

type recoveryData struct {
	CodePurpose string `json:"codePurpose"`
	CodeHash    []byte `json:"codeHash"`
	KeyID       string `json:"keyId,omitempty"` // cr-… of the recovery key (CodeRecovery)
	IssuedBy    string `json:"issuedBy,omitempty"`
}

// RecoveryCode is what a request for a recovery code yields: the person to
// write to and the code, or a zero User when there is nobody to write to.
type RecoveryCode struct {
	User           store.User
	Code           string // "" when the person holds no recovery key
	HasRecoveryKey bool
	ExpiresAt      time.Time
}

// recoverable loads the active, registered person who may recover under
// username, or a zero User.
func (cs *Ceremonies) recoverable(ctx context.Context, orgID, username string) (store.User, error) {
	u, err := cs.store.GetUserByUsername(ctx, orgID, strings.TrimSpace(username))
	if errors.Is(err, store.ErrNotFound) {
		return store.User{}, nil
	}
	if err != nil {
		return store.User{}, fmt.Errorf("load user: %w", err)
	}
	if !u.IsActive || u.IsArchived || !u.IsRegistered || u.IsServiceAccount {
		return store.User{}, nil
	}
	return u, nil
}

// NewRecoveryCode gives the person under username, if there is one who can
// recover, a fresh verification code (replacing any earlier one) when they
// hold a recovery key. Whatever the username, it answers without error:
// the caller sends the mail, and answers every requester alike.
func (cs *Ceremonies) NewRecoveryCode(ctx context.Context, orgID, username string) (RecoveryCode, error) {
	u, err := cs.recoverable(ctx, orgID, username)
	if err != nil || u.ID == "" {
		return RecoveryCode{}, err
	}
	keys, err := cs.recoveryKeys(ctx, u.ID)
	if err != nil {
		return RecoveryCode{}, err
	}
	out := RecoveryCode{User: u, HasRecoveryKey: len(keys) > 0}
	if !out.HasRecoveryKey {
		return out, nil
	}
	now := cs.opts.Now().UTC()
	out.Code, out.ExpiresAt = NewVerificationCode(), now.Add(cs.opts.RecoveryCodeTTL)
	err = cs.store.PutCode(ctx, store.Code{
		Purpose: store.CodeRecovery, UserID: u.ID, OrgID: u.OrgID, CodeHash: HashOneTimeCode(out.Code),
		CreatedAt: now, ExpiresAt: out.ExpiresAt,
	})
	if err != nil {
		return RecoveryCode{}, fmt.Errorf("store recovery code of %s: %w", u.ID, err)
	}
	return out, nil
}

func (cs *Ceremonies) recoveryKeys(ctx context.Context, userID string) ([]store.Credential, error) {
	creds, err := cs.store.ListCredentials(ctx, userID)
	if err != nil {
		return nil, fmt.Errorf("list credentials of %s: %w", userID, err)
	}
	var keys []store.Credential
	for _, c := range creds {
		if c.Kind == store.CredentialRecoveryKey && c.IsActive && !c.IsArchived && c.TokenID == "" {
			keys = append(keys, c)
		}
	}
	return keys, nil
}

// BeginRecovery checks a verification code and the recovery key it is
// for, and stores the recovery challenge. An unknown, inactive or
// unregistered user and a wrong, expired or used code are one ErrCode; a
// recovery credential that is not the person's active recovery key is
// ErrRecoveryCredential. Nothing is consumed: the code is spent by the
// recovery that succeeds.
func (cs *Ceremonies) BeginRecovery(ctx context.Context, orgID, username, verificationCode, credID string) (RecoveryChallenge, error) {
	u, err := cs.recoverable(ctx, orgID, username)
	if err != nil {
		return RecoveryChallenge{}, err
	}
	sum := HashOneTimeCode(verificationCode)
	if err := cs.checkCode(ctx, u, store.CodeRecovery, sum); err != nil {
		return RecoveryChallenge{}, err
	}
	key, err := cs.RecoveryKeyOf(ctx, u, credID)
	if err != nil {
		return RecoveryChallenge{}, err
	}
	return cs.BeginRecoveryWith(ctx, u, sum, key)
}

// RecoveryKeyOf returns u's active recovery key of credential id credID;
// any other credential, or none, is ErrRecoveryCredential.
func (cs *Ceremonies) RecoveryKeyOf(ctx context.Context, u store.User, credID string) (store.Credential, error) {
	cred, err := cs.store.GetCredentialByCredID(ctx, credID)
	if errors.Is(err, store.ErrNotFound) {
		return store.Credential{}, fmt.Errorf("credential %q: %w", credID, ErrRecoveryCredential)
	}
	if err != nil {
		return store.Credential{}, fmt.Errorf("load credential: %w", err)
	}
	if cred.UserID != u.ID || cred.Kind != store.CredentialRecoveryKey || !cred.IsActive || cred.IsArchived || cred.TokenID != "" {
		return store.Credential{}, fmt.Errorf("credential %s of %s, kind %s, active %t: %w", cred.ID, cred.UserID, cred.Kind, cred.IsActive, ErrRecoveryCredential)
	}
	return cred, nil
}

// BeginRecoveryWith stores the challenge of a recovery by u's recovery key
// key that consumes, when it succeeds, u's recovery code of hash sum.
func (cs *Ceremonies) BeginRecoveryWith(ctx context.Context, u store.User, sum []byte, key store.Credential) (RecoveryChallenge, error) {
	rc, err := cs.storeRecoveryChallenge(ctx, u, recoveryData{CodePurpose: store.CodeRecovery, CodeHash: sum, KeyID: key.ID})
	if err != nil {
		return RecoveryChallenge{}, err
	}
	rc.Key = &key
	return rc, nil
}

// NewDelegatedRecoveryCode prepares, without storing, the recovery code a
// delegated recovery (spec §4.8 /auth/recover/user/delegated) stands on:
// the service account's signed request takes the place of the mailed
// verification code, and this one, shown to nobody, is what the recovery
// consumes. It replaces any code mailed to u before.
func (cs *Ceremonies) NewDelegatedRecoveryCode(u store.User, issuedBy string) store.Code {
	now := cs.opts.Now().UTC()
	return store.Code{
		Purpose: store.CodeRecovery, UserID: u.ID, OrgID: u.OrgID, CodeHash: HashOneTimeCode(NewSecretCode()),
		IssuedBy: issuedBy, CreatedAt: now, ExpiresAt: now.Add(cs.opts.RecoveryCodeTTL),
	}
}

// checkCode compares, in constant time, a code's hash with u's code of
// purpose; every failure is ErrCode. A zero u (nobody to recover) costs
// the same read.
func (cs *Ceremonies) checkCode(ctx context.Context, u store.User, purpose string, sum []byte) error {
	c, err := cs.store.GetCode(ctx, purpose, u.ID)
	if errors.Is(err, store.ErrNotFound) || u.ID == "" {
		return fmt.Errorf("no %s code for %q: %w", purpose, u.ID, ErrCode)
	}
	if err != nil {
		return fmt.Errorf("load %s code: %w", purpose, err)
	}
	if subtle.ConstantTimeCompare(c.CodeHash, sum) != 1 {
		return fmt.Errorf("wrong %s code for %s: %w", purpose, u.ID, ErrCode)
	}
	if !cs.opts.Now().Before(c.ExpiresAt) {
		return fmt.Errorf("%s code of %s expired: %w", purpose, u.ID, ErrCode)
	}
	return nil
}

func (cs *Ceremonies) storeRecoveryChallenge(ctx context.Context, u store.User, data recoveryData) (RecoveryChallenge, error) {
	raw, err := json.Marshal(data)
	if err != nil {
		return RecoveryChallenge{}, fmt.Errorf("encode recovery data: %w", err)
	}
	now := cs.opts.Now().UTC()
	ch := store.Challenge{
		ID: store.NewID("ch"), Purpose: store.PurposeRecovery, Challenge: newChallenge(),
		OrgID: u.OrgID, UserID: u.ID, Data: raw, CreatedAt: now, ExpiresAt: now.Add(cs.opts.ChallengeTTL),
	}
	if err := cs.store.CreateChallengeCapped(ctx, ch, cs.opts.MaxOpenChallenges); err != nil {
		return RecoveryChallenge{}, fmt.Errorf("store recovery challenge: %w", err)
	}
	return RecoveryChallenge{ID: ch.ID, Challenge: ch.Challenge, User: u, IssuedBy: data.IssuedBy, ExpiresAt: ch.ExpiresAt}, nil
}

// ResetLink is a reset link's code, shown or mailed once, and what the
// store keeps of it.
type ResetLink struct {
	User      store.User
	Code      string
	ExpiresAt time.Time
	Stored    store.Code
}

// NewResetLink prepares, without storing, a reset link for u issued by
// issuedBy (a user id, or "" for the operator).
func (cs *Ceremonies) NewResetLink(u store.User, issuedBy string) ResetLink {
	now := cs.opts.Now().UTC()
	code := NewSecretCode()
	l := ResetLink{User: u, Code: code, ExpiresAt: now.Add(cs.opts.ResetTTL)}
	l.Stored = store.Code{
		Purpose: store.CodeReset, UserID: u.ID, OrgID: u.OrgID, CodeHash: HashOneTimeCode(code),
		IssuedBy: issuedBy, CreatedAt: now, ExpiresAt: l.ExpiresAt,
	}
	return l
}

// ErrNotRecoverable: the user is not an active, registered person, so a
// reset link would not work (an unregistered one needs an invitation).
var ErrNotRecoverable = errors.New("user cannot be recovered")

// IssueResetByOperator stores a reset link for username of orgID (the
// first organisation when empty), for `countersign recover`: whoever runs
// it reads the data directory, and holds every key already.
func (cs *Ceremonies) IssueResetByOperator(ctx context.Context, orgID, username string) (ResetLink, error) {
	org, err := cs.inviteOrg(ctx, orgID)
	if err != nil {
		return ResetLink{}, err
	}
	u, err := cs.store.GetUserByUsername(ctx, org.ID, strings.TrimSpace(username))
	if err != nil {
		return ResetLink{}, fmt.Errorf("load user %q: %w", username, err)
	}
	if !u.IsActive || u.IsArchived || !u.IsRegistered || u.IsServiceAccount {
		return ResetLink{}, fmt.Errorf("user %s (active %t, registered %t): %w", u.ID, u.IsActive, u.IsRegistered, ErrNotRecoverable)
	}
	l := cs.NewResetLink(u, "")
	if err := cs.store.PutCode(ctx, l.Stored); err != nil {
		return ResetLink{}, fmt.Errorf("store reset link of %s: %w", u.ID, err)
	}
	return l, nil
}

// CheckResetLink returns the person and the stored code of a reset link
// that can still be used; every refusal is ErrCode.
func (cs *Ceremonies) CheckResetLink(ctx context.Context, code string) (store.User, store.Code, error) {
	c, err := cs.store.FindCode(ctx, store.CodeReset, HashOneTimeCode(code), cs.opts.Now())
	if errors.Is(err, store.ErrNotFound) {
		return store.User{}, store.Code{}, fmt.Errorf("unknown reset link: %w", ErrCode)
	}
	if err != nil {
		return store.User{}, store.Code{}, fmt.Errorf("find reset link: %w", err)
	}
	u, err := cs.store.GetUser(ctx, c.UserID)
	if err != nil {
		return store.User{}, store.Code{}, fmt.Errorf("load user %s: %w", c.UserID, err)
	}
	if !u.IsActive || u.IsArchived || !u.IsRegistered || u.IsServiceAccount {
		return store.User{}, store.Code{}, fmt.Errorf("user %s cannot be reset: %w", u.ID, ErrCode)
	}
	return u, c, nil
}

// BeginReset starts the recovery a reset link allows: no recovery key is
// needed, the link is the proof.
func (cs *Ceremonies) BeginReset(ctx context.Context, code string) (RecoveryChallenge, error) {
	u, c, err := cs.CheckResetLink(ctx, code)
	if err != nil {
		return RecoveryChallenge{}, err
	}
	return cs.storeRecoveryChallenge(ctx, u, recoveryData{CodePurpose: store.CodeReset, CodeHash: c.CodeHash, IssuedBy: c.IssuedBy})
}

// RecoveryRequest is the body of /auth/recover/user, decoded.
type RecoveryRequest struct {
	// Assertion is the recovery key's signature, whose challenge is
	// base64url(JSON of the new credentials); nil for a reset link.
	Assertion *Assertion
	// NewCredentials is the newCredentials object exactly as received.
	NewCredentials []byte
	First          NewCredential
	Recovery       *NewCredential // a new recovery key, optional
}

// PendingRecovery is a recovery challenge whose request verified: what
// FinishRecovery stores, once the caller has made its last checks.
type PendingRecovery struct {
	Challenge   RecoveryChallenge
	Credentials []store.Credential
	recovery    store.Recovery
}

// VerifyRecovery burns the recovery challenge and verifies the request: the
// recovery key's signature over exactly the new credentials (a recovery
// key ceremony), and each new credential's attestation of the challenge.
// Failures are ErrChallenge or ErrVerification (ErrInvalidInput for a
// signature a reset link does not take).
func (cs *Ceremonies) VerifyRecovery(ctx context.Context, challengeID string, r RecoveryRequest) (PendingRecovery, error) {
	ch, err := cs.consume(ctx, challengeID, store.PurposeRecovery)
	if err != nil {
		return PendingRecovery{}, err
	}
	var data recoveryData
	if err := json.Unmarshal(ch.Data, &data); err != nil {
		return PendingRecovery{}, fmt.Errorf("decode recovery data: %w", err)
	}
	u, err := cs.store.GetUser(ctx, ch.UserID)
	if err != nil {
		return PendingRecovery{}, fmt.Errorf("load user %s: %w", ch.UserID, err)
	}
	p := PendingRecovery{Challenge: RecoveryChallenge{ID: ch.ID, Challenge: ch.Challenge, User: u, IssuedBy: data.IssuedBy, ExpiresAt: ch.ExpiresAt}}
	p.recovery = store.Recovery{UserID: u.ID, OrgID: ch.OrgID, CodePurpose: data.CodePurpose, CodeHash: data.CodeHash}
	switch data.CodePurpose {
	case store.CodeRecovery:
		key, err := cs.verifyRecoveryKey(ctx, u, data.KeyID, r)
		if err != nil {
			return PendingRecovery{}, err
		}
		p.Challenge.Key, p.recovery.RecoveryCredentialID = &key, key.ID
	case store.CodeReset:
		if r.Assertion != nil {
			return PendingRecovery{}, fmt.Errorf("a reset link takes no recovery signature: %w", ErrInvalidInput)
		}
	default:
		return PendingRecovery{}, fmt.Errorf("recovery challenge %s of purpose %q: %w", ch.ID, data.CodePurpose, ErrChallenge)
	}
	creds, err := cs.verifyNewCredentials(ch, u, r.First, r.Recovery)
	if err != nil {
		return PendingRecovery{}, err
	}
	p.Credentials, p.recovery.Credentials = creds, creds
	return p, nil
}

// verifyRecoveryKey checks that the assertion is by the recovery key the
// challenge was begun for, still active, and signs exactly the new
// credentials sent.
func (cs *Ceremonies) verifyRecoveryKey(ctx context.Context, u store.User, keyID string, r RecoveryRequest) (store.Credential, error) {
	if r.Assertion == nil {
		return store.Credential{}, fmt.Errorf("no recovery signature: %w", ErrVerification)
	}
	key, err := cs.store.GetCredential(ctx, keyID)
	if err != nil {
		return store.Credential{}, fmt.Errorf("load recovery key %s: %w", keyID, err)
	}
	switch {
	case key.UserID != u.ID || key.Kind != store.CredentialRecoveryKey:
		return store.Credential{}, fmt.Errorf("credential %s is not a recovery key of %s: %w", key.ID, u.ID, ErrVerification)
	case !key.IsActive || key.IsArchived:
		return store.Credential{}, fmt.Errorf("recovery key %s is inactive or archived: %w", key.ID, ErrVerification)
	case r.Assertion.CredID != key.CredID:
		return store.Credential{}, fmt.Errorf("assertion by %q, the challenge is for %s: %w", r.Assertion.CredID, key.CredID, ErrVerification)
	}
	a := r.Assertion
	if err := VerifyRecoveryAssertion(string(key.PublicKey), a.ClientData, a.Signature, a.Algorithm, r.NewCredentials); err != nil {
		return store.Credential{}, fmt.Errorf("recovery assertion by %s: %w", key.ID, err)
	}
	return key, nil
}

// FinishRecovery stores a verified recovery with its audit entry (the
// caller's Method, Path, Payload, Summary and ID; the rest is filled in
// here), replacing every credential and token of the person at once. A
// code used meanwhile, a recovery key archived meanwhile or a person
// deactivated meanwhile is ErrCode: the transaction checks all three.
func (cs *Ceremonies) FinishRecovery(ctx context.Context, p PendingRecovery, audit store.AuditEntry, r RecoveryRequest) (store.User, store.Credential, error) {
	u := p.Challenge.User
	now := cs.opts.Now().UTC()
	audit.OrgID, audit.UserID, audit.Username, audit.CreatedAt = u.OrgID, u.ID, u.Username, now
	if k := p.Challenge.Key; k != nil {
		audit.CredentialID, audit.CredentialKind, audit.CredentialPublicKey = k.ID, k.Kind, string(k.PublicKey)
		audit.ClientData, audit.Signature = r.Assertion.ClientData, r.Assertion.Signature
	}
	rec := p.recovery
	rec.Now, rec.Audit = now, audit
	err := cs.store.Recover(ctx, rec)
	if errors.Is(err, store.ErrNotFound) {
		return store.User{}, store.Credential{}, fmt.Errorf("recover %s: %w: %w", u.ID, err, ErrCode)
	}
	if err != nil {
		return store.User{}, store.Credential{}, fmt.Errorf("recover %s: %w", u.ID, err)
	}
	return u, p.Credentials[0], nil
}

// VerifyRecoveryAssertion checks a recovery key's assertion (spec §4.8): a
// Key assertion (§2.3) whose clientData is a JSON object of type "key.get"
// whose challenge is base64url of the JSON of the new credentials. The
// challenge is decoded and compared with newCredentials as JSON values
// (strict parse, spec §8.9: byte-exact re-serialisation is fragile), so
// the key signs exactly what is registered. Failures wrap ErrVerification.
func VerifyRecoveryAssertion(pemKey string, clientData, sig []byte, algorithm string, newCredentials []byte) error {
	fields, err := jsonStringFields(clientData, "type", "challenge")
	if err != nil {
		return fmt.Errorf("recovery client data: %w", err)
	}
	if fields[0] != keyTypeGet {
		return fmt.Errorf("recovery client data type %q, want %q: %w", fields[0], keyTypeGet, ErrVerification)
	}
	signed, err := DecodeBase64URL(fields[1])
	if err != nil || len(signed) == 0 || len(newCredentials) == 0 || !PayloadEqual(signed, newCredentials) {
		return fmt.Errorf("the recovery signature is over other new credentials than the ones sent: %w", ErrVerification)
	}
	pub, err := ParsePublicKeyPEM(pemKey)
	if err != nil {
		return fmt.Errorf("recovery key: %w: %w", err, ErrVerification)
	}
	return VerifyKeySignature(pub, clientData, sig, algorithm)
}
