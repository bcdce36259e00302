package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	"countersign/webauthn/webauthntest"
)

// client is one closed-loop worker's identity on one server: a user with a
// Key credential (Key login, signed action, read) and a user with a passkey
// on a software authenticator (passkey login), each its own so that no two
// workers race for one sign counter.
type client struct {
	srv     *server
	http    *http.Client
	orgID   string
	keyUser string
	signer  *webauthntest.KeySigner
	keyTok  string // a login token of keyUser
	credID  string // credentialUuid of keyUser's credential, renamed by the signed action
	pkUser  string
	auth    *webauthntest.Authenticator
	n       int // counts the renames, so each signs another body
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// call sends one JSON request and decodes a 200 answer into out.
func (c *client) call(ctx context.Context, method, path string, body any, out any, header ...string) error {
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = bytes.NewReader([]byte(b))
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.srv.base+path, rd)
	if err != nil {
		return err
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		return err
	}
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("%s %s: %d %s", method, path, res.StatusCode, raw)
	}
	if out != nil {
		return json.Unmarshal(raw, out)
	}
	return nil
}

type challenge struct {
	Challenge           string `json:"challenge"`
	ChallengeIdentifier string `json:"challengeIdentifier"`
	Temp                string `json:"temporaryAuthenticationToken"`
	User                struct {
		ID string `json:"id"`
	} `json:"user"`
}

// setUp invites and registers the client's two users and logs the Key
// user in.
func (c *client) setUp(ctx context.Context, i int) error {
	c.signer = webauthntest.NewKeySigner("P256")
	inv, err := c.srv.invite(ctx, fmt.Sprintf("key%d", i))
	if err != nil {
		return err
	}
	c.orgID, c.keyUser = inv.OrgID, inv.Username
	ch, err := c.registrationInit(ctx, inv)
	if err != nil {
		return err
	}
	cd, att := c.signer.Attest(ch.Challenge)
	if err := c.call(ctx, "POST", "/auth/registration", map[string]any{"firstFactorCredential": map[string]any{
		"credentialKind": "Key", "credentialInfo": map[string]string{"credId": c.signer.CredID, "clientData": cd, "attestationData": att},
	}}, nil, "Authorization", "Bearer "+ch.Temp); err != nil {
		return err
	}
	if c.keyTok, err = c.loginKey(ctx); err != nil {
		return err
	}
	var creds struct {
		Items []struct {
			CredentialUUID string `json:"credentialUuid"`
		} `json:"items"`
	}
	if err := c.call(ctx, "GET", "/auth/credentials", nil, &creds, "Authorization", "Bearer "+c.keyTok); err != nil {
		return err
	}
	if len(creds.Items) == 0 {
		return fmt.Errorf("user %s lists no credential", c.keyUser)
	}
	c.credID = creds.Items[0].CredentialUUID

	pinv, err := c.srv.invite(ctx, fmt.Sprintf("passkey%d", i))
	if err != nil {
		return err
	}
	c.pkUser = pinv.Username
	pch, err := c.registrationInit(ctx, pinv)
	if err != nil {
		return err
	}
	c.auth = webauthntest.NewAuthenticator("localhost", c.srv.origin)
	id, pcd, patt := c.auth.Create([]byte(pch.Challenge), []byte(pch.User.ID))
	return c.call(ctx, "POST", "/auth/registration", map[string]any{"firstFactorCredential": map[string]any{
		"credentialKind": "Fido2", "credentialInfo": map[string]string{"credId": b64(id), "clientData": b64(pcd), "attestationData": b64(patt)},
	}}, nil, "Authorization", "Bearer "+pch.Temp)
}

func (c *client) registrationInit(ctx context.Context, inv invited) (challenge, error) {
	var ch challenge
	err := c.call(ctx, "POST", "/auth/registration/init", map[string]string{
		"orgId": inv.OrgID, "username": inv.Username, "registrationCode": inv.RegistrationCode,
	}, &ch)
	return ch, err
}

func (c *client) loginInit(ctx context.Context, username string) (challenge, error) {
	var ch challenge
	err := c.call(ctx, "POST", "/auth/login/init", map[string]string{"orgId": c.orgID, "username": username}, &ch)
	return ch, err
}

// loginKey is one Key login: init, the client's signature, finish.
func (c *client) loginKey(ctx context.Context) (string, error) {
	ch, err := c.loginInit(ctx, c.keyUser)
	if err != nil {
		return "", err
	}
	cd, sig := c.signer.Sign(ch.Challenge)
	var out struct {
		Token string `json:"token"`
	}
	err = c.call(ctx, "POST", "/auth/login", map[string]any{"challengeIdentifier": ch.ChallengeIdentifier, "firstFactor": map[string]any{
		"kind": "Key", "credentialAssertion": map[string]string{"credId": c.signer.CredID, "clientData": cd, "signature": sig},
	}}, &out)
	return out.Token, err
}

// loginPasskey is one passkey login with the software authenticator.
func (c *client) loginPasskey(ctx context.Context) error {
	ch, err := c.loginInit(ctx, c.pkUser)
	if err != nil {
		return err
	}
	id, cd, ad, sig, uh := c.auth.Get([]byte(ch.Challenge))
	a := map[string]string{"credId": b64(id), "clientData": b64(cd), "authenticatorData": b64(ad), "signature": b64(sig), "userHandle": b64(uh)}
	return c.call(ctx, "POST", "/auth/login", map[string]any{"challengeIdentifier": ch.ChallengeIdentifier,
		"firstFactor": map[string]any{"kind": "Fido2", "credentialAssertion": a}}, nil)
}

// signedAction is one User Action Signing and the request it authorises,
// as the SDK makes them: /auth/action/init, the client's signature,
// /auth/action, then the rename with X-DFNS-USERACTION.
func (c *client) signedAction(ctx context.Context) error {
	c.n++
	body := fmt.Sprintf(`{"credentialUuid":%q,"name":"load %d"}`, c.credID, c.n)
	auth := "Bearer " + c.keyTok
	var ch challenge
	if err := c.call(ctx, "POST", "/auth/action/init", map[string]string{
		"userActionPayload": body, "userActionHttpMethod": "PUT", "userActionHttpPath": "/auth/credentials/name", "userActionServerKind": "Api",
	}, &ch, "Authorization", auth); err != nil {
		return err
	}
	cd, sig := c.signer.Sign(ch.Challenge)
	var ua struct {
		UserAction string `json:"userAction"`
	}
	if err := c.call(ctx, "POST", "/auth/action", map[string]any{"challengeIdentifier": ch.ChallengeIdentifier, "firstFactor": map[string]any{
		"kind": "Key", "credentialAssertion": map[string]string{"credId": c.signer.CredID, "clientData": cd, "signature": sig},
	}}, &ua, "Authorization", auth); err != nil {
		return err
	}
	return c.call(ctx, "PUT", "/auth/credentials/name", body, nil, "Authorization", auth, "X-DFNS-USERACTION", ua.UserAction)
}

// read is one authenticated read: the caller's credentials.
func (c *client) read(ctx context.Context) error {
	return c.call(ctx, "GET", "/auth/credentials", nil, nil, "Authorization", "Bearer "+c.keyTok)
}
