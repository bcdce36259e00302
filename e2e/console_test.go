//go:build e2e

package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/playwright-community/playwright-go"
)

// TestAddSecurityKeyAndDeactivateIt: alice, signed in with her laptop's
// passkey, adds a security key from the Credentials page (the new key
// attests, her passkey approves), then, with the key unplugged,
// deactivates it with her passkey's signature. The approve dialog says
// what each signature is for before the prompt, and both changes show on
// the Activity page, signed by the laptop's passkey.
func TestAddSecurityKeyAndDeactivateIt(t *testing.T) {
	srv := startServer(t)
	u := newBrowserUser(t, srv, touchID)
	u.register(srv.invite(t, "alice"), "alice")

	u.openConsole("/credentials", "credentials")
	u.expectRows("credential-row", 1)
	key := addVirtualAuthenticator(t, u.page, yubiKey)

	u.fill("passkey-name-input", "YubiKey")
	u.click("add-security-key-button")
	u.approve("POST", "/auth/credentials", `Add the passkey "YubiKey": it can then sign in and approve actions as you`)
	u.expectDone(`Add the passkey "YubiKey"`)
	u.expectRows("credential-row", 2)
	if n := len(key.credentials(t)); n != 1 {
		t.Fatalf("the security key holds %d credentials, want the new one", n)
	}
	yubi := u.credential("YubiKey")
	u.expectStatus(yubi, "Active")
	if err := expect.Locator(yubi.GetByTestId("credential-storage")).ToHaveText("Stays on this security key"); err != nil {
		t.Errorf("credential-storage: %v", err)
	}

	// Unplugged, the key cannot answer: the laptop's passkey signs.
	key.send(t, "WebAuthn.removeVirtualAuthenticator", nil)
	u.clickIn(yubi, "deactivate-button")
	u.approve("PUT", "/auth/credentials/deactivate", `Deactivate the passkey "YubiKey"`)
	u.expectDone(`Deactivate the passkey "YubiKey"`)
	u.expectStatus(yubi, "Inactive")
	u.expectStatus(u.credential(virtualProvider), "Active")

	u.openConsole("/activity?kind=approvals", "activity")
	u.expectRows("activity-row", 2)
	rows := u.byTestID("activity-row")
	for i, want := range []string{`Deactivate the passkey "YubiKey"`, `Add the passkey "YubiKey"`} {
		row := rows.Nth(i)
		if err := expect.Locator(row.GetByTestId("activity-summary")).ToContainText(want); err != nil {
			t.Errorf("activity row %d: %v", i, err)
		}
		if err := expect.Locator(row.GetByTestId("activity-credential")).ToHaveText(virtualProvider); err != nil {
			t.Errorf("activity row %d credential: %v", i, err)
		}
		if err := expect.Locator(row.GetByTestId("activity-user")).ToHaveText("alice"); err != nil {
			t.Errorf("activity row %d user: %v", i, err)
		}
	}
	if err := expect.Locator(u.byTestID("activity-scope")).ToHaveCount(0); err != nil {
		t.Errorf("the owner sees a restricted activity log: %v", err)
	}
}

// TestBogusActionSignatureIsRefused: an authenticator whose signature does
// not verify cannot approve a change: the page says so, the credential
// stays active and the activity log gains nothing. The next, honest
// approval works without reloading.
func TestBogusActionSignatureIsRefused(t *testing.T) {
	srv := startServer(t)
	u := newBrowserUser(t, srv, touchID)
	u.register(srv.invite(t, "alice"), "alice")
	u.openConsole("/credentials", "credentials")
	key := u.addKeyCredential("CI key")

	u.auth.send(t, "WebAuthn.setResponseOverrideBits", map[string]any{"isBogusSignature": true})
	u.clickIn(key, "deactivate-button")
	u.approve("PUT", "/auth/credentials/deactivate", `Deactivate the key "CI key"`)
	u.expectText("message", msgSignatureRefused)
	u.expectStatus(key, "Active")
	u.openConsole("/credentials", "credentials")
	u.expectStatus(key, "Active")
	u.openConsole("/activity?kind=approvals", "activity")
	u.expectRows("activity-row", 1)

	u.auth.send(t, "WebAuthn.setResponseOverrideBits", map[string]any{"isBogusSignature": false})
	u.openConsole("/credentials", "credentials")
	u.clickIn(key, "deactivate-button")
	u.approve("PUT", "/auth/credentials/deactivate", `Deactivate the key "CI key"`)
	u.expectDone(`Deactivate the key "CI key"`)
	u.expectStatus(key, "Inactive")
}

// TestCancelledApprovalChangesNothing: Cancel in the approve dialog sends
// neither an assertion nor the request, and nothing changes.
func TestCancelledApprovalChangesNothing(t *testing.T) {
	srv := startServer(t)
	u := newBrowserUser(t, srv, touchID)
	u.recordMediation()
	u.register(srv.invite(t, "alice"), "alice")
	u.openConsole("/credentials", "credentials")
	key := u.addKeyCredential("CI key")
	prompts := u.mediations() // the approval of the new key
	requests := u.logRequests()

	u.clickIn(key, "deactivate-button")
	u.expectApproval("PUT", "/auth/credentials/deactivate", `Deactivate the key "CI key"`)
	u.click("approve-cancel")
	u.expectText("message", msgCancelled)
	u.expectStatus(key, "Active")
	if got := u.mediations(); got != prompts {
		t.Errorf("navigator.credentials.get requests = %q, want still %q: the cancelled approval prompted", got, prompts)
	}
	want := []string{"POST /auth/action/init"}
	if got := requests.list(); !slices.Equal(got, want) {
		t.Errorf("requests while cancelling = %q, want only %q", got, want)
	}

	// Escape closes the dialog as Cancel does.
	u.clickIn(key, "deactivate-button")
	u.expectApproval("PUT", "/auth/credentials/deactivate", `Deactivate the key "CI key"`)
	if err := u.page.Keyboard().Press("Escape"); err != nil {
		t.Fatalf("press Escape: %v", err)
	}
	u.expectText("message", msgCancelled)
	if err := expect.Locator(u.byTestID("approve-dialog")).ToBeHidden(); err != nil {
		t.Fatalf("approve dialog after Escape: %v", err)
	}
	want = append(want, "POST /auth/action/init")
	if got := requests.list(); !slices.Equal(got, want) {
		t.Errorf("requests after Escape = %q, want only %q", got, want)
	}

	u.openConsole("/credentials", "credentials")
	u.expectStatus(key, "Active")
	u.openConsole("/activity?kind=approvals", "activity")
	u.expectRows("activity-row", 1)
	if err := expect.Locator(u.byTestID("activity-summary")).ToContainText(`Add the key "CI key" for scripts`); err != nil {
		t.Errorf("activity: %v", err)
	}
}

// TestPATFromConsoleWorksWithSDK: alice creates a personal access token in
// the console with a key pair generated by her browser; the token, its
// credential id and the private key shown once are all a script needs:
// @dfns/sdk signs a request with them (test/sdk/use-pat.mjs), and the
// console then shows the change and who made it.
func TestPATFromConsoleWorksWithSDK(t *testing.T) {
	node := sdkRunner(t)
	srv := startServer(t)
	u := newBrowserUser(t, srv, touchID)
	u.register(srv.invite(t, "alice"), "alice")

	u.openConsole("/tokens", "tokens")
	u.expectRows("token-row", 0)
	u.fill("token-name-input", "deploy bot")
	u.fill("token-days-input", "30")
	u.click("token-scope-all")
	u.click("create-token-button")
	u.expectApproval("POST", "/auth/pats", `Create the personal access token "deploy bot", valid for 30 days`)
	u.expectApprovalSays("holding all of your rights, as they change (now full administration, all 24 operations)")
	u.approveShown()
	u.expectDone(`Create the personal access token "deploy bot"`)
	if err := expect.Locator(u.byTestID("new-token")).ToBeVisible(); err != nil {
		t.Fatalf("new-token: %v", err)
	}
	pat, credID, privateKey := u.text("new-token-access-token"), u.text("new-token-cred-id"), u.text("new-token-private-key")
	if !strings.HasPrefix(privateKey, "-----BEGIN PRIVATE KEY-----") || strings.Count(pat, ".") != 2 || credID == "" {
		t.Fatalf("new token shows token %q, credId %q, private key %q", pat, credID, privateKey)
	}
	u.expectRows("token-row", 1)
	u.expectStatus(u.row("token-row", "deploy bot"), "Active")

	out := node.run(t, "use-pat.mjs",
		"COUNTERSIGN_URL="+strings.Replace(srv.URL, "localhost", "127.0.0.1", 1),
		"COUNTERSIGN_PAT="+pat, "COUNTERSIGN_PAT_CRED_ID="+credID, "COUNTERSIGN_PAT_PRIVATE_KEY="+privateKey,
		"COUNTERSIGN_PAT_NEW_NAME=deploy bot (renamed)")
	var updated struct {
		Name     string `json:"name"`
		CredID   string `json:"credId"`
		IsActive bool   `json:"isActive"`
	}
	if err := json.Unmarshal(out, &updated); err != nil {
		t.Fatalf("use-pat.mjs printed %q: %v", out, err)
	}
	if updated.Name != "deploy bot (renamed)" || updated.CredID != credID || !updated.IsActive {
		t.Fatalf("the SDK's update answered %+v", updated)
	}

	u.openConsole("/tokens", "tokens")
	u.expectRows("token-row", 1)
	row := u.row("token-row", "deploy bot (renamed)")
	if err := expect.Locator(row.GetByTestId("token-last-used")).ToContainText("signed"); err != nil {
		t.Errorf("token-last-used: %v", err)
	}
	u.openConsole("/activity?kind=approvals", "activity")
	u.expectRows("activity-row", 2)
	latest := u.byTestID("activity-row").First()
	if err := expect.Locator(latest.GetByTestId("activity-summary")).ToContainText(`to "deploy bot (renamed)"`); err != nil {
		t.Errorf("activity summary: %v", err)
	}
	if err := expect.Locator(latest.GetByTestId("activity-credential")).ToContainText("deploy bot"); err != nil {
		t.Errorf("activity credential: %v", err)
	}

	// Deactivated in the console, the token stops working at once.
	u.openConsole("/tokens", "tokens")
	tokenID := u.attr(row, "data-token-id")
	u.clickIn(row, "deactivate-button")
	u.approve("PUT", "/auth/pats/"+tokenID+"/deactivate", fmt.Sprintf("Deactivate the personal access token %q (%s)", u.textIn(row, "token-name"), tokenID))
	u.expectStatus(row, "Inactive")
	if _, err := node.output(t, "use-pat.mjs",
		"COUNTERSIGN_URL="+strings.Replace(srv.URL, "localhost", "127.0.0.1", 1),
		"COUNTERSIGN_PAT="+pat, "COUNTERSIGN_PAT_CRED_ID="+credID, "COUNTERSIGN_PAT_PRIVATE_KEY="+privateKey); err == nil {
		t.Error("use-pat.mjs succeeded with a deactivated token")
	}
}

// TestRenameCredential: Rename opens a small form in the row; the new name
// is approved like any change and shows at once.
func TestRenameCredential(t *testing.T) {
	srv := startServer(t)
	u := newBrowserUser(t, srv, touchID)
	u.register(srv.invite(t, "alice"), "alice")
	u.openConsole("/credentials", "credentials")
	row := u.credential(virtualProvider)
	uuid := u.attr(row, "data-credential-uuid")

	u.clickIn(row, "rename-button")
	if err := row.GetByTestId("rename-input").Fill("MacBook Touch ID"); err != nil {
		t.Fatalf("fill rename-input: %v", err)
	}
	u.clickIn(row, "rename-save")
	u.approve("PUT", "/auth/credentials/name", `Rename the passkey "`+virtualProvider+`" (`+uuid+`) to "MacBook Touch ID"`)
	u.expectDone(`to "MacBook Touch ID"`)
	if err := expect.Locator(u.byTestID("credential-name")).ToHaveText("MacBook Touch ID"); err != nil {
		t.Fatalf("credential-name after renaming: %v", err)
	}
	if err := expect.Locator(u.byTestID("credential-last-sign")).Not().ToHaveText(neverUsed); err != nil {
		t.Errorf("credential-last-sign after approving with it: %v", err)
	}
	u.openConsole("/", "console")
	if err := expect.Locator(u.byTestID("credential-name")).ToHaveText("MacBook Touch ID"); err != nil {
		t.Errorf("home after renaming: %v", err)
	}
}

// TestPeopleAndPermissionsFromConsole: alice invites bob and hands him the
// link; bob registers and sees only his own activity. Alice creates an
// "Auditors" permission and assigns it to bob, who then reads the
// organisation's activity. Deactivated by alice, bob is signed out.
func TestPeopleAndPermissionsFromConsole(t *testing.T) {
	srv := startServer(t)
	alice := newBrowserUser(t, srv, touchID)
	alice.register(srv.invite(t, "alice@example.com"), "alice@example.com")

	alice.openConsole("/users", "users")
	alice.fill("invite-email-input", "bob@example.com")
	alice.click("invite-button")
	alice.approve("POST", "/auth/users", "Invite bob@example.com as a user")
	alice.expectDone("Invite bob@example.com as a user")
	link := alice.text("invite-link")
	if !strings.HasPrefix(link, srv.URL+"/register?") {
		t.Fatalf("invite-link = %q, want a registration link of %s", link, srv.URL)
	}
	alice.expectStatus(alice.row("user-row", "bob@example.com"), "Invited")

	bob := newBrowserUser(t, srv, yubiKey)
	bob.register(link, "bob@example.com")
	bob.openConsole("/activity?kind=approvals", "activity")
	bob.expectText("activity-scope", "You see only your own activity: reading the organisation's needs the Auth:Logs:Read permission.")
	bob.expectRows("activity-row", 0)
	bob.openConsole("/users", "users")
	bob.expectRows("user-row", 0)
	if err := expect.Locator(bob.byTestID("users-denied")).ToBeVisible(); err != nil {
		t.Errorf("users-denied: %v", err)
	}

	alice.openConsole("/console/permissions", "permissions")
	alice.fill("permission-name-input", "Auditors")
	if err := alice.page.GetByRole("checkbox", playwright.PageGetByRoleOptions{Name: "Auth:Logs:Read", Exact: playwright.Bool(true)}).Check(); err != nil {
		t.Fatalf("check Auth:Logs:Read: %v", err)
	}
	alice.click("create-permission-button")
	alice.approve("POST", "/permissions", `Create the permission "Auditors" allowing 1 operation: Auth:Logs:Read`)
	alice.expectDone(`Create the permission "Auditors"`)
	auditors := alice.row("permission-row", "Auditors")
	if _, err := auditors.GetByTestId("assign-identity").SelectOption(playwright.SelectOptionValues{Labels: &[]string{"bob@example.com"}}); err != nil {
		t.Fatalf("choose bob: %v", err)
	}
	permissionID := alice.attr(auditors, "data-permission-id")
	alice.clickIn(auditors, "assign-button")
	alice.approve("POST", "/permissions/"+permissionID+"/assignments",
		fmt.Sprintf("Grant the permission %q (%s), allowing 1 operation: Auth:Logs:Read, to the user \"bob@example.com\" (us-", alice.textIn(auditors, "permission-name"), permissionID))
	alice.expectDone("Grant the permission")
	if err := expect.Locator(auditors.GetByTestId("assignee-name")).ToHaveText("bob@example.com"); err != nil {
		t.Errorf("assignee-name: %v", err)
	}

	bob.openConsole("/activity?kind=approvals", "activity")
	if err := expect.Locator(bob.byTestID("activity-scope")).ToHaveCount(0); err != nil {
		t.Errorf("bob, an auditor, still sees a restricted log: %v", err)
	}
	bob.expectRows("activity-row", 3)
	if err := expect.Locator(bob.byTestID("activity-user").First()).ToHaveText("alice@example.com"); err != nil {
		t.Errorf("activity-user: %v", err)
	}

	alice.openConsole("/users", "users")
	bobRow := alice.row("user-row", "bob@example.com")
	alice.expectStatus(bobRow, "Active")
	self := alice.row("user-row", "alice@example.com")
	if err := expect.Locator(self.GetByTestId("deactivate-button")).ToBeDisabled(); err != nil {
		t.Errorf("alice could deactivate herself: %v", err)
	}
	if err := expect.Locator(self.GetByTestId("deactivate-button-reason")).ToHaveText("You can't deactivate yourself: another administrator can."); err != nil {
		t.Errorf("the reason alice cannot deactivate herself: %v", err)
	}
	bobID := alice.attr(bobRow, "data-user-id")
	alice.clickIn(bobRow, "deactivate-button")
	alice.approve("PUT", "/auth/users/"+bobID+"/deactivate", `Deactivate the user "bob@example.com" (`+bobID+")")
	alice.expectStatus(bobRow, "Inactive")
	bob.expectSignedOut()
}

// TestServiceAccountFromConsole: alice creates a service account holding
// a permission she has; its token is shown once; she deactivates it.
func TestServiceAccountFromConsole(t *testing.T) {
	srv := startServer(t)
	u := newBrowserUser(t, srv, touchID)
	u.register(srv.invite(t, "alice"), "alice")

	u.openConsole("/service-accounts", "service-accounts")
	u.expectRows("service-account-row", 0)
	u.fill("service-account-name-input", "Payments API")
	if _, err := u.byTestID("service-account-permission-input").SelectOption(playwright.SelectOptionValues{Labels: &[]string{"DfnsFullAdminAccess"}}); err != nil {
		t.Fatalf("choose a permission: %v", err)
	}
	u.click("create-service-account-button")
	u.approve("POST", "/auth/service-accounts", `Create the service account "Payments API"`)
	u.expectDone(`Create the service account "Payments API"`)
	if err := expect.Locator(u.byTestID("new-token-access-token")).Not().ToBeEmpty(); err != nil {
		t.Fatalf("new-token-access-token: %v", err)
	}
	if err := expect.Locator(u.byTestID("new-token-private-key")).ToContainText("-----BEGIN PRIVATE KEY-----"); err != nil {
		t.Fatalf("new-token-private-key: %v", err)
	}
	row := u.row("service-account-row", "Payments API")
	if err := expect.Locator(row).ToContainText("DfnsFullAdminAccess"); err != nil {
		t.Errorf("service account permissions: %v", err)
	}
	u.expectStatus(row, "Active")
	saID := u.attr(row, "data-user-id")
	u.clickIn(row, "deactivate-button")
	u.approve("PUT", "/auth/service-accounts/"+saID+"/deactivate", fmt.Sprintf("Deactivate the service account %q (%s)", u.textIn(row, "service-account-name"), saID))
	u.expectStatus(row, "Inactive")
}

// TestAddOwnKeyCredential: alice adds a key whose private key never
// reaches the browser: the page shows the fingerprint to sign (spec §2.4)
// and the openssl command that signs it; the hexadecimal signature she
// pastes back attests the key, and her passkey approves adding it.
func TestAddOwnKeyCredential(t *testing.T) {
	srv := startServer(t)
	u := newBrowserUser(t, srv, touchID)
	u.register(srv.invite(t, "alice"), "alice")
	key, publicPEM := newECKey(t)

	u.openConsole("/credentials", "credentials")
	if err := u.byTestID("own-key").Locator("summary").Click(); err != nil {
		t.Fatalf("open own-key: %v", err)
	}
	u.fill("own-key-name-input", "HSM key")
	u.fill("own-key-public-key-input", publicPEM+"\n")
	u.click("own-key-prepare-button")
	if err := expect.Locator(u.byTestID("own-key-fingerprint")).ToContainText(`{"clientDataHash":"`); err != nil {
		t.Fatalf("own-key-fingerprint: %v", err)
	}
	fingerprint := u.text("own-key-fingerprint")
	var fp struct{ ClientDataHash, PublicKey string }
	if err := json.Unmarshal([]byte(fingerprint), &fp); err != nil || fp.PublicKey != publicPEM || len(fp.ClientDataHash) != 64 {
		t.Fatalf("fingerprint %q: %v", fingerprint, err)
	}
	wantCommand := "printf '%s' '" + fingerprint + "' | openssl dgst -sha256 -sign key.pem | xxd -p -c 256"
	if got := u.text("own-key-command"); got != wantCommand {
		t.Errorf("own-key-command = %q, want %q", got, wantCommand)
	}

	u.fill("own-key-signature-input", signHex(t, key, fingerprint))
	u.click("own-key-add-button")
	u.approve("POST", "/auth/credentials", `Add the key "HSM key" for scripts`)
	u.expectDone(`Add the key "HSM key" for scripts`)
	row := u.credential("HSM key")
	u.expectStatus(row, "Active")
	if err := expect.Locator(row.GetByTestId("credential-description")).ToHaveText("Key for scripts"); err != nil {
		t.Errorf("credential-description: %v", err)
	}
}

// TestOwnKeyWithWrongSignatureIsRefused: a signature that is not the
// key's over the fingerprint adds nothing.
func TestOwnKeyWithWrongSignatureIsRefused(t *testing.T) {
	srv := startServer(t)
	u := newBrowserUser(t, srv, touchID)
	u.register(srv.invite(t, "alice"), "alice")
	_, publicPEM := newECKey(t)
	other, _ := newECKey(t)

	u.openConsole("/credentials", "credentials")
	if err := u.byTestID("own-key").Locator("summary").Click(); err != nil {
		t.Fatalf("open own-key: %v", err)
	}
	u.fill("own-key-public-key-input", publicPEM)
	u.click("own-key-prepare-button")
	if err := expect.Locator(u.byTestID("own-key-fingerprint")).Not().ToBeEmpty(); err != nil {
		t.Fatalf("own-key-fingerprint: %v", err)
	}
	u.fill("own-key-signature-input", signHex(t, other, u.text("own-key-fingerprint")))
	u.click("own-key-add-button")
	u.approve("POST", "/auth/credentials", `Add the key "Key" for scripts`)
	u.expectText("message", msgAttestationRefused)
	u.expectRows("credential-row", 1)
}

// newECKey makes a P-256 key and its public key as PEM, without a final
// newline.
func newECKey(t *testing.T) (*ecdsa.PrivateKey, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return key, strings.TrimSpace(string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})))
}

// signHex signs text as "openssl dgst -sha256 -sign | xxd -p" does: an
// ASN.1 DER ECDSA signature over SHA-256, in hexadecimal.
func signHex(t *testing.T, key *ecdsa.PrivateKey, text string) string {
	t.Helper()
	digest := sha256.Sum256([]byte(text))
	sig, err := ecdsa.SignASN1(rand.Reader, key, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(sig)
}
