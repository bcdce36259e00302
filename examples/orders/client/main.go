// Command client is a machine that registers a Key credential with
// countersign and places signed orders through its gateway, speaking the
// Dfns Auth API that the official SDKs speak: registration (spec §4.1, Key
// attestation §2.4), login (§2.3) and User Action Signing (§5).
//
//	go run ./examples/orders/client register alice.json   # from `countersign invite alice --json`
//	go run ./examples/orders/client order 12.50 EUR ACME
package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
)

// keyFile is where register keeps what order needs.
const keyFile = "alice.key.json"

type identity struct {
	BaseURL    string `json:"baseUrl"`
	OrgID      string `json:"orgId"`
	Username   string `json:"username"`
	CredID     string `json:"credId"`
	PrivateKey string `json:"privateKey"` // PKCS#8 PEM
}

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "client:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	switch {
	case len(args) == 2 && args[0] == "register":
		return register(args[1])
	case len(args) == 4 && args[0] == "order":
		return order(args[1], args[2], args[3])
	}
	return errors.New("usage: client register INVITE.json | client order AMOUNT CURRENCY CUSTOMER")
}

// register answers the invitation with a fresh P-256 Key credential.
func register(invitePath string) error {
	raw, err := os.ReadFile(invitePath)
	if err != nil {
		return err
	}
	var inv struct{ OrgID, Username, RegistrationCode, RegistrationURL string }
	if err := json.Unmarshal(raw, &inv); err != nil {
		return fmt.Errorf("%s: %w", invitePath, err)
	}
	u, err := url.Parse(inv.RegistrationURL)
	if err != nil {
		return err
	}
	id := identity{BaseURL: u.Scheme + "://" + u.Host, OrgID: inv.OrgID, Username: inv.Username, CredID: b64(random(32))}
	var ch struct {
		Challenge string `json:"challenge"`
		Temp      string `json:"temporaryAuthenticationToken"`
	}
	if err := call(id.BaseURL, "POST", "/auth/registration/init", "", "", map[string]string{
		"orgId": inv.OrgID, "username": inv.Username, "registrationCode": inv.RegistrationCode}, &ch); err != nil {
		return err
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	spki, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	pubPEM := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: spki}))
	// Spec §2.4: sign {"clientDataHash":…,"publicKey":…} with the new key.
	clientData, _ := json.Marshal(map[string]string{"type": "key.create", "challenge": ch.Challenge})
	sum := sha256.Sum256(clientData)
	fingerprint, _ := json.Marshal(struct {
		ClientDataHash string `json:"clientDataHash"`
		PublicKey      string `json:"publicKey"`
	}{hex.EncodeToString(sum[:]), pubPEM})
	attestation, _ := json.Marshal(map[string]string{"publicKey": pubPEM, "signature": hex.EncodeToString(sign(key, fingerprint))})
	if err := call(id.BaseURL, "POST", "/auth/registration", ch.Temp, "", map[string]any{"firstFactorCredential": map[string]any{
		"credentialKind": "Key", "credentialName": "orders client",
		"credentialInfo": map[string]string{"credId": id.CredID, "clientData": b64(clientData), "attestationData": b64(attestation)},
	}}, nil); err != nil {
		return err
	}
	der, _ := x509.MarshalPKCS8PrivateKey(key)
	id.PrivateKey = string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	out, _ := json.MarshalIndent(id, "", "  ")
	if err := os.WriteFile(keyFile, out, 0o600); err != nil {
		return err
	}
	fmt.Printf("%s registered a Key credential; its private key is in %s\n", id.Username, keyFile)
	return nil
}

// order logs in, has countersign approve the exact order, and sends it.
func order(amount, currency, customer string) error {
	raw, err := os.ReadFile(keyFile)
	if err != nil {
		return fmt.Errorf("%w (run register first)", err)
	}
	var id identity
	if err := json.Unmarshal(raw, &id); err != nil {
		return err
	}
	block, _ := pem.Decode([]byte(id.PrivateKey))
	if block == nil {
		return errors.New(keyFile + " holds no private key")
	}
	parsed, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return err
	}
	key := parsed.(*ecdsa.PrivateKey)
	n, err := strconv.ParseFloat(amount, 64)
	if err != nil {
		return fmt.Errorf("amount %q: %w", amount, err)
	}

	// Login (spec §4.1): sign the login challenge.
	var lc challenge
	if err := call(id.BaseURL, "POST", "/auth/login/init", "", "", map[string]string{"orgId": id.OrgID, "username": id.Username}, &lc); err != nil {
		return err
	}
	var login struct{ Token string }
	if err := call(id.BaseURL, "POST", "/auth/login", "", "", lc.answer(id.CredID, key), &login); err != nil {
		return err
	}

	// User Action Signing (spec §5): the exact request is approved first.
	body, _ := json.Marshal(map[string]any{"amount": n, "currency": currency, "customer": customer})
	var ac challenge
	if err := call(id.BaseURL, "POST", "/auth/action/init", login.Token, "", map[string]string{
		"userActionHttpMethod": "POST", "userActionHttpPath": "/api/orders", "userActionPayload": string(body)}, &ac); err != nil {
		return err
	}
	fmt.Printf("approving: %s\n", ac.Summary)
	var ua struct{ UserAction string }
	if err := call(id.BaseURL, "POST", "/auth/action", login.Token, "", ac.answer(id.CredID, key), &ua); err != nil {
		return err
	}
	var placed map[string]any
	if err := call(id.BaseURL, "POST", "/api/orders", login.Token, ua.UserAction, json.RawMessage(body), &placed); err != nil {
		return err
	}
	out, _ := json.MarshalIndent(placed, "", "  ")
	fmt.Printf("the upstream recorded:\n%s\n", out)
	return nil
}

type challenge struct {
	Challenge           string `json:"challenge"`
	ChallengeIdentifier string `json:"challengeIdentifier"`
	Summary             string `json:"summary"`
}

// answer signs the challenge as a Key credential does (spec §2.3): the
// signed message is the clientData bytes themselves.
func (c challenge) answer(credID string, key *ecdsa.PrivateKey) map[string]any {
	clientData, _ := json.Marshal(map[string]string{"type": "key.get", "challenge": c.Challenge})
	return map[string]any{"challengeIdentifier": c.ChallengeIdentifier, "firstFactor": map[string]any{
		"kind": "Key", "credentialAssertion": map[string]string{"credId": credID, "clientData": b64(clientData), "signature": b64(sign(key, clientData))},
	}}
}

func sign(key *ecdsa.PrivateKey, data []byte) []byte {
	d := sha256.Sum256(data)
	sig, err := ecdsa.SignASN1(rand.Reader, key, d[:])
	if err != nil {
		panic(err)
	}
	return sig
}

// call sends one JSON request and decodes the answer into out (if set); a
// non-2xx answer is an error with the server's message.
func call(base, method, path, bearer, userAction string, in, out any) error {
	body, _ := json.Marshal(in)
	req, err := http.NewRequest(method, base+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	if userAction != "" {
		req.Header.Set("X-DFNS-USERACTION", userAction)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if res.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %d %s", method, path, res.StatusCode, raw)
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(raw, out)
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func random(n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return b
}
