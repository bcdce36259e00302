package webauthn

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/protocol/webauthncose"
	gowebauthn "github.com/go-webauthn/webauthn/webauthn"

	"countersign/store"
)

// PubKeyCredParams are the COSE algorithms countersign accepts for Fido2
// credentials: ES256, EdDSA and RS256.
var PubKeyCredParams = []int{int(webauthncose.AlgES256), int(webauthncose.AlgEdDSA), int(webauthncose.AlgRS256)}

// NewCredential is a credential presented for registration (spec §3
// NewCredential) with its wire fields already base64url-decoded.
type NewCredential struct {
	Kind            string // store.CredentialFido2 or store.CredentialKey
	CredID          string
	ClientData      []byte
	AttestationData []byte
	Name            string
	Transports      []string // optional hint from the browser
	// EncryptedPrivateKey is a RecoveryKey's private key as the client
	// encrypted it: kept as is and handed back at recovery.
	EncryptedPrivateKey string
}

// maxEncryptedKey bounds what the server keeps of a recovery key's
// encrypted private key: ours is about 250 characters, an RSA-4096 key
// under any scheme well below this.
const maxEncryptedKey = 8 << 10

// RegistrationChallenge is the server side of /auth/registration/init.
type RegistrationChallenge struct {
	ID        string // also the temporary token's id
	Challenge string
	User      store.User
	ExpiresAt time.Time
}

// BeginRegistration checks an invitation (organisation, username and
// registration code) and stores a registration challenge. Every reason to
// refuse is ErrInvitation, so the answer does not tell which users exist.
func (cs *Ceremonies) BeginRegistration(ctx context.Context, orgID, username, code string) (RegistrationChallenge, error) {
	u, codeHash, err := cs.checkInvitation(ctx, orgID, username, code)
	if err != nil {
		return RegistrationChallenge{}, err
	}
	data, err := json.Marshal(registrationData{CodeHash: codeHash})
	if err != nil {
		return RegistrationChallenge{}, fmt.Errorf("encode registration data: %w", err)
	}
	now := cs.opts.Now().UTC()
	ch := store.Challenge{
		ID: store.NewID("ch"), Purpose: store.PurposeRegistration, Challenge: newChallenge(),
		OrgID: u.OrgID, UserID: u.ID, Data: data, CreatedAt: now, ExpiresAt: now.Add(cs.opts.ChallengeTTL),
	}
	if err := cs.store.CreateChallenge(ctx, ch); err != nil {
		return RegistrationChallenge{}, fmt.Errorf("store registration challenge: %w", err)
	}
	return RegistrationChallenge{ID: ch.ID, Challenge: ch.Challenge, User: u, ExpiresAt: ch.ExpiresAt}, nil
}

type registrationData struct {
	CodeHash []byte `json:"codeHash"`
}

func (cs *Ceremonies) checkInvitation(ctx context.Context, orgID, username, code string) (store.User, []byte, error) {
	fail := func(why string, args ...any) (store.User, []byte, error) {
		return store.User{}, nil, fmt.Errorf("%s: %w", fmt.Sprintf(why, args...), ErrInvitation)
	}
	u, err := cs.store.GetUserByUsername(ctx, orgID, strings.TrimSpace(username))
	if errors.Is(err, store.ErrNotFound) {
		return fail("no user %q in org %q", username, orgID)
	}
	if err != nil {
		return store.User{}, nil, fmt.Errorf("load user: %w", err)
	}
	if u.IsRegistered || !u.IsActive {
		return fail("user %s is registered or inactive", u.ID)
	}
	rc, err := cs.store.GetRegistrationCode(ctx, u.ID)
	if errors.Is(err, store.ErrNotFound) {
		return fail("user %s has no registration code", u.ID)
	}
	if err != nil {
		return store.User{}, nil, fmt.Errorf("load registration code: %w", err)
	}
	sum := hashCode(code)
	if subtle.ConstantTimeCompare(sum, rc.CodeHash) != 1 {
		return fail("wrong registration code for user %s", u.ID)
	}
	if !cs.opts.Now().Before(rc.ExpiresAt) {
		return fail("registration code of user %s expired", u.ID)
	}
	return u, sum, nil
}

// FinishRegistration burns the registration challenge, verifies the new
// credential against it and, in one store transaction, consumes the
// registration code, stores the credential and marks the user registered.
// requestHash (SHA-256 of the request's exact body) is recorded with the
// result: the same request sent again while the challenge would still have
// been valid, because its answer was lost, gets the same result instead of
// a refusal. Any other request for a finished ceremony is ErrChallenge.
//
// recovery, when set, is a recovery key registered with the first
// credential (spec §4.1 recoveryCredential), attesting the same challenge.
func (cs *Ceremonies) FinishRegistration(ctx context.Context, challengeID string, requestHash []byte, nc NewCredential, recovery *NewCredential) (store.User, store.Credential, error) {
	ch, err := cs.consume(ctx, challengeID, store.PurposeRegistration)
	if errors.Is(err, ErrChallenge) {
		if u, cred, ok := cs.repeatedRegistration(ctx, challengeID, requestHash); ok {
			return u, cred, nil
		}
	}
	if err != nil {
		return store.User{}, store.Credential{}, err
	}
	var data registrationData
	if err := json.Unmarshal(ch.Data, &data); err != nil {
		return store.User{}, store.Credential{}, fmt.Errorf("decode registration data: %w", err)
	}
	u, err := cs.store.GetUser(ctx, ch.UserID)
	if err != nil {
		return store.User{}, store.Credential{}, fmt.Errorf("load user %s: %w", ch.UserID, err)
	}
	creds, err := cs.verifyNewCredentials(ch, u, nc, recovery)
	if err != nil {
		return store.User{}, store.Credential{}, err
	}
	cred := creds[0]
	err = cs.store.CompleteRegistration(ctx, store.Registration{
		UserID: u.ID, CodeHash: data.CodeHash, Now: cs.opts.Now(), Credentials: creds,
		CeremonyID: ch.ID, RequestHash: requestHash, ResultUntil: ch.ExpiresAt,
	})
	if errors.Is(err, store.ErrNotFound) {
		return store.User{}, store.Credential{}, fmt.Errorf("complete registration of %s: %w", u.ID, ErrInvitation)
	}
	if err != nil {
		return store.User{}, store.Credential{}, fmt.Errorf("complete registration of %s: %w", u.ID, err)
	}
	u.IsRegistered = true
	return u, cred, nil
}

// repeatedRegistration returns the result of the completed ceremony
// challengeID when requestHash is the hash of the request that completed
// it.
func (cs *Ceremonies) repeatedRegistration(ctx context.Context, challengeID string, requestHash []byte) (store.User, store.Credential, bool) {
	r, err := cs.store.GetRegistrationResult(ctx, challengeID, cs.opts.Now())
	if err != nil || len(requestHash) == 0 || subtle.ConstantTimeCompare(r.RequestHash, requestHash) != 1 {
		return store.User{}, store.Credential{}, false
	}
	u, err := cs.store.GetUser(ctx, r.UserID)
	if err != nil || !u.IsActive {
		return store.User{}, store.Credential{}, false
	}
	cred, err := cs.store.GetCredential(ctx, r.CredentialID)
	if err != nil || !cred.IsActive {
		return store.User{}, store.Credential{}, false
	}
	return u, cred, true
}

// verifyNewCredentials checks the credentials a registration or a
// recovery brings, all attesting ch: a first factor that signs in (Fido2
// or Key) and optionally a recovery key.
func (cs *Ceremonies) verifyNewCredentials(ch store.Challenge, u store.User, first NewCredential, recovery *NewCredential) ([]store.Credential, error) {
	if first.Kind != store.CredentialFido2 && first.Kind != store.CredentialKey {
		return nil, fmt.Errorf("first factor kind %q: %w", first.Kind, ErrUnsupportedKind)
	}
	cred, err := cs.verifyNewCredential(ch, u, first)
	if err != nil {
		return nil, err
	}
	creds := []store.Credential{cred}
	if recovery != nil {
		if recovery.Kind != store.CredentialRecoveryKey {
			return nil, fmt.Errorf("recovery credential kind %q: %w", recovery.Kind, ErrUnsupportedKind)
		}
		rk, err := cs.verifyNewCredential(ch, u, *recovery)
		if err != nil {
			return nil, err
		}
		if rk.CredID == cred.CredID {
			return nil, fmt.Errorf("recovery key reuses the first credential's id: %w", ErrVerification)
		}
		creds = append(creds, rk)
	}
	return creds, nil
}

// verifyNewCredential checks a new credential's attestation of the
// challenge and returns it ready to store.
func (cs *Ceremonies) verifyNewCredential(ch store.Challenge, u store.User, nc NewCredential) (store.Credential, error) {
	now := cs.opts.Now().UTC()
	cred := store.Credential{
		ID: store.NewID("cr"), OrgID: u.OrgID, UserID: u.ID, Kind: nc.Kind,
		Name: strings.TrimSpace(nc.Name), IsActive: true, CreatedAt: now,
	}
	if nc.EncryptedPrivateKey != "" && nc.Kind != store.CredentialRecoveryKey {
		return store.Credential{}, fmt.Errorf("encryptedPrivateKey on a %s credential: %w", nc.Kind, ErrInvalidInput)
	}
	switch nc.Kind {
	case store.CredentialKey, store.CredentialRecoveryKey:
		// A recovery key attests like a Key credential (spec §2.4).
		pem, err := VerifyKeyAttestation(ch.Challenge, nc.ClientData, nc.AttestationData)
		if err != nil {
			return store.Credential{}, fmt.Errorf("key attestation: %w", err)
		}
		if nc.CredID == "" || len(nc.CredID) > 512 {
			return store.Credential{}, fmt.Errorf("key credential id length %d: %w", len(nc.CredID), ErrVerification)
		}
		if len(nc.EncryptedPrivateKey) > maxEncryptedKey {
			return store.Credential{}, fmt.Errorf("encryptedPrivateKey is over %d characters: %w", maxEncryptedKey, ErrInvalidInput)
		}
		cred.CredID, cred.PublicKey, cred.EncryptedPrivateKey = nc.CredID, []byte(pem), nc.EncryptedPrivateKey
		if cred.Name == "" {
			cred.Name = map[string]string{store.CredentialKey: "Key", store.CredentialRecoveryKey: "Recovery key"}[nc.Kind]
		}
	case store.CredentialFido2:
		gc, origin, err := cs.verifyFido2Attestation(ch, u, nc)
		if err != nil {
			return store.Credential{}, err
		}
		cred.CredID = EncodeBase64URL(gc.ID)
		cred.PublicKey = gc.PublicKey
		cred.AttestationType = gc.AttestationType
		cred.AAGUID = gc.Authenticator.AAGUID
		cred.SignCount = gc.Authenticator.SignCount
		cred.UserPresent, cred.UserVerified = gc.Flags.UserPresent, gc.Flags.UserVerified
		cred.BackupEligible, cred.BackupState = gc.Flags.BackupEligible, gc.Flags.BackupState
		cred.Transports = cleanTransports(nc.Transports)
		cred.Origin, cred.RPID = origin, cs.opts.RPID
		if cred.Name == "" {
			cred.Name = "Passkey"
		}
	default:
		return store.Credential{}, fmt.Errorf("credential kind %q: %w", nc.Kind, ErrUnsupportedKind)
	}
	return cred, nil
}

func (cs *Ceremonies) verifyFido2Attestation(ch store.Challenge, u store.User, nc NewCredential) (*gowebauthn.Credential, string, error) {
	parsed, err := parseAttestation(nc.CredID, nc.ClientData, nc.AttestationData)
	if err != nil {
		return nil, "", err
	}
	params := make([]protocol.CredentialParameter, len(PubKeyCredParams))
	for i, alg := range PubKeyCredParams {
		params[i] = protocol.CredentialParameter{Type: protocol.PublicKeyCredentialType, Algorithm: webauthncose.COSEAlgorithmIdentifier(alg)}
	}
	session := gowebauthn.SessionData{
		Challenge:        challengeCandidate(ch.Challenge, parsed.Response.CollectedClientData.Challenge),
		RelyingPartyID:   cs.opts.RPID,
		UserID:           []byte(u.UserHandle),
		UserVerification: protocol.UserVerificationRequirement(cs.opts.UserVerification),
		CredParams:       params,
	}
	gc, err := cs.fido.CreateCredential(fidoUser{user: u}, session, parsed)
	if err != nil {
		return nil, "", fmt.Errorf("fido2 attestation: %s: %w", protocolDetail(err), ErrVerification)
	}
	if err := CheckCOSEKey(gc.PublicKey); err != nil {
		return nil, "", fmt.Errorf("fido2 credential key: %w: %w", err, ErrVerification)
	}
	return gc, parsed.Response.CollectedClientData.Origin, nil
}

// cleanTransports keeps only the transports WebAuthn defines.
func cleanTransports(in []string) []string {
	out := []string{}
	for _, t := range in {
		switch t {
		case "usb", "nfc", "ble", "smart-card", "hybrid", "internal":
			out = append(out, t)
		}
	}
	return out
}

func hashCode(code string) []byte {
	sum := sha256.Sum256([]byte(strings.ToUpper(strings.TrimSpace(code))))
	return sum[:]
}

// CheckInvitation tells whether an invitation link can still be used,
// without starting a ceremony. Every refusal is ErrInvitation.
func (cs *Ceremonies) CheckInvitation(ctx context.Context, orgID, username, code string) error {
	if orgID == "" || username == "" || code == "" {
		return fmt.Errorf("incomplete invitation link: %w", ErrInvitation)
	}
	_, _, err := cs.checkInvitation(ctx, orgID, username, code)
	return err
}
