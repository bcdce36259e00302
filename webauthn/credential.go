package webauthn

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"countersign/store"
)

// CredentialChallenge is the server side of /auth/credentials/init.
type CredentialChallenge struct {
	ID        string
	Kind      string
	Challenge string
	User      store.User
	Exclude   []AllowedCredential // the user's Fido2 credentials
}

type credentialData struct {
	Identity string `json:"identity"`
	Kind     string `json:"kind"`
}

// BeginCredential stores the challenge a new credential of the caller will
// attest (spec §4.3).
func (cs *Ceremonies) BeginCredential(ctx context.Context, id Identity, kind string) (CredentialChallenge, error) {
	if kind != store.CredentialFido2 && kind != store.CredentialKey && kind != store.CredentialRecoveryKey {
		return CredentialChallenge{}, fmt.Errorf("credential kind %q: %w", kind, ErrUnsupportedKind)
	}
	u, err := cs.store.GetUser(ctx, id.UserID)
	if err != nil {
		return CredentialChallenge{}, fmt.Errorf("load user %s: %w", id.UserID, err)
	}
	creds, err := cs.store.ListCredentials(ctx, u.ID)
	if err != nil {
		return CredentialChallenge{}, fmt.Errorf("list credentials of %s: %w", u.ID, err)
	}
	cc := CredentialChallenge{ID: store.NewID("ch"), Kind: kind, Challenge: newChallenge(), User: u, Exclude: []AllowedCredential{}}
	for _, c := range creds {
		if c.Kind == store.CredentialFido2 && c.TokenID == "" && !c.IsArchived {
			cc.Exclude = append(cc.Exclude, AllowedCredential{CredID: c.CredID, Transports: c.Transports})
		}
	}
	data, err := json.Marshal(credentialData{Identity: id.ID, Kind: kind})
	if err != nil {
		return CredentialChallenge{}, fmt.Errorf("encode credential data: %w", err)
	}
	now := cs.opts.Now().UTC()
	err = cs.store.CreateChallengeCapped(ctx, store.Challenge{
		ID: cc.ID, Purpose: store.PurposeCredential, Challenge: cc.Challenge, OrgID: id.OrgID, UserID: u.ID,
		TokenID: id.TokenID, Data: data, CreatedAt: now, ExpiresAt: now.Add(cs.opts.ChallengeTTL),
	}, cs.opts.MaxOpenChallenges)
	if err != nil {
		return CredentialChallenge{}, fmt.Errorf("store credential challenge: %w", err)
	}
	return cc, nil
}

// FinishCredential burns the credential challenge and verifies the new
// credential's attestation of it. It returns the credential ready to store;
// storing it is a signed change the caller makes with its user action.
func (cs *Ceremonies) FinishCredential(ctx context.Context, id Identity, challengeID string, nc NewCredential) (store.Credential, error) {
	ch, err := cs.consume(ctx, challengeID, store.PurposeCredential)
	if err != nil {
		return store.Credential{}, err
	}
	var data credentialData
	if err := json.Unmarshal(ch.Data, &data); err != nil {
		return store.Credential{}, fmt.Errorf("decode credential data: %w", err)
	}
	if data.Identity != id.ID || ch.OrgID != id.OrgID {
		return store.Credential{}, fmt.Errorf("credential challenge %s was begun by %s: %w", ch.ID, data.Identity, ErrChallenge)
	}
	if nc.Kind != data.Kind {
		return store.Credential{}, fmt.Errorf("challenge is for a %s credential, got %s: %w", data.Kind, nc.Kind, ErrVerification)
	}
	if strings.TrimSpace(nc.Name) == "" || len(nc.Name) > 100 {
		return store.Credential{}, fmt.Errorf("credentialName must be 1 to 100 characters: %w", ErrInvalidInput)
	}
	u, err := cs.store.GetUser(ctx, id.UserID)
	if err != nil {
		return store.Credential{}, fmt.Errorf("load user %s: %w", id.UserID, err)
	}
	return cs.verifyNewCredential(ch, u, nc)
}
