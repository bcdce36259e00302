package server

import (
	"fmt"
	"time"

	"github.com/labstack/echo/v4"

	"countersign/store"
	"countersign/webauthn"
)

// isoTime formats like JS toISOString (spec §1.4).
func isoTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

type rpInfo struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

type allowCredential struct {
	Type       string   `json:"type"`
	ID         string   `json:"id"`
	Transports []string `json:"transports,omitempty"`
}

func allowList(in []webauthn.AllowedCredential) []allowCredential {
	out := make([]allowCredential, 0, len(in))
	for _, c := range in {
		out = append(out, allowCredential{Type: "public-key", ID: c.CredID, Transports: c.Transports})
	}
	return out
}

// credentialInfo is NewCredential.credentialInfo: all base64url strings.
type credentialInfo struct {
	CredID          string   `json:"credId"`
	ClientData      string   `json:"clientData"`
	AttestationData string   `json:"attestationData"`
	Transports      []string `json:"transports"` // our optional browser hint
}

// newCredential is spec §3 NewCredential (Fido2 and Key kinds).
type newCredential struct {
	CredentialKind      string          `json:"credentialKind"`
	CredentialInfo      *credentialInfo `json:"credentialInfo"`
	CredentialName      string          `json:"credentialName"`
	EncryptedPrivateKey string          `json:"encryptedPrivateKey"` // PasswordProtectedKey and RecoveryKey kinds
}

func (nc *newCredential) toDomain(field string) (webauthn.NewCredential, error) {
	if nc == nil {
		return webauthn.NewCredential{}, fmt.Errorf("%s is required", field)
	}
	if nc.CredentialKind == "" {
		return webauthn.NewCredential{}, fmt.Errorf("%s.credentialKind is required", field)
	}
	if nc.CredentialInfo == nil {
		return webauthn.NewCredential{}, fmt.Errorf("%s.credentialInfo is required", field)
	}
	ci := nc.CredentialInfo
	if err := requireFields(field+".credentialInfo.credId", ci.CredID, field+".credentialInfo.clientData", ci.ClientData,
		field+".credentialInfo.attestationData", ci.AttestationData); err != nil {
		return webauthn.NewCredential{}, err
	}
	clientData, err := webauthn.DecodeBase64URL(ci.ClientData)
	if err != nil {
		return webauthn.NewCredential{}, fmt.Errorf("%s.credentialInfo.clientData is not base64url", field)
	}
	att, err := webauthn.DecodeBase64URL(ci.AttestationData)
	if err != nil {
		return webauthn.NewCredential{}, fmt.Errorf("%s.credentialInfo.attestationData is not base64url", field)
	}
	return webauthn.NewCredential{
		Kind: nc.CredentialKind, CredID: ci.CredID, ClientData: clientData, AttestationData: att,
		Name: nc.CredentialName, Transports: ci.Transports, EncryptedPrivateKey: nc.EncryptedPrivateKey,
	}, nil
}

// credentialAssertion is the wire assertion of a Fido2 or Key credential.
type credentialAssertion struct {
	CredID            string `json:"credId"`
	ClientData        string `json:"clientData"`
	AuthenticatorData string `json:"authenticatorData"`
	Signature         string `json:"signature"`
	UserHandle        string `json:"userHandle"`
	Algorithm         string `json:"algorithm"`
}

type factor struct {
	Kind                string               `json:"kind"`
	CredentialAssertion *credentialAssertion `json:"credentialAssertion"`
}

// signedChallenge is spec §3 SignedChallenge, for /auth/login and /auth/action.
type signedChallenge struct {
	ChallengeIdentifier string  `json:"challengeIdentifier"`
	FirstFactor         *factor `json:"firstFactor"`
	SecondFactor        *factor `json:"secondFactor"`
}

func (r *signedChallenge) validate() error {
	if r.ChallengeIdentifier == "" {
		return fmt.Errorf("challengeIdentifier is required")
	}
	if r.FirstFactor == nil || r.FirstFactor.CredentialAssertion == nil {
		return fmt.Errorf("firstFactor.credentialAssertion is required")
	}
	if r.SecondFactor != nil {
		return fmt.Errorf("secondFactor is not supported")
	}
	switch r.FirstFactor.Kind {
	case store.CredentialFido2, store.CredentialKey:
	case "":
		return fmt.Errorf("firstFactor.kind is required")
	default:
		return fmt.Errorf("firstFactor.kind %q is not supported (Fido2 or Key)", r.FirstFactor.Kind)
	}
	a := r.FirstFactor.CredentialAssertion
	if err := requireFields("credentialAssertion.credId", a.CredID, "credentialAssertion.clientData", a.ClientData,
		"credentialAssertion.signature", a.Signature); err != nil {
		return err
	}
	if r.FirstFactor.Kind == store.CredentialFido2 && a.AuthenticatorData == "" {
		return fmt.Errorf("credentialAssertion.authenticatorData is required for Fido2")
	}
	return nil
}

// decodeSignedChallenge reads a SignedChallenge body (/auth/login,
// /auth/action, /session/login): the challenge id and the decoded assertion.
func decodeSignedChallenge(c echo.Context) (string, webauthn.Assertion, error) {
	var req signedChallenge
	if err := decodeJSON(c, &req); err != nil {
		return "", webauthn.Assertion{}, err
	}
	a, err := req.assertion()
	if err != nil {
		return "", webauthn.Assertion{}, badRequest(err.Error(), err)
	}
	return req.ChallengeIdentifier, a, nil
}

func (r *signedChallenge) assertion() (webauthn.Assertion, error) {
	a := r.FirstFactor.CredentialAssertion
	out := webauthn.Assertion{Kind: r.FirstFactor.Kind, CredID: a.CredID, Algorithm: a.Algorithm}
	fields := []struct {
		name string
		in   string
		dst  *[]byte
	}{
		{"clientData", a.ClientData, &out.ClientData},
		{"authenticatorData", a.AuthenticatorData, &out.AuthenticatorData},
		{"signature", a.Signature, &out.Signature},
		{"userHandle", a.UserHandle, &out.UserHandle},
	}
	for _, f := range fields {
		if f.in == "" {
			continue
		}
		b, err := webauthn.DecodeBase64URL(f.in)
		if err != nil {
			return webauthn.Assertion{}, fmt.Errorf("credentialAssertion.%s is not base64url", f.name)
		}
		*f.dst = b
	}
	return out, nil
}

type supportedKind struct {
	Kind                 string `json:"kind"`
	Factor               string `json:"factor"`
	RequiresSecondFactor bool   `json:"requiresSecondFactor"`
}

type allowCredentials struct {
	Key                  []allowCredential `json:"key"`
	Webauthn             []allowCredential `json:"webauthn"`
	PasswordProtectedKey []allowCredential `json:"passwordProtectedKey"`
}

// loginChallenge is spec §4.1 LoginChallenge (also the shape of §4.2).
type loginChallenge struct {
	Challenge                 string           `json:"challenge"`
	ChallengeIdentifier       string           `json:"challengeIdentifier"`
	RP                        rpInfo           `json:"rp"`
	SupportedCredentialKinds  []supportedKind  `json:"supportedCredentialKinds"`
	UserVerification          string           `json:"userVerification"`
	Attestation               string           `json:"attestation"`
	AllowCredentials          allowCredentials `json:"allowCredentials"`
	ExternalAuthenticationURL string           `json:"externalAuthenticationUrl"`
}

func (s *Server) newLoginChallenge(lc webauthn.LoginChallenge) loginChallenge {
	return loginChallenge{
		Challenge:           lc.Challenge,
		ChallengeIdentifier: lc.ID,
		RP:                  s.rp(),
		SupportedCredentialKinds: []supportedKind{
			{Kind: store.CredentialFido2, Factor: "first"},
			{Kind: store.CredentialKey, Factor: "first"},
		},
		UserVerification: s.ceremonies.UserVerification(),
		Attestation:      "none",
		AllowCredentials: allowCredentials{
			Key: allowList(lc.Keys), Webauthn: allowList(lc.Fido2), PasswordProtectedKey: []allowCredential{},
		},
	}
}

func (s *Server) rp() rpInfo { return rpInfo{ID: s.ceremonies.RPID(), Name: s.ceremonies.RPName()} }

// credential is spec §3 Credential.
type credential struct {
	Kind           string `json:"kind"`
	CredentialID   string `json:"credentialId"`
	CredentialUUID string `json:"credentialUuid"`
	DateCreated    string `json:"dateCreated"`
	IsActive       bool   `json:"isActive"`
	Name           string `json:"name"`
	PublicKey      string `json:"publicKey"`
	RelyingPartyID string `json:"relyingPartyId"`
	Origin         string `json:"origin"`
}

func newCredentialView(c store.Credential) credential {
	return credential{
		Kind: c.Kind, CredentialID: c.CredID, CredentialUUID: c.ID, DateCreated: isoTime(c.CreatedAt),
		IsActive: c.IsActive, Name: c.Name, PublicKey: webauthn.CredentialPublicKeyPEM(c),
		RelyingPartyID: c.RPID, Origin: c.Origin,
	}
}

type messageResponse struct {
	Message string `json:"message"`
}

func b64(b []byte) string { return webauthn.EncodeBase64URL(b) }
