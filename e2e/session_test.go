//go:build e2e

package e2e

import (
	"net/url"
	"strings"
	"testing"
	"time"
)

const (
	msgSessionEnded       = "Your session has ended, so nothing more can be changed here. Sign in again to come back to this page."
	msgSignedOutElsewhere = "You signed out in another tab. Sign in again to come back to this page."
)

// syncPasskeys gives the other browser's authenticator the passkeys of
// u's, sign counters included, as a passkey provider syncing them would
// (without the counter, the server would take the copy for a clone).
func (u *browserUser) syncPasskeys(other *browserUser) {
	u.t.Helper()
	other.auth.send(u.t, "WebAuthn.clearCredentials", nil)
	for _, c := range u.auth.credentials(u.t) {
		other.auth.send(u.t, "WebAuthn.addCredential", map[string]any{"credential": c})
	}
}

// TestSessionsListSignsOutAnotherBrowser: alice is signed in on her laptop
// and in a second browser; from the laptop's Sessions page she signs out
// everywhere else, and the second browser is signed out at once.
func TestSessionsListSignsOutAnotherBrowser(t *testing.T) {
	srv := startServer(t)
	laptop := newBrowserUser(t, srv, touchID)
	laptop.register(srv.invite(t, "alice"), "alice")
	other := newBrowserUser(t, srv, touchID)
	laptop.syncPasskeys(other)
	other.signIn("alice", "alice")
	other.syncPasskeys(laptop)

	laptop.openConsole("/sessions", "sessions")
	laptop.expectRows("session-row", 2)
	if err := expect.Locator(laptop.row("session-row", "This session")).ToHaveCount(1); err != nil {
		t.Fatalf("this session is not marked: %v", err)
	}
	laptop.click("sign-out-others-button")
	laptop.approve("PUT", "/auth/sessions/revoke", "Sign out 1 other session of yours (Chrome (headless) on Linux, signed in")
	laptop.expectDone("Sign out 1 other session")
	laptop.expectRows("session-row", 1)
	if err := expect.Locator(laptop.byTestID("sign-out-others-button")).ToBeDisabled(); err != nil {
		t.Errorf("with one session left, Sign out everywhere else is still offered: %v", err)
	}
	other.expectSignedOut()
	laptop.openConsole("/", "console")
}

// TestSessionEndsAndSignInReturnsToThePage: a few minutes before the
// session ends the page warns; once it has ended it says so (no red error)
// and its sign-in comes back to the same page. The browser's clock and the
// server's are moved on together.
func TestSessionEndsAndSignInReturnsToThePage(t *testing.T) {
	srv := startServer(t)
	u := newBrowserUser(t, srv, touchID)
	if err := u.ctx.Clock().Install(); err != nil {
		t.Fatalf("install the browser clock: %v", err)
	}
	u.register(srv.invite(t, "alice"), "alice")
	u.openConsole("/console/permissions", "permissions")
	if err := expect.Locator(u.byTestID("session-banner")).ToBeHidden(); err != nil {
		t.Fatalf("session banner at the start: %v", err)
	}

	if err := u.page.Clock().FastForward("56:00"); err != nil {
		t.Fatalf("fast-forward: %v", err)
	}
	if err := expect.Locator(u.byTestID("session-text")).ToContainText("Your session ends at"); err != nil {
		t.Fatalf("no warning before the session ends: %v", err)
	}

	srv.advance(61 * time.Minute)
	if err := u.page.Clock().FastForward("05:00"); err != nil {
		t.Fatalf("fast-forward: %v", err)
	}
	u.expectText("session-text", msgSessionEnded)
	if err := expect.Locator(u.byTestID("session-sign-in")).ToBeFocused(); err != nil {
		t.Errorf("focus is not on the way back: %v", err)
	}
	if err := expect.Locator(u.byTestID("message")).Not().ToHaveAttribute("data-kind", "error"); err != nil {
		t.Errorf("the ended session shows as an error: %v", err)
	}

	u.click("session-sign-in")
	if err := u.byTestID("login-username").Fill("alice"); err != nil {
		t.Fatalf("fill username: %v", err)
	}
	u.click("login-button")
	u.expectPath("/console/permissions")
	u.expectText("console-username", "alice")
}

// TestOtherTabsLearnOfASignOut: signing out in one tab tells the others,
// which say so and offer the way back; a crafted sign-in link never leads
// off the site.
func TestOtherTabsLearnOfASignOut(t *testing.T) {
	srv := startServer(t)
	u := newBrowserUser(t, srv, touchID)
	u.register(srv.invite(t, "alice"), "alice")
	u.openConsole("/credentials", "credentials")
	second, err := u.ctx.NewPage()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := second.Goto(srv.URL + "/activity"); err != nil {
		t.Fatal(err)
	}

	u.signOut()
	if err := expect.Locator(second.GetByTestId("session-text")).ToHaveText(msgSignedOutElsewhere); err != nil {
		t.Fatalf("the other tab did not hear of the sign-out: %v", err)
	}
	href, err := second.GetByTestId("session-sign-in").GetAttribute("href")
	if err != nil || !strings.Contains(href, "next="+url.QueryEscape("/activity")) {
		t.Errorf("the other tab's sign-in link is %q (%v), want one back to /activity", href, err)
	}

	// The open-redirect attack: a sign-in link naming another site.
	u.open("/login?next=" + url.QueryEscape("https://evil.example/") + "&renew=1")
	if err := u.byTestID("login-username").Fill("alice"); err != nil {
		t.Fatal(err)
	}
	u.click("login-button")
	u.expectConsole("alice")
}
