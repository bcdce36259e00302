package webauthn

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"countersign/store"
)

// Identity is who makes a request: a user through a login token, or (later)
// a machine identity through its access token.
type Identity struct {
	OrgID     string
	UserID    string
	TokenID   string // the bearer token's id
	TokenKind string // store.TokenLogin, TokenPAT or TokenServiceAccount
	ID        string // what user actions are bound to: the user id, or the token id of a PAT
	// User is the user of UserID when the caller has loaded it already
	// (finishing an action then reads it no more); nil otherwise.
	User *store.User
	// TokenUse, when set, is recorded with the user action in its
	// transaction: a machine token's use.
	TokenUse *store.TokenUse
}

// signsWith tells whether a credential may sign for this identity (spec
// §5.3): a person signs with their own credentials, never with a token's
// key; a PAT only with its own key; a service account with its keys.
func (id Identity) signsWith(c store.Credential) bool {
	if !c.IsActive || c.UserID != id.UserID || c.Kind == store.CredentialRecoveryKey {
		return false // a recovery key signs a recovery, nothing else
	}
	switch id.TokenKind {
	case store.TokenPAT:
		return c.TokenID == id.TokenID
	case store.TokenServiceAccount:
		return c.TokenID != ""
	default:
		return c.TokenID == ""
	}
}

// ActionRequest is the exact request a user action will authorise (spec
// §4.2 /auth/action/init).
type ActionRequest struct {
	Method  string
	Path    string
	Payload string
	// Summary is the sentence shown to the person before they sign; the
	// user action keeps it for the audit entry of its change.
	Summary string
}

// actionData is what an action challenge remembers.
type actionData struct {
	Identity string   `json:"identity"`
	Method   string   `json:"method"`
	Path     string   `json:"path"`
	Payload  string   `json:"payload"`
	Allowed  []string `json:"allowed"`
	Summary  string   `json:"summary,omitempty"`
}

// ActionPath is the form a path is signed and compared in: still encoded,
// without query string (a query never changes what a mutating route does;
// the SDK signs url.pathname).
func ActionPath(p string) string {
	p, _, _ = strings.Cut(p, "?")
	p, _, _ = strings.Cut(p, "#")
	return p
}

func (r ActionRequest) validate() error {
	switch r.Method {
	case "GET", "POST", "PUT", "PATCH", "DELETE":
	default:
		return fmt.Errorf("userActionHttpMethod %q is not GET, POST, PUT, PATCH or DELETE: %w", r.Method, ErrInvalidInput)
	}
	if !strings.HasPrefix(r.Path, "/") || len(r.Path) > 2048 {
		return fmt.Errorf("userActionHttpPath must start with / and be at most 2048 characters: %w", ErrInvalidInput)
	}
	return nil
}

// BeginAction seals a challenge bound to one identity and one exact request
// (seal.go: nothing is stored).
// The challenge is random, never derived from the request; the request is
// kept beside it and compared again when the action token is used.
func (cs *Ceremonies) BeginAction(ctx context.Context, id Identity, req ActionRequest) (LoginChallenge, error) {
	req.Method = strings.ToUpper(req.Method)
	if err := req.validate(); err != nil {
		return LoginChallenge{}, err
	}
	creds, err := cs.signingCredentials(ctx, id)
	if err != nil {
		return LoginChallenge{}, err
	}
	now := cs.opts.Now().UTC()
	ch := store.Challenge{
		ID: store.NewID("ch"), Purpose: store.PurposeAction, Challenge: newChallenge(),
		OrgID: id.OrgID, UserID: id.UserID, TokenID: id.TokenID, CreatedAt: now, ExpiresAt: now.Add(cs.opts.ChallengeTTL),
	}
	data := actionData{Identity: id.ID, Method: req.Method, Path: ActionPath(req.Path), Payload: req.Payload, Summary: req.Summary}
	lc := LoginChallenge{ID: ch.ID, Challenge: ch.Challenge, Fido2: []AllowedCredential{}, Keys: []AllowedCredential{}, ExpiresAt: ch.ExpiresAt}
	for _, c := range creds {
		data.Allowed = append(data.Allowed, c.CredID)
		ac := AllowedCredential{CredID: c.CredID, Transports: c.Transports}
		if c.Kind == store.CredentialKey {
			lc.Keys = append(lc.Keys, ac)
		} else {
			lc.Fido2 = append(lc.Fido2, ac)
		}
	}
	if ch.Data, err = json.Marshal(data); err != nil {
		return LoginChallenge{}, fmt.Errorf("encode action data: %w", err)
	}
	if lc.ID, err = cs.seal(ch); err != nil {
		return LoginChallenge{}, err
	}
	return lc, nil
}

// signingCredentials lists the credentials that may sign for id.
func (cs *Ceremonies) signingCredentials(ctx context.Context, id Identity) ([]store.Credential, error) {
	all, err := cs.store.ListCredentials(ctx, id.UserID)
	if err != nil {
		return nil, fmt.Errorf("list credentials of %s: %w", id.UserID, err)
	}
	out := all[:0]
	for _, c := range all {
		if id.signsWith(c) {
			out = append(out, c)
		}
	}
	return out, nil
}

// FinishAction opens the sealed action challenge, checks it was begun by
// the same identity, verifies the assertion exactly as login does, and
// records a one-time user action bound to the identity and the request,
// with the challenge spent and the credential's use, in one transaction. A
// failed attempt spends the challenge too.
func (cs *Ceremonies) FinishAction(ctx context.Context, id Identity, challengeID string, a Assertion) (store.UserAction, error) {
	ch, err := cs.open(challengeID, store.PurposeAction)
	if err != nil {
		return store.UserAction{}, err
	}
	ua, r, err := cs.verifyAction(ctx, id, ch, a)
	if err != nil {
		return store.UserAction{}, cs.burn(ctx, ch, err)
	}
	if err := cs.record(ctx, ch, r); err != nil {
		return store.UserAction{}, err
	}
	return ua, nil
}

// verifyAction checks an assertion of an action challenge and returns the
// user action it makes and the record that stores it.
func (cs *Ceremonies) verifyAction(ctx context.Context, id Identity, ch store.Challenge, a Assertion) (store.UserAction, store.AssertionRecord, error) {
	var data actionData
	if err := json.Unmarshal(ch.Data, &data); err != nil {
		return store.UserAction{}, store.AssertionRecord{}, fmt.Errorf("decode action data: %w", err)
	}
	if data.Identity != id.ID || ch.OrgID != id.OrgID || ch.UserID != id.UserID {
		return store.UserAction{}, store.AssertionRecord{}, fmt.Errorf("action challenge %s was begun by %s, finished by %s: %w", ch.ID, data.Identity, id.ID, ErrChallenge)
	}
	cred, err := cs.credentialFor(ctx, a)
	if err != nil {
		return store.UserAction{}, store.AssertionRecord{}, err
	}
	if !id.signsWith(cred) || !slices.Contains(data.Allowed, cred.CredID) {
		return store.UserAction{}, store.AssertionRecord{}, fmt.Errorf("credential %s was not offered to %s: %w", cred.ID, id.ID, ErrVerification)
	}
	var u store.User
	if id.User != nil && id.User.ID == id.UserID {
		u = *id.User
	} else if u, err = cs.store.GetUser(ctx, id.UserID); err != nil {
		return store.UserAction{}, store.AssertionRecord{}, fmt.Errorf("load user %s: %w", id.UserID, err)
	}
	use, err := cs.verifyAssertion(ch, u, cred, a)
	if err != nil {
		return store.UserAction{}, store.AssertionRecord{}, err
	}
	use.Purpose = store.UseSign
	now := cs.opts.Now().UTC()
	ua := store.UserAction{
		ID: store.NewID("ua"), OrgID: id.OrgID, UserID: id.UserID, IdentityID: id.ID, TokenID: id.TokenID,
		CredentialID: cred.ID, Method: data.Method, Path: data.Path, Payload: []byte(data.Payload),
		ClientData: a.ClientData, AuthenticatorData: a.AuthenticatorData, Signature: a.Signature,
		Summary: data.Summary, CreatedAt: now, ExpiresAt: now.Add(cs.opts.ActionTTL),
	}
	return ua, store.AssertionRecord{CredentialID: cred.ID, Use: use, Action: &ua, TokenUse: id.TokenUse}, nil
}

// CheckAction tells whether a user-action token authorises this request: it
// must exist, be unused and unexpired, belong to the same identity, and name
// the same method, path (still encoded, query stripped) and body. It does
// not consume the token: the store does, in the transaction of the change.
func (cs *Ceremonies) CheckAction(ctx context.Context, id Identity, actionID, method, path string, body []byte) (store.UserAction, store.Credential, error) {
	ua, cred, err := cs.store.GetUserActionCredential(ctx, actionID)
	if errors.Is(err, store.ErrNotFound) {
		return store.UserAction{}, store.Credential{}, fmt.Errorf("unknown user action: %w", ErrActionInvalid)
	}
	if err != nil {
		return store.UserAction{}, store.Credential{}, fmt.Errorf("load user action: %w", err)
	}
	switch {
	case ua.UsedAt != nil:
		return store.UserAction{}, store.Credential{}, fmt.Errorf("user action %s: %w", store.Ref(ua.ID), store.ErrActionUsed)
	case !cs.opts.Now().Before(ua.ExpiresAt):
		return store.UserAction{}, store.Credential{}, fmt.Errorf("user action %s expired: %w", store.Ref(ua.ID), ErrActionInvalid)
	}
	if why := mismatch(ua, id, method, path, body); why != "" {
		spent, err := cs.store.RecordUserActionMismatch(ctx, ua.ID, cs.opts.Now().UTC(), cs.opts.ActionMismatches)
		if err != nil {
			return store.UserAction{}, store.Credential{}, fmt.Errorf("user action %s %s; count the mismatch: %w", store.Ref(ua.ID), why, err)
		}
		if spent {
			why += " (spent: too many mismatched uses)"
		}
		return store.UserAction{}, store.Credential{}, fmt.Errorf("user action %s %s: %w", store.Ref(ua.ID), why, ErrActionMismatch)
	}
	if !cred.IsActive {
		return store.UserAction{}, store.Credential{}, fmt.Errorf("credential %s was deactivated after signing: %w", cred.ID, ErrActionInvalid)
	}
	return ua, cred, nil
}

// mismatch says how a request differs from what a user action was signed
// for, or "" when it is the same identity, method, path and body.
func mismatch(ua store.UserAction, id Identity, method, path string, body []byte) string {
	switch {
	case ua.IdentityID != id.ID || ua.OrgID != id.OrgID:
		return fmt.Sprintf("of %s used by %s", ua.IdentityID, id.ID)
	case ua.Method != method:
		return fmt.Sprintf("signed %s, request is %s", ua.Method, method)
	case ua.Path != ActionPath(path):
		return fmt.Sprintf("signed path %q, request is %q", ua.Path, path)
	case !PayloadEqual(ua.Payload, body):
		return "signed another body"
	}
	return ""
}
