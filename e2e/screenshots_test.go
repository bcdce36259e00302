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

// TestScreenshots renders the pages into docs/screenshots/ for the README
// and for reviewing the look: each at 1280×800 (<name>.png) and on a phone,
// 390×844 (<name>-phone.png), a few in the dark scheme too. It rewrites
// committed files, so it runs only when asked.
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

	if _, err := u.page.Goto(link); err != nil {
		t.Fatalf("open registration link: %v", err)
	}
	u.expectText("register-username", "alice@example.com")
	u.shots("register")
	u.click("register-button")
	u.expectConsole("alice@example.com")
	u.signOut()
	u.shots("login")
	u.signIn("alice@example.com", "alice@example.com")

	u.openConsole("/credentials", "credentials")
	u.addKeyCredential("Deploy script")
	addVirtualAuthenticator(t, u.page, yubiKey)
	u.fill("passkey-name-input", "YubiKey 5C")
	u.click("add-security-key-button")
	u.approve("POST", "/auth/credentials", `Add the passkey "YubiKey 5C"`)
	u.expectDone(`Add the passkey "YubiKey 5C"`)

	u.openConsole("/service-accounts", "service-accounts")
	u.fill("service-account-name-input", "admin-bot")
	u.fill("service-account-days-input", "730")
	if _, err := u.byTestID("service-account-permission-input").SelectOption(playwright.SelectOptionValues{Labels: &[]string{"DfnsFullAdminAccess"}}); err != nil {
		t.Fatal(err)
	}
	u.click("create-service-account-button")
	u.expectApproval("POST", "/auth/service-accounts", `Create the service account "admin-bot"`)
	if err := u.byTestID("approve-exact").Locator("summary").Click(); err != nil {
		t.Fatal(err)
	}
	u.shots("approve")
	u.approveShown()
	u.expectDone("admin-bot")

	u.createAllRightsToken("Nightly backup")
	u.createPermission("Auditors", "Auth:Logs:Read")

	u.openConsole("/users", "users")
	u.fill("invite-email-input", "bob@example.com")
	u.click("invite-button")
	u.approve("POST", "/auth/users", "bob@example.com")
	u.expectDone("bob@example.com")
	u.shots("users")

	for _, p := range []struct{ name, path, nav string }{
		{"console", "/", "console"}, {"credentials", "/credentials", "credentials"}, {"sessions", "/sessions", "sessions"},
		{"tokens", "/tokens", "tokens"}, {"service-accounts", "/service-accounts", "service-accounts"},
		{"permissions", "/console/permissions", "permissions"}, {"activity", "/activity", "activity"},
	} {
		u.openConsole(p.path, p.nav)
		u.shots(p.name)
	}
	if err := u.page.EmulateMedia(playwright.PageEmulateMediaOptions{ColorScheme: playwright.ColorSchemeDark}); err != nil {
		t.Fatal(err)
	}
	u.openConsole("/credentials", "credentials")
	u.shots("credentials-dark")
	u.openConsole("/activity", "activity")
	u.shots("activity-dark")
	if err := u.page.EmulateMedia(playwright.PageEmulateMediaOptions{ColorScheme: playwright.ColorSchemeLight}); err != nil {
		t.Fatal(err)
	}

	u.open("/register?org=or-00000-00000-00000000000000&username=bob&code=ABCD")
	if err := expect.Locator(u.byTestID("error-title")).ToBeVisible(); err != nil {
		t.Fatalf("error page: %v", err)
	}
	u.shots("error")
}

// shots saves the page as it is, on a laptop (<name>.png, the viewport)
// and on a phone (<name>-phone.png, the whole page).
func (u *browserUser) shots(name string) {
	u.t.Helper()
	for _, vp := range viewports {
		if err := u.page.SetViewportSize(vp.width, vp.height); err != nil {
			u.t.Fatalf("set viewport: %v", err)
		}
		file := name + ".png"
		full := false
		if vp.name == "phone" {
			file, full = name+"-phone.png", true
		}
		path := filepath.Join(docsScreenshots, file)
		if _, err := u.page.Screenshot(playwright.PageScreenshotOptions{Path: playwright.String(path), FullPage: playwright.Bool(full)}); err != nil {
			u.t.Fatalf("screenshot %s: %v", file, err)
		}
		u.t.Logf("wrote docs/screenshots/%s", file)
	}
	if err := u.page.SetViewportSize(1280, 800); err != nil {
		u.t.Fatalf("set viewport: %v", err)
	}
}
