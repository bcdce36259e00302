package server

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"countersign/webauthn"
	"countersign/webauthn/webauthntest"
)

func TestRegistrationWithEveryKeyType(t *testing.T) {
	for _, kind := range webauthntest.KeySignerKinds {
		t.Run(kind+" key registers and logs in", func(t *testing.T) {
			h := newHarness(t)
			inv, signer := h.registerKey("alice", kind)
			if !h.user(inv.User.ID).IsRegistered {
				t.Fatal("user is not marked registered")
			}
			creds := h.credentials(inv.User.ID)
			if len(creds) != 1 || creds[0].Kind != "Key" || creds[0].CredID != signer.CredID {
				t.Fatalf("credentials = %+v, want one Key with credId %s", creds, signer.CredID)
			}
			tok := h.loginKey(inv, signer)
			r := h.do("GET", "/auth/credentials", nil, "Authorization", "Bearer "+tok)
			mustStatus(t, r, http.StatusOK)
			if !strings.Contains(string(r.Body), signer.CredID) {
				t.Fatalf("credential list lacks %s: %s", signer.CredID, r.Body)
			}
		})
	}
}

func TestRegistrationWithPasskey(t *testing.T) {
	t.Run("browser encoding of the challenge registers", func(t *testing.T) {
		h := newHarness(t)
		inv, auth := h.registerFido2("alice")
		creds := h.credentials(inv.User.ID)
		if len(creds) != 1 || creds[0].Kind != "Fido2" || !creds[0].UserVerified || creds[0].RPID != testRPID || creds[0].Origin != testOrigin {
			t.Fatalf("credentials = %+v", creds)
		}
		if h.loginFido2(inv, auth) == "" {
			t.Fatal("no token")
		}
	})
	t.Run("react-native encoding of the challenge registers", func(t *testing.T) {
		h := newHarness(t)
		inv := h.invite("alice")
		ri := h.registrationInit(inv)
		raw, err := webauthn.DecodeBase64URL(ri.Challenge)
		if err != nil {
			t.Fatal(err)
		}
		auth := webauthntest.NewAuthenticator(testRPID, testOrigin)
		id, cd, att := auth.Create(raw, []byte(ri.User.ID))
		mustStatus(t, h.register(ri.Temp, fido2Credential(id, cd, att)), http.StatusOK)
	})
	t.Run("user handle is random, not the username", func(t *testing.T) {
		h := newHarness(t)
		inv := h.invite("alice")
		ri := h.registrationInit(inv)
		if ri.User.ID == "" || strings.Contains(ri.User.ID, "alice") || ri.User.ID == inv.User.ID {
			t.Fatalf("user.id = %q", ri.User.ID)
		}
	})
}

// assertNothingPersisted checks that a refused registration left the user
// unregistered, credential-less, and its code still usable.
func assertNothingPersisted(t *testing.T, h *harness, inv webauthn.Invited) {
	t.Helper()
	if creds := h.credentials(inv.User.ID); len(creds) != 0 {
		t.Fatalf("a failed registration stored credentials: %+v", creds)
	}
	if h.user(inv.User.ID).IsRegistered {
		t.Fatal("a failed registration marked the user registered")
	}
	h.registrationInit(inv) // the code still works
}

func TestRegistrationAttacks(t *testing.T) {
	fido2 := func(t *testing.T, mutate func(a *webauthntest.Authenticator) []webauthntest.Option) {
		h := newHarness(t)
		inv := h.invite("alice")
		ri := h.registrationInit(inv)
		auth := webauthntest.NewAuthenticator(testRPID, testOrigin)
		opts := mutate(auth)
		id, cd, att := auth.Create([]byte(ri.Challenge), []byte(ri.User.ID), opts...)
		r := h.register(ri.Temp, fido2Credential(id, cd, att))
		mustStatus(t, r, http.StatusUnauthorized)
		if code := r.errorCode(t); code != "authentication_failed" {
			t.Fatalf("error code = %q, want authentication_failed", code)
		}
		assertNothingPersisted(t, h, inv)
	}
	t.Run("attestation for a foreign origin is refused", func(t *testing.T) {
		fido2(t, func(*webauthntest.Authenticator) []webauthntest.Option {
			return []webauthntest.Option{webauthntest.WithOrigin("https://evil.example")}
		})
	})
	t.Run("attestation for a foreign rp id is refused", func(t *testing.T) {
		fido2(t, func(*webauthntest.Authenticator) []webauthntest.Option {
			return []webauthntest.Option{webauthntest.WithRPID("evil.example")}
		})
	})
	t.Run("client data of type webauthn.get is refused", func(t *testing.T) {
		fido2(t, func(*webauthntest.Authenticator) []webauthntest.Option {
			return []webauthntest.Option{webauthntest.WithType("webauthn.get")}
		})
	})
	t.Run("attestation of another challenge is refused", func(t *testing.T) {
		fido2(t, func(*webauthntest.Authenticator) []webauthntest.Option {
			return []webauthntest.Option{webauthntest.WithClientDataChallenge(b64([]byte("another challenge of enough length")))}
		})
	})
	t.Run("attestation without user verification is refused", func(t *testing.T) {
		fido2(t, func(*webauthntest.Authenticator) []webauthntest.Option {
			return []webauthntest.Option{webauthntest.WithFlags(webauthntest.FlagUP)}
		})
	})
	t.Run("forged key attestation is refused", func(t *testing.T) {
		h := newHarness(t)
		inv := h.invite("alice")
		ri := h.registrationInit(inv)
		signer, other := webauthntest.NewKeySigner("P256"), webauthntest.NewKeySigner("P256")
		cred := keyCredential(signer, ri.Challenge)
		// The attestation claims signer's key but is signed by other.
		_, forged := other.Attest(ri.Challenge)
		cred["credentialInfo"].(map[string]string)["attestationData"] = swapPublicKey(t, forged, signer.PublicKeyPEM())
		mustStatus(t, h.register(ri.Temp, cred), http.StatusUnauthorized)
		assertNothingPersisted(t, h, inv)
	})
	t.Run("the registration challenge is burned by a failed attempt", func(t *testing.T) {
		h := newHarness(t)
		inv := h.invite("alice")
		ri := h.registrationInit(inv)
		signer := webauthntest.NewKeySigner("P256")
		bad := keyCredential(signer, "not the challenge")
		mustStatus(t, h.register(ri.Temp, bad), http.StatusUnauthorized)
		mustStatus(t, h.register(ri.Temp, keyCredential(signer, ri.Challenge)), http.StatusUnauthorized)
		assertNothingPersisted(t, h, inv)
	})
	t.Run("an expired temporary token is refused", func(t *testing.T) {
		h := newHarness(t)
		inv := h.invite("alice")
		ri := h.registrationInit(inv)
		h.advance(6 * time.Minute)
		mustStatus(t, h.register(ri.Temp, keyCredential(webauthntest.NewKeySigner("P256"), ri.Challenge)), http.StatusUnauthorized)
		assertNothingPersisted(t, h, inv)
	})
	t.Run("a login token cannot complete a registration", func(t *testing.T) {
		h := newHarness(t)
		a, signer := h.registerKey("alice", "P256")
		tok := h.loginKey(a, signer)
		inv := h.invite("bob")
		ri := h.registrationInit(inv)
		mustStatus(t, h.register(tok, keyCredential(webauthntest.NewKeySigner("P256"), ri.Challenge)), http.StatusUnauthorized)
		assertNothingPersisted(t, h, inv)
	})
	t.Run("a credential id registered anywhere answers 409", func(t *testing.T) {
		h := newHarness(t)
		_, signer := h.registerKey("alice", "P256")
		inv := h.invite("bob")
		ri := h.registrationInit(inv)
		mustStatus(t, h.register(ri.Temp, keyCredential(signer, ri.Challenge)), http.StatusConflict)
		assertNothingPersisted(t, h, inv)
	})
}

func TestRegistrationCodes(t *testing.T) {
	h := newHarness(t)
	inv := h.invite("alice")
	init := func(org, user, code string) response {
		return h.do("POST", "/auth/registration/init", map[string]string{"orgId": org, "username": user, "registrationCode": code})
	}
	var bodies []string
	refused := func(name string, r response) {
		t.Run(name, func(t *testing.T) {
			mustStatus(t, r, http.StatusUnauthorized)
			if code := r.errorCode(t); code != "invalid_registration_code" {
				t.Fatalf("error code = %q", code)
			}
			bodies = append(bodies, r.json(t)["message"].(string))
		})
	}
	refused("unknown org is refused", init("or-nope", "alice", inv.Code))
	refused("unknown user is refused", init(inv.Org.ID, "mallory", inv.Code))
	refused("wrong code is refused", init(inv.Org.ID, "alice", "AAAAA-BBBBB-CCCCC-DDDDD"))
	t.Run("code is case-insensitive and the username too", func(t *testing.T) {
		mustStatus(t, init(inv.Org.ID, "ALICE", strings.ToLower(inv.Code)), http.StatusOK)
	})
	ri := h.registrationInit(inv)
	mustStatus(t, h.register(ri.Temp, keyCredential(webauthntest.NewKeySigner("P256"), ri.Challenge)), http.StatusOK)
	refused("reused code is refused", init(inv.Org.ID, "alice", inv.Code))
	bob := h.invite("bob")
	h.advance(25 * time.Hour)
	refused("expired code is refused", init(bob.Org.ID, "bob", bob.Code))
	t.Run("every refusal reads the same", func(t *testing.T) {
		for _, b := range bodies {
			if b != bodies[0] {
				t.Fatalf("messages differ: %q vs %q", b, bodies[0])
			}
		}
	})
	t.Run("a registration started before the code expired cannot finish after", func(t *testing.T) {
		h := newHarness(t)
		inv := h.invite("carol")
		h.advance(24*time.Hour - time.Minute)
		ri := h.registrationInit(inv)
		h.advance(2 * time.Minute)
		mustStatus(t, h.register(ri.Temp, keyCredential(webauthntest.NewKeySigner("P256"), ri.Challenge)), http.StatusUnauthorized)
		if h.user(inv.User.ID).IsRegistered {
			t.Fatal("registered with an expired code")
		}
	})
}

// swapPublicKey replaces the publicKey inside a base64url Key attestation.
func swapPublicKey(t *testing.T, attestation, pem string) string {
	t.Helper()
	raw, err := webauthn.DecodeBase64URL(attestation)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	m["publicKey"] = pem
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b64(out)
}

func TestReinvite(t *testing.T) {
	h := newHarness(t)
	inv := h.invite("alice")
	again, err := h.cs.Reinvite(context.Background(), inv.Org.ID, "alice")
	if err != nil {
		t.Fatal(err)
	}
	t.Run("the old code stops working", func(t *testing.T) {
		r := h.do("POST", "/auth/registration/init", map[string]string{"orgId": inv.Org.ID, "username": "alice", "registrationCode": inv.Code})
		mustStatus(t, r, http.StatusUnauthorized)
	})
	t.Run("the new code registers", func(t *testing.T) {
		ri := h.registrationInit(again)
		mustStatus(t, h.register(ri.Temp, keyCredential(webauthntest.NewKeySigner("P256"), ri.Challenge)), http.StatusOK)
	})
	t.Run("a registered user is not reinvited", func(t *testing.T) {
		if _, err := h.cs.Reinvite(context.Background(), inv.Org.ID, "alice"); !errors.Is(err, webauthn.ErrRegistered) {
			t.Fatalf("got %v, want ErrRegistered", err)
		}
	})
}
