package webauthn

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"countersign/store"
)

// Credential codes (spec §4.3 code variants): a signed-in person makes a
// short-lived one-time code (a signed change), and another device, where
// nobody is signed in, trades it for a credential challenge and registers
// a passkey or key with it.

// CredentialCode is a new credential code, shown once, and what the store
// keeps of it.
type CredentialCode struct {
	Code      string
	ExpiresAt time.Time
	Stored    store.Code
}

// NewCredentialCode prepares, without storing, a credential code of u that
// expires at expiresAt: in the future and at most MaxCredentialCodeTTL
// away, else ErrInvalidInput.
func (cs *Ceremonies) NewCredentialCode(u store.User, expiresAt time.Time) (CredentialCode, error) {
	now := cs.opts.Now().UTC()
	if !expiresAt.After(now) || expiresAt.Sub(now) > cs.opts.MaxCredentialCodeTTL {
		return CredentialCode{}, fmt.Errorf("expiration must be in the next %s: %w", cs.opts.MaxCredentialCodeTTL, ErrInvalidInput)
	}
	code := NewSecretCode()
	expiresAt = expiresAt.UTC().Truncate(time.Millisecond)
	return CredentialCode{Code: code, ExpiresAt: expiresAt, Stored: store.Code{
		Purpose: store.CodeCredential, UserID: u.ID, OrgID: u.OrgID, CodeHash: HashOneTimeCode(code),
		CreatedAt: now, ExpiresAt: expiresAt,
	}}, nil
}

type codeCredentialData struct {
	CodeHash []byte `json:"codeHash"`
	Kind     string `json:"kind"`
}

// BeginCodeCredential trades a credential code for a credential challenge
// of its person (spec §4.3 /auth/credentials/code/init). The code is not
// spent: the credential it adds spends it. A wrong, expired or used code,
// or a person who can no longer sign in, is ErrCode.
func (cs *Ceremonies) BeginCodeCredential(ctx context.Context, code, kind string) (CredentialChallenge, error) {
	if kind != store.CredentialFido2 && kind != store.CredentialKey {
		return CredentialChallenge{}, fmt.Errorf("credential kind %q with a code: %w", kind, ErrUnsupportedKind)
	}
	c, err := cs.store.FindCode(ctx, store.CodeCredential, HashOneTimeCode(code), cs.opts.Now())
	if errors.Is(err, store.ErrNotFound) {
		return CredentialChallenge{}, fmt.Errorf("unknown credential code: %w", ErrCode)
	}
	if err != nil {
		return CredentialChallenge{}, fmt.Errorf("find credential code: %w", err)
	}
	u, err := cs.store.GetUser(ctx, c.UserID)
	if err != nil {
		return CredentialChallenge{}, fmt.Errorf("load user %s: %w", c.UserID, err)
	}
	if !u.IsActive || u.IsArchived || !u.IsRegistered || u.IsServiceAccount {
		return CredentialChallenge{}, fmt.Errorf("user %s cannot add credentials: %w", u.ID, ErrCode)
	}
	creds, err := cs.store.ListCredentials(ctx, u.ID)
	if err != nil {
		return CredentialChallenge{}, fmt.Errorf("list credentials of %s: %w", u.ID, err)
	}
	cc := CredentialChallenge{ID: store.NewID("ch"), Kind: kind, Challenge: newChallenge(), User: u, Exclude: []AllowedCredential{}}
	for _, cr := range creds {
		if cr.Kind == store.CredentialFido2 && cr.TokenID == "" && !cr.IsArchived {
			cc.Exclude = append(cc.Exclude, AllowedCredential{CredID: cr.CredID, Transports: cr.Transports})
		}
	}
	data, err := json.Marshal(codeCredentialData{CodeHash: c.CodeHash, Kind: kind})
	if err != nil {
		return CredentialChallenge{}, fmt.Errorf("encode code credential data: %w", err)
	}
	now := cs.opts.Now().UTC()
	err = cs.store.CreateChallengeCapped(ctx, store.Challenge{
		ID: cc.ID, Purpose: store.PurposeCodeCredential, Challenge: cc.Challenge, OrgID: u.OrgID, UserID: u.ID,
		Data: data, CreatedAt: now, ExpiresAt: now.Add(cs.opts.ChallengeTTL),
	}, cs.opts.MaxOpenChallenges)
	if err != nil {
		return CredentialChallenge{}, fmt.Errorf("store code credential challenge: %w", err)
	}
	return cc, nil
}

// FinishCodeCredential burns the challenge, verifies the new credential's
// attestation of it and, in one store transaction, spends the code and
// adds the credential with audit (ID, Method, Path, Payload and Summary
// from the caller). A code spent meanwhile is ErrCode.
func (cs *Ceremonies) FinishCodeCredential(ctx context.Context, challengeID string, nc NewCredential, audit store.AuditEntry) (store.User, store.Credential, error) {
	ch, err := cs.consume(ctx, challengeID, store.PurposeCodeCredential)
	if err != nil {
		return store.User{}, store.Credential{}, err
	}
	var data codeCredentialData
	if err := json.Unmarshal(ch.Data, &data); err != nil {
		return store.User{}, store.Credential{}, fmt.Errorf("decode code credential data: %w", err)
	}
	if nc.Kind != data.Kind {
		return store.User{}, store.Credential{}, fmt.Errorf("challenge is for a %s credential, got %s: %w", data.Kind, nc.Kind, ErrVerification)
	}
	if strings.TrimSpace(nc.Name) == "" || len(nc.Name) > 100 {
		return store.User{}, store.Credential{}, fmt.Errorf("credentialName must be 1 to 100 characters: %w", ErrInvalidInput)
	}
	u, err := cs.store.GetUser(ctx, ch.UserID)
	if err != nil {
		return store.User{}, store.Credential{}, fmt.Errorf("load user %s: %w", ch.UserID, err)
	}
	cred, err := cs.verifyNewCredential(ch, u, nc)
	if err != nil {
		return store.User{}, store.Credential{}, err
	}
	now := cs.opts.Now().UTC()
	audit.OrgID, audit.UserID, audit.Username, audit.CreatedAt = u.OrgID, u.ID, u.Username, now
	audit.CredentialID, audit.CredentialKind, audit.CredentialPublicKey = cred.ID, cred.Kind, CredentialPublicKeyPEM(cred)
	err = cs.store.CompleteCredentialCode(ctx, data.CodeHash, now, cred, audit)
	if errors.Is(err, store.ErrNotFound) {
		return store.User{}, store.Credential{}, fmt.Errorf("add credential with code: %w: %w", err, ErrCode)
	}
	if err != nil {
		return store.User{}, store.Credential{}, fmt.Errorf("add credential with code: %w", err)
	}
	return u, cred, nil
}

// CheckCredentialCode returns the person of a credential code that can
// still be used, without spending it; every refusal is ErrCode.
func (cs *Ceremonies) CheckCredentialCode(ctx context.Context, code string) (store.User, error) {
	c, err := cs.store.FindCode(ctx, store.CodeCredential, HashOneTimeCode(code), cs.opts.Now())
	if errors.Is(err, store.ErrNotFound) {
		return store.User{}, fmt.Errorf("unknown credential code: %w", ErrCode)
	}
	if err != nil {
		return store.User{}, fmt.Errorf("find credential code: %w", err)
	}
	u, err := cs.store.GetUser(ctx, c.UserID)
	if err != nil {
		return store.User{}, fmt.Errorf("load user %s: %w", c.UserID, err)
	}
	if !u.IsActive || u.IsArchived || !u.IsRegistered {
		return store.User{}, fmt.Errorf("user %s cannot add credentials: %w", u.ID, ErrCode)
	}
	return u, nil
}
