//go:build e2e

package e2e

import (
	"testing"

	"github.com/playwright-community/playwright-go"
)

// What the pages say, as app.js words it. The tests assert the exact
// sentences a user reads.
const (
	msgNotAllowed = "The passkey prompt was closed or no passkey for this site was found. Try again, or use another device."
	msgAuthFailed = "That passkey wasn't accepted. Check your username, or use a passkey registered for this site."
	msgBadCode    = "This invitation link is invalid, has expired or was already used. Ask your administrator for a new one."
	signInLabel   = "Sign in with a passkey"
	// neverUsed is the console's "last used" of a credential never used.
	neverUsed = "Never"
	// virtualProvider is what the AAGUID list calls Chromium's virtual
	// authenticator: new passkeys are named after their provider.
	virtualProvider = "Chromium Virtual Authenticator (browser dev tools)"
)

// expect waits like Playwright's expect(): it retries until the condition
// holds or the action timeout passes. No test sleeps.
var expect = playwright.NewPlaywrightAssertions(actionTimeoutMS)

// browserUser is one person at their own browser: a fresh context (no
// cookies or credentials of other tests), one page, and the CDP virtual
// authenticator standing in for their passkey provider or security key.
// Its methods own every selector the tests use.
type browserUser struct {
	t    *testing.T
	srv  *testServer
	ctx  playwright.BrowserContext
	page playwright.Page
	auth *virtualAuthenticator
}

// newBrowserUser opens a fresh context whose login page offers no autofill,
// so that the button, not the autofill, signs in (see noAutofill).
func newBrowserUser(t *testing.T, srv *testServer, opts authenticatorOptions) *browserUser {
	t.Helper()
	u := newAutofillUser(t, srv, opts)
	script := noAutofill
	if err := u.ctx.AddInitScript(playwright.Script{Content: &script}); err != nil {
		t.Fatalf("add init script: %v", err)
	}
	return u
}

// newAutofillUser is newBrowserUser with the browser's own conditional
// mediation left on: the login page signs in from autofill by itself.
func newAutofillUser(t *testing.T, srv *testServer, opts authenticatorOptions) *browserUser {
	t.Helper()
	ctx, page := newPage(t)
	return &browserUser{t: t, srv: srv, ctx: ctx, page: page, auth: addVirtualAuthenticator(t, page, opts)}
}

// noAutofill makes pages see a browser without conditional mediation. In
// Chromium's virtual-authenticator environment a conditional request does
// not wait for the user to pick a passkey in the autofill list: it resolves
// at once with the first discoverable credential for the site (or fails with
// NotAllowedError when there is none). Left on, the login page would sign in
// on load and the tests could not drive the button. TestSignInFromAutofill
// covers the autofill path itself.
const noAutofill = `Object.defineProperty(PublicKeyCredential, "isConditionalMediationAvailable", {
	value: async () => false,
});`

func (u *browserUser) byTestID(id string) playwright.Locator { return u.page.GetByTestId(id) }

func (u *browserUser) open(path string) {
	u.t.Helper()
	if _, err := u.page.Goto(u.srv.URL + path); err != nil {
		u.t.Fatalf("open %s: %v", path, err)
	}
}

func (u *browserUser) click(testID string) {
	u.t.Helper()
	if err := u.byTestID(testID).Click(); err != nil {
		u.t.Fatalf("click %s: %v", testID, err)
	}
}

// expectText waits until the element with testID shows exactly want.
func (u *browserUser) expectText(testID, want string) {
	u.t.Helper()
	if err := expect.Locator(u.byTestID(testID)).ToHaveText(want); err != nil {
		u.t.Fatalf("%s: %v", testID, err)
	}
}

// expectPath waits until the page is at path on the server.
func (u *browserUser) expectPath(path string) {
	u.t.Helper()
	if err := expect.Page(u.page).ToHaveURL(u.srv.URL + path); err != nil {
		u.t.Fatalf("page URL: %v", err)
	}
}

// register opens an invitation link and creates the passkey; the user
// lands signed in on the console.
func (u *browserUser) register(link, username string) {
	u.t.Helper()
	if _, err := u.page.Goto(link); err != nil {
		u.t.Fatalf("open registration link: %v", err)
	}
	u.expectText("register-username", username)
	u.click("register-button")
	u.expectConsole(username)
}

// expectConsole waits for the console of username.
func (u *browserUser) expectConsole(username string) {
	u.t.Helper()
	u.expectPath("/")
	u.expectText("console-username", username)
}

// signOut submits the console's Sign out form and lands on the login page.
func (u *browserUser) signOut() {
	u.t.Helper()
	u.click("logout-button")
	u.expectPath("/login")
	u.expectLoginUsable()
}

// startSignIn opens the login page and clicks "Sign in with a passkey",
// naming username unless it is empty (usernameless).
func (u *browserUser) startSignIn(username string) {
	u.t.Helper()
	u.open("/login")
	if err := u.byTestID("login-username").Fill(username); err != nil {
		u.t.Fatalf("fill username: %v", err)
	}
	u.click("login-button")
}

// signIn signs in and expects the console of wantUser.
func (u *browserUser) signIn(username, wantUser string) {
	u.t.Helper()
	u.startSignIn(username)
	u.expectConsole(wantUser)
}

// expectRefused waits for message on the login page, which stays usable.
func (u *browserUser) expectRefused(message string) {
	u.t.Helper()
	u.expectText("message", message)
	u.expectPath("/login")
	u.expectLoginUsable()
}

// expectLoginUsable waits until the sign-in button is enabled and idle.
func (u *browserUser) expectLoginUsable() {
	u.t.Helper()
	button := u.byTestID("login-button")
	if err := expect.Locator(button).ToBeEnabled(); err != nil {
		u.t.Fatalf("login-button: %v", err)
	}
	if err := expect.Locator(button).ToHaveText(signInLabel); err != nil {
		u.t.Fatalf("login-button: %v", err)
	}
}

// expectSignedOut checks with the server that this browser holds no
// session: the console redirects to the login page.
func (u *browserUser) expectSignedOut() {
	u.t.Helper()
	u.open("/")
	u.expectPath("/login")
}

// credentialRows returns the console's credential rows.
func (u *browserUser) credentialRows() playwright.Locator { return u.byTestID("credential-row") }

// expectCredential checks the only credential row of the console.
func (u *browserUser) expectCredential(name, description, storage string) {
	u.t.Helper()
	rows := u.credentialRows()
	if err := expect.Locator(rows).ToHaveCount(1); err != nil {
		u.t.Fatalf("credential rows: %v", err)
	}
	for id, want := range map[string]string{
		"credential-name": name, "credential-description": description, "credential-storage": storage,
	} {
		if err := expect.Locator(rows.GetByTestId(id)).ToHaveText(want); err != nil {
			u.t.Errorf("%s: %v", id, err)
		}
	}
	if err := expect.Locator(rows.GetByTestId("credential-created")).Not().ToBeEmpty(); err != nil {
		u.t.Errorf("credential-created: %v", err)
	}
}
