package server

import (
	"encoding/hex"
	"net/http"
	"strings"
	"testing"

	"countersign/store"
)

func mustAAGUID(t *testing.T, uuid string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(uuid, "-", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestCredentialsAreDescribedInPlainWords(t *testing.T) {
	gpm := mustAAGUID(t, "ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4")
	yubi := mustAAGUID(t, "cb69481e-8ff7-4039-93ec-0a2729a154a8")
	for _, tc := range []struct {
		name                 string
		cred                 store.Credential
		description, storage string
		icon                 string
	}{
		{"a synced passkey of a known provider", store.Credential{Kind: store.CredentialFido2, AAGUID: gpm, BackupEligible: true, Transports: []string{"internal", "hybrid"}},
			"Passkey in Google Password Manager", "Synced across your devices", "synced"},
		{"a YubiKey is a security key that stays on the key, never 'this device'", store.Credential{Kind: store.CredentialFido2, AAGUID: yubi, Transports: []string{"nfc", "usb"}},
			"Security key: YubiKey 5 Series", "Stays on this security key", "security-key"},
		{"an unknown roaming key", store.Credential{Kind: store.CredentialFido2, AAGUID: make([]byte, 16), Transports: []string{"usb"}},
			"Security key", "Stays on this security key", "security-key"},
		{"an unknown synced passkey", store.Credential{Kind: store.CredentialFido2, BackupEligible: true},
			"Synced passkey", "Synced across your devices", "synced"},
		{"an unknown device-bound passkey", store.Credential{Kind: store.CredentialFido2, Transports: []string{"internal"}},
			"Passkey", "Stays on the device that made it", "device"},
		{"a key for scripts", store.Credential{Kind: store.CredentialKey},
			"Key for scripts", "", "key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, s, i := describeCredential(tc.cred)
			if d != tc.description || s != tc.storage || i != tc.icon {
				t.Errorf("describeCredential = %q, %q, %q; want %q, %q, %q", d, s, i, tc.description, tc.storage, tc.icon)
			}
		})
	}
}

func TestTheLastActiveCredentialCannotBeDeactivatedFromTheConsole(t *testing.T) {
	h := newHarness(t)
	alice := h.signInConsole("alice")
	body := string(h.page(alice, pathCredentials).Body)
	if !strings.Contains(body, `data-testid="deactivate-button-reason"`) || !strings.Contains(body, "Your only active credential") {
		t.Fatalf("the only credential's Deactivate gives no reason:\n%s", body)
	}
	if !strings.Contains(body, " disabled ") && !strings.Contains(body, " disabled>") {
		t.Errorf("the only credential's Deactivate is not disabled")
	}

	_, _ = h.addKeyCredential(alice.tok, alice.signer, "second")
	body = string(h.page(alice, pathCredentials).Body)
	if strings.Contains(body, "Your only active credential") {
		t.Errorf("with two active credentials, Deactivate is still refused")
	}
}

func TestPasskeyProvidersAreServedFromTheEmbeddedList(t *testing.T) {
	h := newHarness(t)
	r := h.do("GET", pathPasskeyProviders, nil)
	mustStatus(t, r, http.StatusOK)
	if got := r.json(t)["ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4"]; got != "Google Password Manager" {
		t.Errorf("Google Password Manager's AAGUID names %v", got)
	}
}

func TestTheMenuHidesPagesThePersonMayNotRead(t *testing.T) {
	h := newHarness(t)
	owner := h.signInConsole("owner")
	bob := h.signInConsole("bob")
	for _, tc := range []struct {
		who    consoleUser
		hidden []string
		shown  []string
	}{
		{owner, nil, []string{"nav-users", "nav-service-accounts", "nav-permissions", "nav-activity"}},
		{bob, []string{"nav-users", "nav-service-accounts", "nav-permissions"}, []string{"nav-console", "nav-credentials", "nav-activity", "nav-tokens"}},
	} {
		body := string(h.page(tc.who, pathConsole).Body)
		for _, id := range tc.hidden {
			if strings.Contains(body, `data-testid="`+id+`"`) {
				t.Errorf("%s sees %s", tc.who.inv.User.Username, id)
			}
		}
		for _, id := range tc.shown {
			if !strings.Contains(body, `data-testid="`+id+`"`) {
				t.Errorf("%s does not see %s", tc.who.inv.User.Username, id)
			}
		}
	}
}

// TestButtonsTheServerWouldRefuseSayWhyInAdvance: bob may deactivate users
// but holds less than the owner, so the owner's Deactivate is disabled with
// the reason; his own is disabled too.
func TestButtonsTheServerWouldRefuseSayWhyInAdvance(t *testing.T) {
	h := newHarness(t)
	owner := h.newActionUser("owner")
	bob := h.signInConsole("bob")
	perm := h.createPermission(t, owner.tok, owner.first, "Deactivators", "Auth:Users:Read", "Auth:Users:Deactivate")
	h.assign(t, owner.tok, owner.first, perm, bob.inv.User.ID)

	body := string(h.page(bob, pathUsers).Body)
	for _, want := range []string{
		"They hold operations you don&#39;t, so only someone holding those can change them.",
		"You can&#39;t deactivate yourself: another administrator can.",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("bob's users page lacks %q", want)
		}
	}
	if n := strings.Count(body, `data-testid="deactivate-button-reason"`); n != 2 {
		t.Errorf("%d Deactivate buttons say why they are disabled, want 2 (the owner's and bob's own)", n)
	}
}
