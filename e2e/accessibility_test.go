//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/playwright-community/playwright-go"
)

// axeSource is axe-core, from the npm registry (make test-deps puts it in
// .cache/playwright; COUNTERSIGN_AXE says where).
var axeSource = sync.OnceValues(func() (string, error) {
	path := os.Getenv("COUNTERSIGN_AXE")
	if path == "" {
		path = filepath.Join("..", ".cache", "playwright", "node_modules", "axe-core", "axe.min.js")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read axe-core: %w: run \"make test-deps\"", err)
	}
	return string(b), nil
})

// axeViolation is what axe-core reports for one broken rule.
type axeViolation struct {
	ID     string `json:"id"`
	Impact string `json:"impact"`
	Help   string `json:"help"`
	Nodes  []struct {
		Target []any  `json:"target"`
		HTML   string `json:"html"`
	} `json:"nodes"`
}

// checkAccessible injects axe-core into the page (through the DevTools
// protocol, which the page's CSP does not govern) and fails t for every
// violation it finds, with where.
func checkAccessible(t *testing.T, page playwright.Page) {
	t.Helper()
	src, err := axeSource()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := page.Evaluate(src + "\n;true"); err != nil {
		t.Fatalf("inject axe-core: %v", err)
	}
	res, err := page.Evaluate(`async () => JSON.stringify((await axe.run(document, {resultTypes: ['violations']})).violations)`)
	if err != nil {
		t.Fatalf("run axe-core: %v", err)
	}
	var violations []axeViolation
	if err := json.Unmarshal([]byte(res.(string)), &violations); err != nil {
		t.Fatalf("axe-core answered %v: %v", res, err)
	}
	for _, v := range violations {
		var where []string
		for _, n := range v.Nodes {
			where = append(where, fmt.Sprintf("%v %s", n.Target, truncate(n.HTML, 160)))
		}
		t.Errorf("axe %s (%s): %s\n\t%s", v.ID, v.Impact, v.Help, strings.Join(where, "\n\t"))
	}
}

// checkLayout fails t when the page scrolls sideways or repeats an id.
func checkLayout(t *testing.T, page playwright.Page) {
	t.Helper()
	res, err := page.Evaluate(`() => {
		const ids = [...document.querySelectorAll('[id]')].map((e) => e.id);
		const wide = [...document.querySelectorAll('body *')].filter((e) => e.getBoundingClientRect().right > window.innerWidth + 1)
			.slice(0, 5).map((e) => e.tagName.toLowerCase() + (e.className ? '.' + e.className : '') + (e.dataset.testid ? '[' + e.dataset.testid + ']' : ''));
		return {scroll: document.documentElement.scrollWidth, width: window.innerWidth, wide,
			repeated: ids.filter((id, i) => ids.indexOf(id) !== i)};
	}`)
	if err != nil {
		t.Fatalf("measure the page: %v", err)
	}
	m := res.(map[string]any)
	if scroll, width := toInt(m["scroll"]), toInt(m["width"]); scroll > width {
		t.Errorf("the page scrolls sideways: %d px wide in a %d px viewport; too wide: %v", scroll, width, m["wide"])
	}
	if rep, _ := m["repeated"].([]any); len(rep) > 0 {
		t.Errorf("ids used more than once: %v", rep)
	}
}

func toInt(v any) int {
	switch n := v.(type) {
	case int:
		return n
	case float64:
		return int(n)
	}
	return -1
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// viewports are a laptop's and a phone's.
var viewports = []struct {
	name          string
	width, height int
}{{"desktop", 1280, 800}, {"phone", 390, 844}}

var schemes = []*playwright.ColorScheme{playwright.ColorSchemeLight, playwright.ColorSchemeDark}

// TestEveryPageIsAccessibleAndFitsAPhone: axe-core finds no violation on
// any page, in the light and the dark scheme, on a laptop and at 390 px;
// no page scrolls sideways and no id repeats. The console pages hold some
// of everything (keys, tokens, an invitation, a permission).
func TestEveryPageIsAccessibleAndFitsAPhone(t *testing.T) {
	srv := startServer(t)
	u := newBrowserUser(t, srv, touchID)
	u.register(srv.invite(t, "alice@example.com"), "alice@example.com")
	u.openConsole("/credentials", "credentials")
	u.addKeyCredential("Deploy script")
	u.createAllRightsToken("Nightly backup")
	u.createPermission("Auditors", "Auth:Logs:Read")
	srv.invite(t, "bob@example.com")
	register := srv.invite(t, "carol@example.com")

	anon := newBrowserUser(t, srv, touchID)
	pages := []struct {
		name string
		who  *browserUser
		path string
	}{
		{"home", u, "/"}, {"credentials", u, "/credentials"}, {"activity", u, "/activity"}, {"sessions", u, "/sessions"},
		{"tokens", u, "/tokens"}, {"service accounts", u, "/service-accounts"}, {"users", u, "/users"},
		{"permissions", u, "/console/permissions"},
		{"sign-in", anon, "/login"}, {"registration", anon, strings.TrimPrefix(register, srv.URL)},
		{"error", anon, "/register?org=or-00000-00000-00000000000000&username=x&code=y"},
	}
	for _, vp := range viewports {
		for _, scheme := range schemes {
			for _, p := range pages {
				t.Run(fmt.Sprintf("%s %s %s", p.name, *scheme, vp.name), func(t *testing.T) {
					page := p.who.page
					if err := page.SetViewportSize(vp.width, vp.height); err != nil {
						t.Fatal(err)
					}
					if err := page.EmulateMedia(playwright.PageEmulateMediaOptions{ColorScheme: scheme}); err != nil {
						t.Fatal(err)
					}
					if _, err := page.Goto(srv.URL + p.path); err != nil {
						t.Fatalf("open %s: %v", p.path, err)
					}
					checkAccessible(t, page)
					checkLayout(t, page)
				})
			}
		}
	}

	t.Run("the approve dialog, open", func(t *testing.T) {
		for _, vp := range viewports {
			if err := u.page.SetViewportSize(vp.width, vp.height); err != nil {
				t.Fatal(err)
			}
			u.openConsole("/credentials", "credentials")
			u.clickIn(u.credential("Deploy script"), "deactivate-button")
			u.expectApproval("PUT", "/auth/credentials/deactivate", `Deactivate the key "Deploy script"`)
			if err := u.byTestID("approve-exact").Locator("summary").Click(); err != nil {
				t.Fatal(err)
			}
			checkAccessible(t, u.page)
			checkLayout(t, u.page)
			u.click("approve-cancel")
		}
	})
}

// TestTheApproveDialogByKeyboardAlone: from a row's button, Enter opens the
// dialog with the focus on its safest choice; Escape cancels and focus is
// back on the button; Enter again, Tab to Approve, Enter: the change is
// made, the list redrawn, and focus is on the same row.
func TestTheApproveDialogByKeyboardAlone(t *testing.T) {
	srv := startServer(t)
	u := newBrowserUser(t, srv, touchID)
	u.register(srv.invite(t, "alice"), "alice")
	u.openConsole("/credentials", "credentials")
	key := u.addKeyCredential("CI key")
	uuid := u.attr(key, "data-credential-uuid")
	kb := u.page.Keyboard()
	press := func(k string) {
		t.Helper()
		if err := kb.Press(k); err != nil {
			t.Fatalf("press %s: %v", k, err)
		}
	}
	focused := func(want playwright.Locator, what string) {
		t.Helper()
		if err := expect.Locator(want).ToBeFocused(); err != nil {
			t.Fatalf("focus is not on %s: %v", what, err)
		}
	}

	deactivate := key.GetByTestId("deactivate-button")
	// Reach the button as a keyboard does: Tab from the row's rename button.
	if err := key.GetByTestId("rename-button").Focus(); err != nil {
		t.Fatal(err)
	}
	press("Tab")
	focused(deactivate, "Deactivate")

	press("Enter")
	u.expectApproval("PUT", "/auth/credentials/deactivate", `Deactivate the key "CI key"`)
	focused(u.byTestID("approve-cancel"), "Cancel, the safe choice of a destructive change")
	press("Escape")
	u.expectText("message", msgCancelled)
	focused(deactivate, "Deactivate again after cancelling")

	press("Enter")
	u.expectApproval("PUT", "/auth/credentials/deactivate", `Deactivate the key "CI key"`)
	press("Tab")
	focused(u.byTestID("approve-button"), "Approve")
	press("Enter")
	u.expectDone(`Deactivate the key "CI key"`)
	u.expectStatus(key, "Inactive")
	focused(u.page.Locator("#row-"+uuid), "the redrawn row")
}
