package webauthn

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/protocol/webauthncose"
	gowebauthn "github.com/go-webauthn/webauthn/webauthn"

	"countersign/store"
)

// fidoUser adapts a store user and its Fido2 credentials to go-webauthn.
type fidoUser struct {
	user  store.User
	creds []gowebauthn.Credential
}

func (u fidoUser) WebAuthnID() []byte                           { return []byte(u.user.UserHandle) }
func (u fidoUser) WebAuthnName() string                         { return u.user.Username }
func (u fidoUser) WebAuthnDisplayName() string                  { return u.user.Name }
func (u fidoUser) WebAuthnCredentials() []gowebauthn.Credential { return u.creds }

// toGoCredential converts a stored Fido2 credential for go-webauthn.
func toGoCredential(c store.Credential) (gowebauthn.Credential, error) {
	id, err := DecodeBase64URL(c.CredID)
	if err != nil {
		return gowebauthn.Credential{}, fmt.Errorf("decode credential id %s: %w", c.ID, err)
	}
	return gowebauthn.Credential{
		ID:              id,
		PublicKey:       c.PublicKey,
		AttestationType: c.AttestationType,
		Flags: gowebauthn.CredentialFlags{
			UserPresent: c.UserPresent, UserVerified: c.UserVerified,
			BackupEligible: c.BackupEligible, BackupState: c.BackupState,
		},
		Authenticator: gowebauthn.Authenticator{AAGUID: c.AAGUID, SignCount: c.SignCount},
	}, nil
}

// challengeCandidate picks the session challenge go-webauthn compares the
// clientData challenge with. Spec §2.2: the browser SDK signs the UTF-8 bytes
// of the challenge string (clientData holds base64url of those bytes), the
// React-Native signer signs its base64url-decoded bytes (clientData holds
// the string itself). Anything else is compared against the browser form
// and fails.
func challengeCandidate(challenge, inClientData string) string {
	if inClientData == challenge {
		return challenge
	}
	return EncodeBase64URL([]byte(challenge))
}

// canonicalCredID re-encodes a wire credential id as unpadded base64url.
func canonicalCredID(credID string) (string, []byte, error) {
	raw, err := DecodeBase64URL(credID)
	if err != nil || len(raw) == 0 {
		return "", nil, fmt.Errorf("credential id is not base64url: %w", ErrVerification)
	}
	return EncodeBase64URL(raw), raw, nil
}

// parseAttestation turns the Dfns wire fields into go-webauthn's parsed form.
func parseAttestation(credID string, clientData, attestationObject []byte) (*protocol.ParsedCredentialCreationData, error) {
	id, _, err := canonicalCredID(credID)
	if err != nil {
		return nil, err
	}
	body, err := json.Marshal(map[string]any{
		"id": id, "rawId": id, "type": "public-key",
		"response": map[string]string{
			"clientDataJSON":    EncodeBase64URL(clientData),
			"attestationObject": EncodeBase64URL(attestationObject),
		},
	})
	if err != nil {
		return nil, fmt.Errorf("encode attestation: %w", err)
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(body)
	if err != nil {
		return nil, fmt.Errorf("parse attestation: %s: %w", protocolDetail(err), ErrVerification)
	}
	return parsed, nil
}

// parseAssertion turns the Dfns wire fields into go-webauthn's parsed form.
func parseAssertion(a Assertion) (*protocol.ParsedCredentialAssertionData, error) {
	id, _, err := canonicalCredID(a.CredID)
	if err != nil {
		return nil, err
	}
	resp := map[string]string{
		"clientDataJSON":    EncodeBase64URL(a.ClientData),
		"authenticatorData": EncodeBase64URL(a.AuthenticatorData),
		"signature":         EncodeBase64URL(a.Signature),
	}
	if len(a.UserHandle) > 0 {
		resp["userHandle"] = EncodeBase64URL(a.UserHandle)
	}
	body, err := json.Marshal(map[string]any{"id": id, "rawId": id, "type": "public-key", "response": resp})
	if err != nil {
		return nil, fmt.Errorf("encode assertion: %w", err)
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(body)
	if err != nil {
		return nil, fmt.Errorf("parse assertion: %s: %w", protocolDetail(err), ErrVerification)
	}
	return parsed, nil
}

// protocolDetail extracts go-webauthn's developer detail for the server log.
// It never reaches a client.
func protocolDetail(err error) string {
	if pe, ok := err.(*protocol.Error); ok {
		return pe.Details + " " + pe.DevInfo
	}
	return err.Error()
}

// CredentialPublicKeyPEM is a credential's public key as a PEM SPKI: Key
// credentials keep the PEM they registered with, Fido2 credentials have their
// COSE key converted. "" when a COSE key cannot be expressed as SPKI.
func CredentialPublicKeyPEM(c store.Credential) string {
	if c.Kind == store.CredentialKey || c.Kind == store.CredentialRecoveryKey {
		return string(c.PublicKey)
	}
	out := webauthncose.DisplayPublicKey(c.PublicKey)
	if !strings.HasPrefix(out, "-----BEGIN") {
		return ""
	}
	return strings.TrimSpace(out)
}
