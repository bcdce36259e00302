//go:build e2e

package e2e

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/playwright-community/playwright-go"
)

// docsScreenshots is where TestScreenshots writes, relative to e2e/.
const docsScreenshots = "../docs/screenshots"

// TestScreenshots renders each page at 1280×800 into docs/screenshots/ for
// the README and for reviewing the look. It rewrites committed files, so it
// runs only when asked.
func TestScreenshots(t *testing.T) {
	if os.Getenv("COUNTERSIGN_SCREENSHOTS") != "1" {
		t.Skip("writes docs/screenshots/*.png; set COUNTERSIGN_SCREENSHOTS=1 to refresh them")
	}
	if err := os.MkdirAll(docsScreenshots, 0o755); err != nil {
		t.Fatal(err)
	}
	srv := startServer(t)
	link := srv.invite(t, "alice@example.com")
	u := newBrowserUser(t, srv, touchID)
	if err := u.page.SetViewportSize(1280, 800); err != nil {
		t.Fatalf("set viewport: %v", err)
	}

	if _, err := u.page.Goto(link); err != nil {
		t.Fatalf("open registration link: %v", err)
	}
	u.expectText("register-username", "alice@example.com")
	u.screenshot("register")

	u.click("register-button")
	u.expectConsole("alice@example.com")
	u.signOut()
	u.screenshot("login")

	u.signIn("alice@example.com", "alice@example.com")
	u.screenshot("console")

	u.openConsole("/credentials", "credentials")
	u.addKeyCredential("Deploy script")
	addVirtualAuthenticator(t, u.page, yubiKey)
	u.fill("passkey-name-input", "YubiKey 5C")
	u.click("add-security-key-button")
	u.expectApproval("POST", "/auth/credentials", `Add the passkey "YubiKey 5C"`)
	u.screenshot("approve")
	u.click("approve-button")
	u.expectDone(`Add the passkey "YubiKey 5C"`)
	u.openConsole("/credentials", "credentials")
	u.screenshot("credentials")

	u.openConsole("/tokens", "tokens")
	u.fill("token-name-input", "Nightly backup")
	u.click("token-scope-all")
	u.click("create-token-button")
	u.approve("POST", "/auth/pats", "Nightly backup")
	u.expectDone("Nightly backup")
	u.screenshot("tokens")

	u.openConsole("/users", "users")
	u.fill("invite-email-input", "bob@example.com")
	u.click("invite-button")
	u.approve("POST", "/auth/users", "bob@example.com")
	u.expectDone("bob@example.com")
	u.screenshot("users")

	u.openConsole("/service-accounts", "service-accounts")
	u.fill("service-account-name-input", "Payments API")
	u.click("create-service-account-button")
	u.approve("POST", "/auth/service-accounts", "Payments API")
	u.expectDone("Payments API")
	u.openConsole("/service-accounts", "service-accounts")
	u.screenshot("service-accounts")

	u.openConsole("/console/permissions", "permissions")
	u.screenshotFull("permissions")

	u.openConsole("/activity", "activity")
	u.screenshot("activity")

	u.open("/register?org=or-00000-00000-00000000000000&username=bob&code=ABCD")
	if err := expect.Locator(u.byTestID("error-title")).ToBeVisible(); err != nil {
		t.Fatalf("error page: %v", err)
	}
	u.screenshot("error")
}

// screenshot saves the viewport as docs/screenshots/<name>.png.
func (u *browserUser) screenshot(name string) { u.saveScreenshot(name, false) }

// screenshotFull saves the whole page, beyond the viewport.
func (u *browserUser) screenshotFull(name string) { u.saveScreenshot(name, true) }

func (u *browserUser) saveScreenshot(name string, full bool) {
	u.t.Helper()
	path := filepath.Join(docsScreenshots, name+".png")
	opts := playwright.PageScreenshotOptions{Path: playwright.String(path), FullPage: playwright.Bool(full)}
	if _, err := u.page.Screenshot(opts); err != nil {
		u.t.Fatalf("screenshot %s: %v", name, err)
	}
	u.t.Logf("wrote docs/screenshots/%s.png", name)
}
