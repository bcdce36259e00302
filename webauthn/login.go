package webauthn

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	gowebauthn "github.com/go-webauthn/webauthn/webauthn"

	"countersign/store"
)

// Assertion is a signed challenge (spec §3 SignedChallenge.firstFactor) with
// its wire fields base64url-decoded.
type Assertion struct {
	Kind              string // store.CredentialFido2 or store.CredentialKey
	CredID            string
	ClientData        []byte
	AuthenticatorData []byte // Fido2 only
	Signature         []byte
	UserHandle        []byte // Fido2, optional
	Algorithm         string // Key, optional
}

// AllowedCredential is one entry of a challenge's allowCredentials.
type AllowedCredential struct {
	CredID     string
	Transports []string
}

// LoginChallenge is the server side of /auth/login/init (and, later, of
// /auth/action/init, which has the same shape).
type LoginChallenge struct {
	ID        string
	Challenge string
	Fido2     []AllowedCredential
	Keys      []AllowedCredential
	ExpiresAt time.Time
}

// loginData is what a login challenge remembers besides its identity.
type loginData struct {
	Allowed []string `json:"allowed"` // credIds a named user may answer with
}

// BeginLogin seals a login challenge (seal.go: nothing is stored). With a username it lists that user's
// active credentials; an unknown, inactive or unregistered user gets the same
// shape with a stable decoy credential id, so the answer does not tell
// whether the account exists. Without a username the challenge is for a
// discoverable passkey, and allowCredentials is empty.
func (cs *Ceremonies) BeginLogin(ctx context.Context, orgID, username string) (LoginChallenge, error) {
	now := cs.opts.Now().UTC()
	ch := store.Challenge{
		ID: store.NewID("ch"), Purpose: store.PurposeLogin, Challenge: newChallenge(),
		OrgID: orgID, CreatedAt: now, ExpiresAt: now.Add(cs.opts.ChallengeTTL),
	}
	lc := LoginChallenge{ID: ch.ID, Challenge: ch.Challenge, Fido2: []AllowedCredential{}, Keys: []AllowedCredential{}, ExpiresAt: ch.ExpiresAt}
	var data loginData
	if username = strings.TrimSpace(username); username != "" {
		u, creds, err := cs.loginCandidate(ctx, orgID, username)
		if err != nil {
			return LoginChallenge{}, err
		}
		ch.UserID = u.ID
		for _, c := range creds {
			data.Allowed = append(data.Allowed, c.CredID)
			ac := AllowedCredential{CredID: c.CredID, Transports: c.Transports}
			if c.Kind == store.CredentialKey {
				lc.Keys = append(lc.Keys, ac)
			} else {
				lc.Fido2 = append(lc.Fido2, ac)
			}
		}
		if u.ID == "" {
			id, key, transports := cs.decoy(orgID, username)
			if key {
				lc.Keys = append(lc.Keys, AllowedCredential{CredID: id})
			} else {
				lc.Fido2 = append(lc.Fido2, AllowedCredential{CredID: id, Transports: transports})
			}
		}
	}
	raw, err := json.Marshal(data)
	if err != nil {
		return LoginChallenge{}, fmt.Errorf("encode login data: %w", err)
	}
	ch.Data = raw
	if lc.ID, err = cs.seal(ch); err != nil {
		return LoginChallenge{}, err
	}
	return lc, nil
}

// loginCandidate returns the user who may log in under username and their
// active credentials, or a zero user when there is none.
func (cs *Ceremonies) loginCandidate(ctx context.Context, orgID, username string) (store.User, []store.Credential, error) {
	u, err := cs.store.GetUserByUsername(ctx, orgID, username)
	if errors.Is(err, store.ErrNotFound) {
		// The same reads as for a real user, so the answer takes as long.
		_, _ = cs.store.ListCredentials(ctx, "")
		return store.User{}, nil, nil
	}
	if err != nil {
		return store.User{}, nil, fmt.Errorf("load user: %w", err)
	}
	if !u.IsActive || !u.IsRegistered {
		return store.User{}, nil, nil
	}
	if u.IsServiceAccount {
		return store.User{}, nil, nil // machines use their access token, never log in
	}
	active, err := cs.signingCredentials(ctx, Identity{UserID: u.ID, TokenKind: store.TokenLogin})
	if err != nil {
		return store.User{}, nil, err
	}
	return u, active, nil
}

// decoyTransports are the transports passkeys register with: those the
// console sends, and none, as passkeys registered through the SDK have.
var decoyTransports = [][]string{{"hybrid", "internal"}, {"internal"}, {"usb"}, {"nfc", "usb"}, nil}

// decoy is the one credential an unknown username is offered: a passkey
// with the transports of one kind of real passkey, or (for a quarter of
// usernames) a Key credential, so that the shape of the answer does not
// tell a real account from none. It stays the same for a given username,
// keyed by a server secret so nobody can compute it.
func (cs *Ceremonies) decoy(orgID, username string) (credID string, key bool, transports []string) {
	m := hmac.New(sha256.New, cs.opts.DecoyKey)
	m.Write([]byte(orgID + "\x00" + strings.ToLower(username)))
	sum := m.Sum(nil)
	return EncodeBase64URL(sum), sum[1]%4 == 0, slices.Clone(decoyTransports[int(sum[0])%len(decoyTransports)])
}

// LoginRecords makes what a verified login writes with it: its login
// token and its sign-in event (either may be nil).
type LoginRecords func(u store.User, cred store.Credential) (*store.Token, *store.SignInEvent)

// FinishLogin opens the sealed login challenge, verifies the assertion and
// records it: the challenge spent, the credential's use and what records
// makes (the login token, the sign-in event), in one transaction. A failed
// attempt spends the challenge too. It returns the user and the credential
// used; every failure is ErrChallenge or ErrVerification, with the reason
// in the wrapped message for the log.
func (cs *Ceremonies) FinishLogin(ctx context.Context, challengeID string, a Assertion, records LoginRecords) (store.User, store.Credential, error) {
	ch, err := cs.open(challengeID, store.PurposeLogin)
	if err != nil {
		return store.User{}, store.Credential{}, err
	}
	u, cred, use, err := cs.verifyLogin(ctx, ch, a)
	if err != nil {
		return store.User{}, store.Credential{}, cs.burn(ctx, ch, err)
	}
	r := store.AssertionRecord{CredentialID: cred.ID, Use: use}
	if records != nil {
		r.Token, r.SignIn = records(u, cred)
	}
	if err := cs.record(ctx, ch, r); err != nil {
		return store.User{}, store.Credential{}, err
	}
	return u, cred, nil
}

// verifyLogin checks an assertion of a login challenge and returns who
// made it and the use to record.
func (cs *Ceremonies) verifyLogin(ctx context.Context, ch store.Challenge, a Assertion) (store.User, store.Credential, store.CredentialUse, error) {
	var data loginData
	if err := json.Unmarshal(ch.Data, &data); err != nil {
		return store.User{}, store.Credential{}, store.CredentialUse{}, fmt.Errorf("decode login data: %w", err)
	}
	cred, err := cs.credentialFor(ctx, a)
	if err != nil {
		// An unknown credential (a decoy's, say) costs a signature check
		// like a known one with a bad signature, so the time of the
		// refusal does not tell whether the account exists.
		spendVerification(a)
		return store.User{}, store.Credential{}, store.CredentialUse{}, err
	}
	if cred.OrgID != ch.OrgID {
		return store.User{}, store.Credential{}, store.CredentialUse{}, fmt.Errorf("credential %s is of another org: %w", cred.ID, ErrVerification)
	}
	if cred.TokenID != "" {
		return store.User{}, store.Credential{}, store.CredentialUse{}, fmt.Errorf("credential %s is the key of token %s, which cannot log in: %w", cred.ID, cred.TokenID, ErrVerification)
	}
	if ch.UserID != "" {
		if cred.UserID != ch.UserID || !slices.Contains(data.Allowed, cred.CredID) {
			return store.User{}, store.Credential{}, store.CredentialUse{}, fmt.Errorf("credential %s was not offered to user %s: %w", cred.ID, ch.UserID, ErrVerification)
		}
	} else if err := cs.checkDiscoverable(ctx, cred, a); err != nil {
		return store.User{}, store.Credential{}, store.CredentialUse{}, err
	}
	u, err := cs.store.GetUser(ctx, cred.UserID)
	if err != nil {
		return store.User{}, store.Credential{}, store.CredentialUse{}, fmt.Errorf("load user %s: %w", cred.UserID, err)
	}
	if !u.IsActive || !u.IsRegistered {
		return store.User{}, store.Credential{}, store.CredentialUse{}, fmt.Errorf("user %s is inactive: %w", u.ID, ErrVerification)
	}
	use, err := cs.verifyAssertion(ch, u, cred, a)
	if err != nil {
		return store.User{}, store.Credential{}, store.CredentialUse{}, err
	}
	use.Purpose = store.UseLogin
	return u, cred, use, nil
}

// checkDiscoverable: a usernameless login must be a Fido2 assertion whose
// user handle names the credential's owner (WebAuthn L3 §7.2 step 6).
func (cs *Ceremonies) checkDiscoverable(ctx context.Context, cred store.Credential, a Assertion) error {
	if cred.Kind != store.CredentialFido2 || len(a.UserHandle) == 0 {
		return fmt.Errorf("usernameless login needs a discoverable passkey with a user handle: %w", ErrVerification)
	}
	owner, err := cs.store.GetUserByHandle(ctx, string(a.UserHandle))
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("unknown user handle: %w", ErrVerification)
	}
	if err != nil {
		return fmt.Errorf("load user by handle: %w", err)
	}
	if owner.ID != cred.UserID {
		return fmt.Errorf("user handle names %s but credential %s belongs to %s: %w", owner.ID, cred.ID, cred.UserID, ErrVerification)
	}
	return nil
}

// credentialFor loads the active credential an assertion claims to be from.
func (cs *Ceremonies) credentialFor(ctx context.Context, a Assertion) (store.Credential, error) {
	id := a.CredID
	if a.Kind == store.CredentialFido2 {
		canon, _, err := canonicalCredID(a.CredID)
		if err != nil {
			return store.Credential{}, err
		}
		id = canon
	}
	cred, err := cs.store.GetCredentialByCredID(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return store.Credential{}, fmt.Errorf("unknown credential: %w", ErrVerification)
	}
	if err != nil {
		return store.Credential{}, fmt.Errorf("load credential: %w", err)
	}
	if cred.Kind != a.Kind {
		return store.Credential{}, fmt.Errorf("credential %s is %s, assertion says %s: %w", cred.ID, cred.Kind, a.Kind, ErrVerification)
	}
	if !cred.IsActive {
		return store.Credential{}, fmt.Errorf("credential %s is inactive: %w", cred.ID, ErrVerification)
	}
	return cred, nil
}

// verifyAssertion checks a signature of the challenge by cred, owned by u.
// Shared by login and user-action signing.
func (cs *Ceremonies) verifyAssertion(ch store.Challenge, u store.User, cred store.Credential, a Assertion) (store.CredentialUse, error) {
	use := store.CredentialUse{SignCount: cred.SignCount, UserVerified: cred.UserVerified, BackupState: cred.BackupState, At: cs.opts.Now().UTC()}
	if cred.Kind == store.CredentialKey {
		if err := VerifyKeyAssertion(string(cred.PublicKey), ch.Challenge, a.ClientData, a.Signature, a.Algorithm); err != nil {
			return store.CredentialUse{}, fmt.Errorf("key assertion by %s: %w", cred.ID, err)
		}
		return use, nil
	}
	if err := CheckCOSEKey(cred.PublicKey); err != nil {
		return store.CredentialUse{}, fmt.Errorf("fido2 key of %s: %w: %w", cred.ID, err, ErrVerification)
	}
	parsed, err := parseAssertion(a)
	if err != nil {
		return store.CredentialUse{}, err
	}
	gc, err := toGoCredential(cred)
	if err != nil {
		return store.CredentialUse{}, err
	}
	session := gowebauthn.SessionData{
		Challenge:            challengeCandidate(ch.Challenge, parsed.Response.CollectedClientData.Challenge),
		RelyingPartyID:       cs.opts.RPID,
		UserID:               []byte(u.UserHandle),
		AllowedCredentialIDs: [][]byte{gc.ID},
		UserVerification:     protocol.UserVerificationRequirement(cs.opts.UserVerification),
	}
	if _, err := cs.fido.ValidateLogin(fidoUser{user: u, creds: []gowebauthn.Credential{gc}}, session, parsed); err != nil {
		return store.CredentialUse{}, fmt.Errorf("fido2 assertion by %s: %s: %w", cred.ID, protocolDetail(err), ErrVerification)
	}
	flags := parsed.Response.AuthenticatorData.Flags
	counter := parsed.Response.AuthenticatorData.Counter
	// WebAuthn L3 §7.2 step 22: a counter that does not grow means a cloned
	// authenticator. Synced passkeys report 0 forever, which is allowed.
	if (counter != 0 || cred.SignCount != 0) && counter <= cred.SignCount {
		return store.CredentialUse{}, fmt.Errorf("sign count of %s went from %d to %d (possible clone): %w", cred.ID, cred.SignCount, counter, ErrVerification)
	}
	use.SignCount = counter
	use.UserVerified = flags.HasUserVerified()
	use.BackupState = flags.HasBackupState()
	return use, nil
}
