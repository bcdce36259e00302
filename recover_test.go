package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/url"
	"strings"
	"testing"
	"time"

	"countersign/webauthn"
	"countersign/webauthn/webauthntest"
)

// TestRecoverCommand: the owner of a one-person organisation lost their
// passkey; the operator's `countersign recover` prints a reset link that
// lets them register a new one (and nothing else: an unknown or
// unregistered user gets no link).
func TestRecoverCommand(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	args := []string{"--data-dir", dir, "--origin", "http://localhost:8080"}
	var out strings.Builder
	if err := run(ctx, append([]string{"invite", "owner", "--json"}, args...), &out, io.Discard); err != nil {
		t.Fatalf("invite: %v", err)
	}
	var inv inviteOutput
	if err := json.Unmarshal([]byte(out.String()), &inv); err != nil {
		t.Fatal(err)
	}
	if err := run(ctx, append([]string{"recover", "owner"}, args...), io.Discard, io.Discard); err == nil ||
		!strings.Contains(err.Error(), "invite them again") {
		t.Fatalf("recover of an unregistered user: %v", err)
	}
	if err := run(ctx, append([]string{"recover", "nobody"}, args...), io.Discard, io.Discard); err == nil {
		t.Fatal("recover of an unknown user printed a link")
	}

	cfg := Config{DataDir: dir, Migrate: true, RPID: "localhost", RPName: "countersign", ChallengeTTL: time.Minute, LoginTokenTTL: time.Hour}
	if err := cfg.finish(stringList{"http://localhost:8080"}, false); err != nil {
		t.Fatal(err)
	}
	a, err := open(ctx, cfg, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.store.Close()
	register := func(challengeID, challenge string) {
		t.Helper()
		cd, att := webauthntest.NewKeySigner("P256").Attest(challenge)
		c, _ := webauthn.DecodeBase64URL(cd)
		at, _ := webauthn.DecodeBase64URL(att)
		nc := webauthn.NewCredential{Kind: "Key", CredID: "key-" + challengeID, ClientData: c, AttestationData: at}
		if _, _, err := a.ceremonies.FinishRegistration(ctx, challengeID, nil, nc, nil); err != nil {
			t.Fatalf("register: %v", err)
		}
	}
	rc, err := a.ceremonies.BeginRegistration(ctx, inv.OrgID, "owner", inv.RegistrationCode)
	if err != nil {
		t.Fatal(err)
	}
	register(rc.ID, rc.Challenge)

	out.Reset()
	if err := run(ctx, append([]string{"recover", "owner", "--json"}, args...), &out, io.Discard); err != nil {
		t.Fatalf("recover: %v", err)
	}
	var got recoverOutput
	if err := json.Unmarshal([]byte(out.String()), &got); err != nil {
		t.Fatalf("recover --json printed %q: %v", out.String(), err)
	}
	u, err := url.Parse(got.ResetURL)
	if err != nil || !strings.HasPrefix(got.ResetURL, "http://localhost:8080/recover?reset=") {
		t.Fatalf("reset link %q", got.ResetURL)
	}
	challenge, err := a.ceremonies.BeginReset(ctx, u.Query().Get("reset"))
	if err != nil || challenge.User.ID != inv.UserID {
		t.Fatalf("the printed link does not start a reset of the owner: %+v, %v", challenge.User, err)
	}
}
