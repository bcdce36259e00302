//go:build e2e

package e2e

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/playwright-community/playwright-go"
)

// defaultChromium is Debian's chromium package, installed by make test-deps.
const defaultChromium = "/usr/bin/chromium"

// screenshotDir collects failure screenshots; it is gitignored.
const screenshotDir = "screenshots"

// actionTimeoutMS bounds each Playwright action and auto-wait so that a broken
// page fails the test with a message instead of hanging it.
const actionTimeoutMS = 15_000

// browser is the one Chromium shared by every test of the package.
var browser playwright.Browser

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	pw, b, err := startBrowser()
	if err != nil {
		// Fail, never skip: make test-deps always installs the driver.
		fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
		return 1
	}
	browser = b
	code := m.Run()
	if err := b.Close(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: close browser: %v\n", err)
	}
	if err := pw.Stop(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: stop playwright: %v\n", err)
	}
	return code
}

// startBrowser runs the preinstalled Playwright driver and launches headless
// Chromium. It downloads nothing: the driver comes from PLAYWRIGHT_DRIVER_PATH
// and the browser from COUNTERSIGN_CHROMIUM.
func startBrowser() (*playwright.Playwright, playwright.Browser, error) {
	const hint = "run \"make test-deps\" and the tests through make, or export the variables of mk/test-deps.mk"
	driverDir := os.Getenv("PLAYWRIGHT_DRIVER_PATH")
	if driverDir == "" {
		return nil, nil, fmt.Errorf("PLAYWRIGHT_DRIVER_PATH is not set: %s", hint)
	}
	if _, err := os.Stat(filepath.Join(driverDir, "package", "cli.js")); err != nil {
		return nil, nil, fmt.Errorf("no Playwright driver in %s: %w: %s", driverDir, err, hint)
	}
	chromium := os.Getenv("COUNTERSIGN_CHROMIUM")
	if chromium == "" {
		chromium = defaultChromium
	}
	if _, err := os.Stat(chromium); err != nil {
		return nil, nil, fmt.Errorf("no Chromium at %s: %w: %s", chromium, err, hint)
	}

	pw, err := playwright.Run(&playwright.RunOptions{
		DriverDirectory:     driverDir,
		SkipInstallBrowsers: true,
		Verbose:             false,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("start playwright driver from %s: %w", driverDir, err)
	}
	b, err := pw.Chromium.Launch(playwright.BrowserTypeLaunchOptions{
		Headless:       playwright.Bool(true),
		ExecutablePath: playwright.String(chromium),
		Args: []string{
			"--no-sandbox",
			"--disable-gpu",
			"--disable-background-networking",
			"--disable-component-update",
			"--disable-sync",
			"--no-first-run",
		},
	})
	if err != nil {
		return nil, nil, errors.Join(fmt.Errorf("launch %s: %w", chromium, err), pw.Stop())
	}
	return pw, b, nil
}

// newPage opens a fresh browser context (no cookies, storage or credentials
// from other tests) with one page. Both close when the test ends; a failed
// test first leaves a screenshot in e2e/screenshots/<TestName>.png.
func newPage(t *testing.T) (playwright.BrowserContext, playwright.Page) {
	t.Helper()
	ctx, err := browser.NewContext()
	if err != nil {
		t.Fatalf("new browser context: %v", err)
	}
	ctx.SetDefaultTimeout(actionTimeoutMS)
	page, err := ctx.NewPage()
	if err != nil {
		_ = ctx.Close()
		t.Fatalf("new page: %v", err)
	}
	// Script errors and console errors go to the test's log: a failed test
	// then says what broke in the page.
	page.OnPageError(func(err error) { t.Logf("page error: %v", err) })
	page.OnResponse(func(r playwright.Response) {
		if r.Status() >= 400 {
			t.Logf("answer %d to %s %s", r.Status(), r.Request().Method(), r.URL())
		}
	})
	page.OnConsole(func(m playwright.ConsoleMessage) {
		if m.Type() == "error" || m.Type() == "warning" {
			t.Logf("console %s: %s", m.Type(), m.Text())
		}
	})
	t.Cleanup(func() {
		if t.Failed() {
			saveScreenshot(t, page)
		}
		if err := ctx.Close(); err != nil {
			t.Errorf("close browser context: %v", err)
		}
	})
	return ctx, page
}

func saveScreenshot(t *testing.T, page playwright.Page) {
	t.Helper()
	// A test with several browser users leaves one screenshot per page:
	// <TestName>.png, <TestName>-2.png, ...
	name := strings.NewReplacer("/", "_", " ", "_").Replace(t.Name())
	if n := screenshotCount.add(name); n > 1 {
		name = fmt.Sprintf("%s-%d", name, n)
	}
	path := filepath.Join(screenshotDir, name+".png")
	if err := os.MkdirAll(screenshotDir, 0o755); err != nil {
		t.Logf("screenshot: %v", err)
		return
	}
	if _, err := page.Screenshot(playwright.PageScreenshotOptions{
		Path:     playwright.String(path),
		FullPage: playwright.Bool(true),
	}); err != nil {
		t.Logf("screenshot: %v", err)
		return
	}
	t.Logf("screenshot of the failed page: e2e/%s", path)
}

// screenshotCount numbers the failure screenshots of each test.
var screenshotCount counter

type counter struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *counter) add(key string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[string]int{}
	}
	c.n[key]++
	return c.n[key]
}

// authenticatorOptions describes a CDP virtual authenticator; it always speaks
// CTAP2 and touches itself (automaticPresenceSimulation).
type authenticatorOptions struct {
	// Transport is "internal" (a platform passkey, the default) or "usb"
	// (a roaming security key).
	Transport string
	// ResidentKey lets it store discoverable credentials (passkeys).
	ResidentKey bool
	// UserVerification says it can verify the user (PIN, biometrics);
	// UserVerified is the answer it gives while it can.
	UserVerification bool
	UserVerified     bool
	// BackupEligible and BackedUp set the BE and BS flags of the credentials
	// it creates: a synced passkey (iCloud Keychain, Google Password
	// Manager) has both, a security key neither.
	BackupEligible bool
	BackedUp       bool
}

// touchID is a laptop's platform authenticator whose passkeys sync through
// the user's account, like iCloud Keychain: backup eligible and backed up.
var touchID = authenticatorOptions{
	Transport: "internal", ResidentKey: true, UserVerification: true, UserVerified: true,
	BackupEligible: true, BackedUp: true,
}

// yubiKey is a roaming USB security key with a PIN; its passkeys never
// leave it.
var yubiKey = authenticatorOptions{
	Transport: "usb", ResidentKey: true, UserVerification: true, UserVerified: true,
}

// virtualAuthenticator is a CDP WebAuthn virtual authenticator attached to one
// page. Methods without a helper here (WebAuthn.setResponseOverrideBits,
// WebAuthn.removeCredential, ...) go through send or CDP directly.
type virtualAuthenticator struct {
	ID  string
	CDP playwright.CDPSession
}

// addVirtualAuthenticator enables the WebAuthn CDP domain on the page and adds
// an authenticator; navigator.credentials on that page then talks to it.
func addVirtualAuthenticator(t *testing.T, page playwright.Page, opts authenticatorOptions) *virtualAuthenticator {
	t.Helper()
	transport := opts.Transport
	if transport == "" {
		transport = "internal"
	}
	cdp, err := page.Context().NewCDPSession(page)
	if err != nil {
		t.Fatalf("new CDP session: %v", err)
	}
	if _, err := cdp.Send("WebAuthn.enable", map[string]any{"enableUI": false}); err != nil {
		t.Fatalf("WebAuthn.enable: %v", err)
	}
	res, err := cdp.Send("WebAuthn.addVirtualAuthenticator", map[string]any{
		"options": map[string]any{
			"protocol":                    "ctap2",
			"transport":                   transport,
			"hasResidentKey":              opts.ResidentKey,
			"hasUserVerification":         opts.UserVerification,
			"isUserVerified":              opts.UserVerified,
			"defaultBackupEligibility":    opts.BackupEligible,
			"defaultBackupState":          opts.BackedUp,
			"automaticPresenceSimulation": true,
		},
	})
	if err != nil {
		t.Fatalf("WebAuthn.addVirtualAuthenticator: %v", err)
	}
	id, _ := field[string](res, "authenticatorId")
	if id == "" {
		t.Fatalf("WebAuthn.addVirtualAuthenticator returned no authenticatorId: %v", res)
	}
	return &virtualAuthenticator{ID: id, CDP: cdp}
}

// send calls a WebAuthn CDP method with this authenticator's id added to params.
func (a *virtualAuthenticator) send(t *testing.T, method string, params map[string]any) any {
	t.Helper()
	p := map[string]any{"authenticatorId": a.ID}
	maps.Copy(p, params)
	res, err := a.CDP.Send(method, p)
	if err != nil {
		t.Fatalf("%s: %v", method, err)
	}
	return res
}

// credentials lists what the authenticator stores (WebAuthn.getCredentials).
// Each entry has credentialId (standard base64), isResidentCredential, rpId,
// userHandle (standard base64), signCount, privateKey and more.
func (a *virtualAuthenticator) credentials(t *testing.T) []map[string]any {
	t.Helper()
	res := a.send(t, "WebAuthn.getCredentials", nil)
	list, ok := field[[]any](res, "credentials")
	if !ok {
		t.Fatalf("WebAuthn.getCredentials: no credentials list in %v", res)
	}
	creds := make([]map[string]any, 0, len(list))
	for _, c := range list {
		m, ok := c.(map[string]any)
		if !ok {
			t.Fatalf("WebAuthn.getCredentials: credential is %T, want an object", c)
		}
		creds = append(creds, m)
	}
	return creds
}

// setUserVerified makes later ceremonies pass or fail user verification.
func (a *virtualAuthenticator) setUserVerified(t *testing.T, verified bool) {
	t.Helper()
	a.send(t, "WebAuthn.setUserVerified", map[string]any{"isUserVerified": verified})
}

// field reads one typed member of a JSON object returned by CDP or Evaluate.
func field[T any](v any, key string) (T, bool) {
	var zero T
	m, ok := v.(map[string]any)
	if !ok {
		return zero, false
	}
	f, ok := m[key].(T)
	return f, ok
}
