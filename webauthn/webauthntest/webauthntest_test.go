package webauthntest_test

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"

	"github.com/go-webauthn/webauthn/protocol"
	gowebauthn "github.com/go-webauthn/webauthn/webauthn"

	"countersign/webauthn/webauthntest"
)

const (
	rpID   = "localhost"
	origin = "http://localhost:8080"
)

type user struct{ creds []gowebauthn.Credential }

func (u *user) WebAuthnID() []byte                           { return []byte("us-test") }
func (u *user) WebAuthnName() string                         { return "alice@example.com" }
func (u *user) WebAuthnDisplayName() string                  { return "Alice" }
func (u *user) WebAuthnCredentials() []gowebauthn.Credential { return u.creds }

func newRP(t *testing.T) *gowebauthn.WebAuthn {
	t.Helper()
	rp, err := gowebauthn.New(&gowebauthn.Config{RPID: rpID, RPDisplayName: "countersign", RPOrigins: []string{origin}})
	if err != nil {
		t.Fatalf("go-webauthn config: %v", err)
	}
	return rp
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// register runs a go-webauthn registration against a, returning the credential.
func register(t *testing.T, rp *gowebauthn.WebAuthn, a *webauthntest.Authenticator, u *user, opts ...webauthntest.Option) (*gowebauthn.Credential, error) {
	t.Helper()
	_, session, err := rp.BeginRegistration(u)
	if err != nil {
		t.Fatalf("begin registration: %v", err)
	}
	challenge, err := base64.RawURLEncoding.DecodeString(session.Challenge)
	if err != nil {
		t.Fatalf("session challenge: %v", err)
	}
	id, clientData, att := a.Create(challenge, u.WebAuthnID(), opts...)
	body, _ := json.Marshal(map[string]any{"id": b64(id), "rawId": b64(id), "type": "public-key",
		"response": map[string]string{"clientDataJSON": b64(clientData), "attestationObject": b64(att)}})
	parsed, err := protocol.ParseCredentialCreationResponseBytes(body)
	if err != nil {
		return nil, err
	}
	return rp.CreateCredential(u, *session, parsed)
}

// login runs a go-webauthn login against a.
func login(t *testing.T, rp *gowebauthn.WebAuthn, a *webauthntest.Authenticator, u *user, opts ...webauthntest.Option) (*gowebauthn.Credential, error) {
	t.Helper()
	_, session, err := rp.BeginLogin(u)
	if err != nil {
		t.Fatalf("begin login: %v", err)
	}
	challenge, err := base64.RawURLEncoding.DecodeString(session.Challenge)
	if err != nil {
		t.Fatalf("session challenge: %v", err)
	}
	id, clientData, authData, sig, handle := a.Get(challenge, opts...)
	body, _ := json.Marshal(map[string]any{"id": b64(id), "rawId": b64(id), "type": "public-key",
		"response": map[string]string{"clientDataJSON": b64(clientData), "authenticatorData": b64(authData),
			"signature": b64(sig), "userHandle": b64(handle)}})
	parsed, err := protocol.ParseCredentialRequestResponseBytes(body)
	if err != nil {
		return nil, err
	}
	return rp.ValidateLogin(u, *session, parsed)
}

func TestAuthenticatorPassesGoWebAuthn(t *testing.T) {
	rp := newRP(t)
	a := webauthntest.NewAuthenticator(rpID, origin)
	a.Flags |= webauthntest.FlagBE | webauthntest.FlagBS
	a.AAGUID = [16]byte{1, 2, 3}
	u := &user{}
	cred, err := register(t, rp, a, u)
	if err != nil {
		t.Fatalf("registration: %v", err)
	}
	if got := cred.Authenticator.AAGUID; !bytes.Equal(got, a.AAGUID[:]) {
		t.Errorf("AAGUID: got %x, want %x", got, a.AAGUID)
	}
	if !cred.Flags.BackupEligible || !cred.Flags.BackupState || !cred.Flags.UserVerified {
		t.Errorf("flags: got %+v, want UV, BE and BS", cred.Flags)
	}
	if got := a.CredentialPublicKey(cred.ID); !bytes.Equal(got, cred.PublicKey) {
		t.Errorf("CredentialPublicKey: got %x, want %x", got, cred.PublicKey)
	}
	u.creds = append(u.creds, *cred)
	for i := uint32(1); i <= 2; i++ {
		got, err := login(t, rp, a, u)
		if err != nil {
			t.Fatalf("login %d: %v", i, err)
		}
		if got.Authenticator.SignCount != i {
			t.Errorf("login %d: sign count %d, want %d", i, got.Authenticator.SignCount, i)
		}
	}
}

func TestAuthenticatorOptionsBreakVerification(t *testing.T) {
	rp := newRP(t)
	a := webauthntest.NewAuthenticator(rpID, origin)
	u := &user{}
	cred, err := register(t, rp, a, u)
	if err != nil {
		t.Fatalf("registration: %v", err)
	}
	u.creds = append(u.creds, *cred)

	for _, tc := range []struct {
		name string
		opts []webauthntest.Option
	}{
		{"corrupt signature is rejected", []webauthntest.Option{webauthntest.WithCorruptSignature()}},
		{"another origin is rejected", []webauthntest.Option{webauthntest.WithOrigin("https://evil.example")}},
		{"another rp id is rejected", []webauthntest.Option{webauthntest.WithRPID("evil.example")}},
		{"a create type on login is rejected", []webauthntest.Option{webauthntest.WithType("webauthn.create")}},
		{"another challenge is rejected", []webauthntest.Option{webauthntest.WithClientDataChallenge("b3RoZXI")}},
		{"missing user presence is rejected", []webauthntest.Option{webauthntest.WithFlags(webauthntest.FlagUV)}},
		{"another user handle is rejected", []webauthntest.Option{webauthntest.WithUserHandle([]byte("us-other"))}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := login(t, rp, a, u, tc.opts...); err == nil {
				t.Fatal("login: got success, want an error")
			}
		})
	}
	t.Run("a get type on registration is rejected", func(t *testing.T) {
		if _, err := register(t, rp, a, &user{}, webauthntest.WithType("webauthn.get")); err == nil {
			t.Fatal("registration: got success, want an error")
		}
	})
}

func TestKeySignerWireFormat(t *testing.T) {
	const challenge = "Y2gtNzloaHQtbXJlb2stOGFwOHFtMmVpZWZ0amxhZw"
	for _, kind := range webauthntest.KeySignerKinds {
		t.Run(kind+" signer writes what the TypeScript signers write", func(t *testing.T) {
			s := webauthntest.NewKeySigner(kind)
			pemKey := s.PublicKeyPEM()
			lines := strings.Split(pemKey, "\n")
			if strings.HasSuffix(pemKey, "\n") || !strings.HasPrefix(lines[0], "-----BEGIN ") {
				t.Errorf("PEM: got %q, want BEGIN line first and no trailing newline", pemKey)
			}
			for _, l := range lines[1 : len(lines)-2] {
				if len(l) != 64 {
					t.Errorf("PEM line %q: got %d chars, want 64", l, len(l))
				}
			}
			if raw, _ := base64.RawURLEncoding.DecodeString(s.CredID); len(raw) != 32 {
				t.Errorf("CredID %q: got %d bytes, want 32", s.CredID, len(raw))
			}

			cd, att := s.Attest(challenge)
			want := `{"type":"key.create","challenge":"` + challenge + `"}`
			if got := decode(t, cd); string(got) != want {
				t.Errorf("attestation clientData: got %s, want %s", got, want)
			}
			var data struct{ PublicKey, Signature string }
			if err := json.Unmarshal(decode(t, att), &data); err != nil {
				t.Fatalf("attestationData: %v", err)
			}
			if _, err := hex.DecodeString(data.Signature); err != nil || data.PublicKey != pemKey {
				t.Errorf("attestationData: got %+v, want the PEM and a hex signature", data)
			}

			cd, _ = s.Sign(challenge)
			want = `{"type":"key.get","challenge":"` + challenge + `"}`
			if got := decode(t, cd); string(got) != want {
				t.Errorf("assertion clientData: got %s, want %s", got, want)
			}
		})
	}
}

func decode(t *testing.T, s string) []byte {
	t.Helper()
	if strings.ContainsAny(s, "+/=") {
		t.Errorf("%q is not unpadded base64url", s)
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		t.Fatalf("decode %q: %v", s, err)
	}
	return b
}
