//go:build e2e

package e2e

import (
	"strings"
	"sync"

	"github.com/playwright-community/playwright-go"
)

// What the console says, as app.js words it.
const (
	msgCancelled          = "Cancelled: nothing was sent and nothing changed."
	msgSignatureRefused   = "Your passkey's signature wasn't accepted, so nothing was changed. Try again."
	msgAttestationRefused = "The new credential's signature over its challenge wasn't accepted, so it was not added. Check the key and the signature, and try again."
)

// openConsole opens a console page and waits until it is the one shown
// (its navigation entry is the current one).
func (u *browserUser) openConsole(path, navKey string) {
	u.t.Helper()
	u.open(path)
	if err := expect.Locator(u.byTestID("nav-"+navKey)).ToHaveAttribute("aria-current", "page"); err != nil {
		u.t.Fatalf("console page %s: %v", path, err)
	}
}

// row is the one row with testID whose text contains text.
func (u *browserUser) row(testID, text string) playwright.Locator {
	return u.byTestID(testID).Filter(playwright.LocatorFilterOptions{HasText: text})
}

// expectRows waits until there are n rows with testID.
func (u *browserUser) expectRows(testID string, n int) {
	u.t.Helper()
	if err := expect.Locator(u.byTestID(testID)).ToHaveCount(n); err != nil {
		u.t.Fatalf("%s rows: %v", testID, err)
	}
}

// clickIn clicks the element with testID inside loc.
func (u *browserUser) clickIn(loc playwright.Locator, testID string) {
	u.t.Helper()
	if err := loc.GetByTestId(testID).Click(); err != nil {
		u.t.Fatalf("click %s: %v", testID, err)
	}
}

func (u *browserUser) fill(testID, value string) {
	u.t.Helper()
	if err := u.byTestID(testID).Fill(value); err != nil {
		u.t.Fatalf("fill %s: %v", testID, err)
	}
}

// expectApproval waits for the approve dialog and checks that it shows the
// request before any passkey prompt: method, path and a summary that
// contains summary.
func (u *browserUser) expectApproval(method, path, summary string) {
	u.t.Helper()
	dialog := u.byTestID("approve-dialog")
	if err := expect.Locator(dialog).ToBeVisible(); err != nil {
		u.t.Fatalf("approve dialog: %v", err)
	}
	if err := expect.Locator(dialog.GetByTestId("approve-summary")).ToContainText(summary); err != nil {
		u.t.Fatalf("approve-summary: %v", err)
	}
	if err := expect.Locator(dialog.GetByTestId("approve-method")).ToHaveText(method); err != nil {
		u.t.Fatalf("approve-method: %v", err)
	}
	if err := expect.Locator(dialog.GetByTestId("approve-path")).ToHaveText(path); err != nil {
		u.t.Fatalf("approve-path: %v", err)
	}
}

// expectApprovalSays waits until the open approve dialog's summary also
// contains text.
func (u *browserUser) expectApprovalSays(text string) {
	u.t.Helper()
	if err := expect.Locator(u.byTestID("approve-summary")).ToContainText(text); err != nil {
		u.t.Fatalf("approve-summary: %v", err)
	}
}

// approve checks the dialog (see expectApproval) and approves with the
// passkey; the dialog closes.
func (u *browserUser) approve(method, path, summary string) {
	u.t.Helper()
	u.expectApproval(method, path, summary)
	u.approveShown()
}

// approveShown approves the open dialog with the passkey; it closes.
func (u *browserUser) approveShown() {
	u.t.Helper()
	u.click("approve-button")
	if err := expect.Locator(u.byTestID("approve-dialog")).ToBeHidden(); err != nil {
		u.t.Fatalf("approve dialog after approving: %v", err)
	}
}

// expectDone waits for the success message of a signed change.
func (u *browserUser) expectDone(summary string) {
	u.t.Helper()
	msg := u.byTestID("message")
	if err := expect.Locator(msg).ToHaveAttribute("data-kind", "success"); err != nil {
		text, _ := msg.TextContent()
		u.t.Fatalf("message after a signed change: %v (it says %q)", err, text)
	}
	if err := expect.Locator(msg).ToContainText(summary); err != nil {
		u.t.Fatalf("message: %v", err)
	}
}

// addKeyCredential generates a Key credential in the browser, approved by
// the passkey, and returns its row.
func (u *browserUser) addKeyCredential(name string) playwright.Locator {
	u.t.Helper()
	u.fill("key-name-input", name)
	u.click("add-key-button")
	u.approve("POST", "/auth/credentials", `Add the key "`+name+`" for scripts`)
	u.expectDone(`Add the key "` + name + `" for scripts`)
	if err := expect.Locator(u.byTestID("new-key-private-key")).ToContainText("-----BEGIN PRIVATE KEY-----"); err != nil {
		u.t.Fatalf("new-key-private-key: %v", err)
	}
	return u.credential(name)
}

// createAllRightsToken creates, from the Tokens page, a personal access
// token holding all of the person's rights.
func (u *browserUser) createAllRightsToken(name string) {
	u.t.Helper()
	u.openConsole("/tokens", "tokens")
	u.fill("token-name-input", name)
	u.click("token-scope-all")
	u.click("create-token-button")
	u.approve("POST", "/auth/pats", name)
	u.expectDone(name)
}

// createPermission creates, from the Permissions page, a permission of one
// operation.
func (u *browserUser) createPermission(name, operation string) {
	u.t.Helper()
	u.openConsole("/console/permissions", "permissions")
	u.fill("permission-name-input", name)
	box := u.page.GetByRole("checkbox", playwright.PageGetByRoleOptions{Name: operation, Exact: playwright.Bool(true)})
	if err := box.Check(); err != nil {
		u.t.Fatalf("check %s: %v", operation, err)
	}
	u.click("create-permission-button")
	u.approve("POST", "/permissions", name)
	u.expectDone(name)
}

// addSecurityKey adds a passkey on the plugged-in security key (a second
// virtual authenticator), approved by the passkey the person has.
func (u *browserUser) addSecurityKey(name string) {
	u.t.Helper()
	u.fill("passkey-name-input", name)
	u.click("add-security-key-button")
	u.approve("POST", "/auth/credentials", `Add the passkey "`+name+`"`)
	u.expectDone(`Add the passkey "` + name + `"`)
}

// credential is the credential row named exactly name.
func (u *browserUser) credential(name string) playwright.Locator {
	return u.byTestID("credential-row").Filter(playwright.LocatorFilterOptions{
		Has: u.page.GetByTestId("credential-name").GetByText(name, playwright.LocatorGetByTextOptions{Exact: playwright.Bool(true)}),
	})
}

// expectStatus waits until a row shows status.
func (u *browserUser) expectStatus(row playwright.Locator, status string) {
	u.t.Helper()
	if err := expect.Locator(row.GetByTestId("status")).ToHaveText(status); err != nil {
		u.t.Fatalf("status: %v", err)
	}
}

// text reads the text of the element with testID.
func (u *browserUser) text(testID string) string {
	u.t.Helper()
	s, err := u.byTestID(testID).TextContent()
	if err != nil {
		u.t.Fatalf("read %s: %v", testID, err)
	}
	return strings.TrimSpace(s)
}

// textIn reads the text of the element with testID inside loc.
func (u *browserUser) textIn(loc playwright.Locator, testID string) string {
	u.t.Helper()
	s, err := loc.GetByTestId(testID).TextContent()
	if err != nil {
		u.t.Fatalf("read %s: %v", testID, err)
	}
	return strings.TrimSpace(s)
}

// requestLog records the API requests the page sends, as "METHOD /path".
type requestLog struct {
	mu   sync.Mutex
	seen []string
}

// logRequests starts recording the page's requests to server paths.
func (u *browserUser) logRequests() *requestLog {
	log := &requestLog{}
	u.page.OnRequest(func(r playwright.Request) {
		url := r.URL()
		if !strings.HasPrefix(url, u.srv.URL) {
			return
		}
		path := strings.TrimPrefix(url, u.srv.URL)
		log.mu.Lock()
		log.seen = append(log.seen, r.Method()+" "+path)
		log.mu.Unlock()
	})
	return log
}

func (l *requestLog) list() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.seen...)
}

// attr reads an attribute of the one element loc matches; it must be set.
func (u *browserUser) attr(loc playwright.Locator, name string) string {
	u.t.Helper()
	v, err := loc.GetAttribute(name)
	if err != nil || v == "" {
		u.t.Fatalf("%s = %q: %v", name, v, err)
	}
	return v
}
