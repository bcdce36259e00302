//go:build e2e

package e2e

import (
	"regexp"
	"strings"
	"testing"
)

// Recovery in the browser (issue 10): a recovery code saved at
// registration brings a person who lost their only passkey back in; a
// credential code adds a passkey on another device; Home nudges a person
// with one credential to add a backup.

var verificationCode = regexp.MustCompile(`\b[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}\b`)

// registerWithRecoveryCode registers from link with the recovery-code
// option and returns the code the page shows once.
func (u *browserUser) registerWithRecoveryCode(link, username string) string {
	u.t.Helper()
	if _, err := u.page.Goto(link); err != nil {
		u.t.Fatalf("open registration link: %v", err)
	}
	u.expectText("register-username", username)
	if err := u.byTestID("register-recovery-option").Locator("input").Check(); err != nil {
		u.t.Fatalf("check the recovery code option: %v", err)
	}
	u.click("register-button")
	code := u.savedRecoveryCode()
	u.click("continue-button")
	u.expectConsole(username)
	return code
}

// savedRecoveryCode waits for the recovery code a page shows once.
func (u *browserUser) savedRecoveryCode() string {
	u.t.Helper()
	code := u.byTestID("registration-recovery-code")
	if err := expect.Locator(code).ToHaveText(regexp.MustCompile(`^([0-9A-Z]{5}-){4}[0-9A-Z]{5}$`)); err != nil {
		u.t.Fatalf("recovery code: %v", err)
	}
	text, err := code.TextContent()
	if err != nil {
		u.t.Fatal(err)
	}
	return text
}

// loseAuthenticator removes the virtual authenticator, passkeys and all,
// and gives the user a new, empty one.
func (u *browserUser) loseAuthenticator(opts authenticatorOptions) {
	u.t.Helper()
	u.auth.send(u.t, "WebAuthn.removeVirtualAuthenticator", nil)
	u.auth = addVirtualAuthenticator(u.t, u.page, opts)
}

func TestRecoverWithARecoveryCodeOnANewAuthenticator(t *testing.T) {
	srv := startServer(t)
	link := srv.invite(t, "alice@example.com")
	u := newBrowserUser(t, srv, touchID)
	recoveryCode := u.registerWithRecoveryCode(link, "alice@example.com")
	u.signOut()

	u.loseAuthenticator(touchID)
	u.startSignIn("alice@example.com")
	u.expectRefused(msgNotAllowed) // the lost passkey is gone

	u.open("/recover")
	u.fill("recover-username-input", "alice@example.com")
	u.click("send-code-button")
	mail := srv.mail.Next(t)
	code := verificationCode.FindString(mail.Text)
	if code == "" || mail.To[0] != "alice@example.com" {
		t.Fatalf("verification mail to %v: %s", mail.To, mail.Text)
	}
	u.fill("verification-code-input", code)
	u.fill("recovery-code-input", strings.ToLower(recoveryCode)) // typed back in any case
	u.click("recover-button")
	next := u.savedRecoveryCode()
	if next == recoveryCode {
		t.Error("the recovery handed back the used recovery code")
	}
	u.click("continue-button")
	u.expectConsole("alice@example.com")
	if got := len(u.auth.credentials(t)); got != 1 {
		t.Errorf("the new authenticator holds %d passkeys, want 1", got)
	}

	u.signOut()
	u.signIn("alice@example.com", "alice@example.com")
}

func TestAddAPasskeyOnAnotherDeviceWithACredentialCode(t *testing.T) {
	srv := startServer(t)
	link := srv.invite(t, "alice@example.com")
	laptop := newBrowserUser(t, srv, touchID)
	laptop.register(link, "alice@example.com")
	laptop.openConsole("/credentials", "credentials")
	laptop.click("other-device-button")
	laptop.approve("POST", "/auth/credentials/code", "from another device")
	code := laptop.byTestID("credential-code-link")
	if err := expect.Locator(code).ToContainText("/add-passkey?code="); err != nil {
		t.Fatalf("credential code link: %v", err)
	}
	if err := expect.Locator(laptop.byTestID("credential-code-qr").Locator("img")).ToHaveAttribute("src", regexp.MustCompile(`^data:image/svg\+xml;base64,`)); err != nil {
		t.Fatalf("QR code: %v", err)
	}
	addLink, err := code.TextContent()
	if err != nil {
		t.Fatal(err)
	}

	phone := newBrowserUser(t, srv, yubiKey)
	if _, err := phone.page.Goto(addLink); err != nil {
		t.Fatal(err)
	}
	phone.expectText("add-passkey-username", "alice@example.com")
	phone.click("add-passkey-here-button")
	phone.expectConsole("alice@example.com")
	if err := expect.Locator(phone.credentialRows()).ToHaveCount(2); err != nil {
		t.Errorf("credentials after adding the phone's: %v", err)
	}

	// The code worked once.
	other := newBrowserUser(t, srv, yubiKey)
	if _, err := other.page.Goto(addLink); err != nil {
		t.Fatal(err)
	}
	if err := expect.Locator(other.byTestID("error-title")).ToHaveText("This link can't be used"); err != nil {
		t.Errorf("a used credential code: %v", err)
	}
}

func TestTheBackupNudgeAppearsAndGoesAway(t *testing.T) {
	srv := startServer(t)
	link := srv.invite(t, "alice@example.com")
	u := newBrowserUser(t, srv, touchID)
	u.register(link, "alice@example.com")
	if err := expect.Locator(u.byTestID("backup-nudge")).ToBeVisible(); err != nil {
		t.Fatalf("backup nudge after registration: %v", err)
	}
	u.click("nudge-recovery-code")
	u.expectPath("/credentials#recovery")
	if err := expect.Locator(u.row("credential-row", "Passkey").GetByTestId("deactivate-button-reason")).ToBeVisible(); err != nil {
		t.Errorf("the last credential's Deactivate says why it is disabled: %v", err)
	}
	u.click("recovery-code-button")
	u.approve("POST", "/auth/credentials", "Save a new recovery code")
	if err := expect.Locator(u.byTestID("recovery-code")).ToHaveText(regexp.MustCompile(`^([0-9A-Z]{5}-){4}[0-9A-Z]{5}$`)); err != nil {
		t.Fatalf("the new recovery code: %v", err)
	}
	u.open("/")
	if err := expect.Locator(u.byTestID("backup-nudge")).ToHaveCount(0); err != nil {
		t.Errorf("backup nudge with a recovery code saved: %v", err)
	}
}

func TestAnAdministratorResetsSomeonesPasskeys(t *testing.T) {
	srv := startServer(t)
	ownerLink := srv.invite(t, "owner")
	bobLink := srv.invite(t, "bob@example.com")
	owner := newBrowserUser(t, srv, touchID)
	owner.register(ownerLink, "owner")
	bob := newBrowserUser(t, srv, yubiKey)
	bob.register(bobLink, "bob@example.com")

	owner.openConsole("/users", "users")
	row := owner.row("user-row", "bob@example.com")
	bobID := owner.attr(row, "data-user-id")
	owner.clickIn(row, "reset-button")
	owner.approve("POST", "/auth/users/"+bobID+"/recovery", "Issue a reset link for the user")
	owner.expectDone("The reset link was e-mailed to them.")

	mail := srv.mail.Next(t)
	link := regexp.MustCompile(`http://localhost:\d+/recover\?reset=\S+`).FindString(mail.Text)
	if link == "" || mail.To[0] != "bob@example.com" {
		t.Fatalf("reset mail to %v: %s", mail.To, mail.Text)
	}
	bob.loseAuthenticator(yubiKey)
	if _, err := bob.page.Goto(link); err != nil {
		t.Fatal(err)
	}
	bob.expectText("recover-username", "bob@example.com")
	bob.click("reset-button")
	bob.savedRecoveryCode()
	bob.click("continue-button")
	bob.expectConsole("bob@example.com")
}
