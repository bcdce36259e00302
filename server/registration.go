package server

import (
	"crypto/sha256"
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"

	"countersign/store"
	"countersign/webauthn"
)

type registrationInitRequest struct {
	OrgID            string `json:"orgId"`
	Username         string `json:"username"`
	RegistrationCode string `json:"registrationCode"`
}

func (r *registrationInitRequest) validate() error {
	return requireFields("orgId", r.OrgID, "username", r.Username, "registrationCode", r.RegistrationCode)
}

type registrationUser struct {
	ID          string `json:"id"`
	DisplayName string `json:"displayName"`
	Name        string `json:"name"`
}

type credentialKinds struct {
	FirstFactor  []string `json:"firstFactor"`
	SecondFactor []string `json:"secondFactor"`
}

type authenticatorSelection struct {
	ResidentKey        string `json:"residentKey"`
	RequireResidentKey bool   `json:"requireResidentKey"`
	UserVerification   string `json:"userVerification"`
}

type pubKeyCredParam struct {
	Type string `json:"type"`
	Alg  int    `json:"alg"`
}

// registrationChallenge is spec §3 RegistrationChallenge.
type registrationChallenge struct {
	User                         registrationUser       `json:"user"`
	TemporaryAuthenticationToken string                 `json:"temporaryAuthenticationToken"`
	Challenge                    string                 `json:"challenge"`
	RP                           rpInfo                 `json:"rp"`
	SupportedCredentialKinds     credentialKinds        `json:"supportedCredentialKinds"`
	AuthenticatorSelection       authenticatorSelection `json:"authenticatorSelection"`
	Attestation                  string                 `json:"attestation"`
	PubKeyCredParams             []pubKeyCredParam      `json:"pubKeyCredParams"`
	ExcludeCredentials           []allowCredential      `json:"excludeCredentials"`
	OTPURL                       string                 `json:"otpUrl"`
}

func (s *Server) registrationInit(c echo.Context) error {
	var req registrationInitRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	if err := s.limitAccount(req.OrgID, req.Username); err != nil {
		return err
	}
	rc, err := s.ceremonies.BeginRegistration(c.Request().Context(), req.OrgID, req.Username, req.RegistrationCode)
	if err != nil {
		return fmt.Errorf("begin registration: %w", err)
	}
	temp, err := s.tokens.IssueTemp(rc.ID, rc.User)
	if err != nil {
		return fmt.Errorf("issue temporary token: %w", err)
	}
	return c.JSON(http.StatusOK, s.newRegistrationChallenge(rc.User, rc.Challenge, temp.Token))
}

// newRegistrationChallenge is the challenge of a registration or a
// recovery: the new credentials of u attest challenge.
func (s *Server) newRegistrationChallenge(u store.User, challenge, temp string) registrationChallenge {
	return registrationChallenge{
		User:                         registrationUser{ID: u.UserHandle, DisplayName: u.Name, Name: u.Username},
		TemporaryAuthenticationToken: temp,
		Challenge:                    challenge,
		RP:                           s.rp(),
		SupportedCredentialKinds: credentialKinds{
			FirstFactor: []string{store.CredentialFido2, store.CredentialKey}, SecondFactor: []string{},
		},
		AuthenticatorSelection: authenticatorSelection{
			ResidentKey: "required", RequireResidentKey: true, UserVerification: s.ceremonies.UserVerification(),
		},
		Attestation:        "none",
		PubKeyCredParams:   pubKeyCredParams(),
		ExcludeCredentials: []allowCredential{},
	}
}

type registrationRequest struct {
	FirstFactorCredential  *newCredential `json:"firstFactorCredential"`
	SecondFactorCredential *newCredential `json:"secondFactorCredential"`
	RecoveryCredential     *newCredential `json:"recoveryCredential"`
}

func (r *registrationRequest) validate() error {
	_, _, err := r.credentials("")
	return err
}

// credentials decodes the first factor and the optional recovery key
// (spec §4.1; countersign has no second factor). prefix names the object
// they are in, for messages.
func (r *registrationRequest) credentials(prefix string) (webauthn.NewCredential, *webauthn.NewCredential, error) {
	if r.SecondFactorCredential != nil {
		return webauthn.NewCredential{}, nil, fmt.Errorf("%ssecondFactorCredential is not supported", prefix)
	}
	first, err := r.FirstFactorCredential.toDomain(prefix + "firstFactorCredential")
	if err != nil {
		return webauthn.NewCredential{}, nil, err
	}
	if first.Kind != store.CredentialFido2 && first.Kind != store.CredentialKey {
		return webauthn.NewCredential{}, nil, fmt.Errorf("%sfirstFactorCredential.credentialKind must be Fido2 or Key", prefix)
	}
	if r.RecoveryCredential == nil {
		return first, nil, nil
	}
	recovery, err := r.RecoveryCredential.toDomain(prefix + "recoveryCredential")
	if err != nil {
		return webauthn.NewCredential{}, nil, err
	}
	if recovery.Kind != store.CredentialRecoveryKey {
		return webauthn.NewCredential{}, nil, fmt.Errorf("%srecoveryCredential.credentialKind must be RecoveryKey", prefix)
	}
	return first, &recovery, nil
}

type registrationResponse struct {
	Credential registeredCredential `json:"credential"`
	User       registeredUser       `json:"user"`
}

type registeredCredential struct {
	UUID string `json:"uuid"`
	Kind string `json:"kind"`
	Name string `json:"name"`
}

type registeredUser struct {
	ID       string `json:"id"`
	Username string `json:"username"`
	OrgID    string `json:"orgId"`
}

// newRegistrationResponse is the answer of a finished registration, and
// of a recovery, which registers a credential the same way.
func newRegistrationResponse(u store.User, cred store.Credential) registrationResponse {
	return registrationResponse{
		Credential: registeredCredential{UUID: cred.ID, Kind: cred.Kind, Name: cred.Name},
		User:       registeredUser{ID: u.ID, Username: u.Username, OrgID: u.OrgID},
	}
}

// registrationFinish completes a registration. The ceremony is named by the
// temporary token of the init call (spec §4.1), not by a body field.
func (s *Server) registrationFinish(c echo.Context) error {
	u, cred, err := s.finishRegistration(c)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, newRegistrationResponse(u, cred))
}

// finishRegistration is shared by the API and the console: the temporary
// token names the ceremony, the body carries the new credential.
func (s *Server) finishRegistration(c echo.Context) (store.User, store.Credential, error) {
	raw, err := bearer(c)
	if err != nil {
		return store.User{}, store.Credential{}, err
	}
	claims, err := s.tokens.Parse(raw, store.TokenTemp)
	if err != nil {
		return store.User{}, store.Credential{}, err
	}
	body, err := readBody(c)
	if err != nil {
		return store.User{}, store.Credential{}, err
	}
	var req registrationRequest
	if err := decodeBody(body, &req); err != nil {
		return store.User{}, store.Credential{}, err
	}
	nc, recovery, _ := req.credentials("") // validated by decodeBody
	sum := sha256.Sum256(body)
	u, cred, err := s.ceremonies.FinishRegistration(c.Request().Context(), claims.ID, sum[:], nc, recovery)
	if err != nil {
		return store.User{}, store.Credential{}, fmt.Errorf("finish registration: %w", err)
	}
	return u, cred, nil
}

func pubKeyCredParams() []pubKeyCredParam {
	params := make([]pubKeyCredParam, 0, len(webauthn.PubKeyCredParams))
	for _, alg := range webauthn.PubKeyCredParams {
		params = append(params, pubKeyCredParam{Type: "public-key", Alg: alg})
	}
	return params
}
