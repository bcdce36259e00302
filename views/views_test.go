package views_test

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/a-h/templ"
	"golang.org/x/net/html"

	"countersign/views"
)

// page is a rendered document, queried by data-testid.
type page struct {
	t    *testing.T
	root *html.Node
	raw  string
}

func render(t *testing.T, c templ.Component) page {
	t.Helper()
	var buf bytes.Buffer
	if err := c.Render(context.Background(), &buf); err != nil {
		t.Fatalf("render: %v", err)
	}
	root, err := html.Parse(strings.NewReader(buf.String()))
	if err != nil {
		t.Fatalf("parse rendered HTML: %v", err)
	}
	return page{t: t, root: root, raw: buf.String()}
}

// all returns the elements matching keep, in document order.
func all(n *html.Node, keep func(*html.Node) bool) []*html.Node {
	var out []*html.Node
	for d := range n.Descendants() {
		if d.Type == html.ElementNode && keep(d) {
			out = append(out, d)
		}
	}
	return out
}

func attr(n *html.Node, name string) (string, bool) {
	for _, a := range n.Attr {
		if a.Key == name {
			return a.Val, true
		}
	}
	return "", false
}

func hasTestID(id string) func(*html.Node) bool {
	return func(n *html.Node) bool {
		v, _ := attr(n, "data-testid")
		return v == id
	}
}

func text(n *html.Node) string {
	var b strings.Builder
	for d := range n.Descendants() {
		if d.Type == html.TextNode {
			b.WriteString(d.Data)
		}
	}
	return strings.Join(strings.Fields(b.String()), " ")
}

// byTestID returns the one element with data-testid id.
func (p page) byTestID(id string) *html.Node {
	p.t.Helper()
	found := all(p.root, hasTestID(id))
	if len(found) != 1 {
		p.t.Fatalf("found %d elements with data-testid %q, want 1", len(found), id)
	}
	return found[0]
}

// wantText checks the text of the element with data-testid id.
func (p page) wantText(id, want string) {
	p.t.Helper()
	if got := text(p.byTestID(id)); got != want {
		p.t.Errorf("text of %s = %q, want %q", id, got, want)
	}
}

// wantAttr checks one attribute of an element.
func (p page) wantAttr(n *html.Node, name, want string) {
	p.t.Helper()
	if got, ok := attr(n, name); !ok || got != want {
		p.t.Errorf("<%s> %s = %q (present %v), want %q", n.Data, name, got, ok, want)
	}
}

// dataRoot is the element app.js starts from: the one with data-page.
func (p page) dataRoot(want string) *html.Node {
	p.t.Helper()
	roots := all(p.root, func(n *html.Node) bool { _, ok := attr(n, "data-page"); return ok })
	if len(roots) != 1 {
		p.t.Fatalf("found %d elements with data-page, want 1", len(roots))
	}
	p.wantAttr(roots[0], "data-page", want)
	return roots[0]
}

var (
	registerView = views.RegisterView{
		OrgID: "or-30tnh-itmjs-s235s5ontr3r23h2", Username: "alice@example.com", Code: "ABCD-EFGH",
		InitURL: "/auth/registration/init", FinishURL: "/session/registration",
	}
	loginView = views.LoginView{
		OrgID: "or-30tnh-itmjs-s235s5ontr3r23h2", InitURL: "/auth/login/init", FinishURL: "/session/login",
	}
	frame = views.Frame{
		Page: "console", Title: "Home", Username: "alice@example.com",
		OrgID: "or-30tnh-itmjs-s235s5ontr3r23h2", OrgName: "Acme", LogoutURL: "/session/logout",
		ActionInitURL: "/auth/action/init", ActionURL: "/auth/action",
		Nav: []views.NavLink{
			{Key: "console", Label: "Home", URL: "/", Current: true},
			{Key: "credentials", Label: "Credentials", URL: "/credentials"},
			{Key: "activity", Label: "Activity", URL: "/activity"},
		},
	}
	consoleView = views.ConsoleView{
		Frame: frame, UserID: "us-6b58p-r53sr-rlrd3l5cj3uc4ome", CredentialsURL: "/credentials",
		SessionEnds: "14:05 UTC", SessionEndsISO: "2026-03-01T14:05:00.000Z",
		Credentials: []views.CredentialRow{
			{Name: "Passkey", Kind: "Fido2", CredentialUUID: "cr-34514-nip9c-8bppvgqgj28dbodrc",
				Created: "1 Mar 2026, 13:05", LastUsed: "1 Mar 2026, 13:06", Description: "Passkey in Google Password Manager", Storage: "Synced across your devices", Active: true},
			{Name: "CI signer", Kind: "Key", CredentialUUID: "cr-1aaaa-bbbbb-ccccccccccccccc",
				Created: "2 Mar 2026, 09:00", LastUsed: "", Description: "Key for scripts", Active: false},
		},
	}
	errorView = views.ErrorView{Status: 404, Title: "Page not found", Message: "There is nothing at this address."}
)

func TestRegisterPage(t *testing.T) {
	p := render(t, views.RegisterPage(registerView))
	root := p.dataRoot("register")
	for name, want := range map[string]string{
		"data-org-id": registerView.OrgID, "data-username": registerView.Username, "data-code": registerView.Code,
		"data-init-url": registerView.InitURL, "data-finish-url": registerView.FinishURL,
	} {
		p.wantAttr(root, name, want)
	}
	p.wantText("register-username", registerView.Username)
	p.wantText("register-button", "Create a passkey")
	p.wantAttr(p.byTestID("register-button"), "type", "button")
	p.wantAttr(p.byTestID("message"), "aria-live", "polite")
}

func TestLoginPage(t *testing.T) {
	p := render(t, views.LoginPage(loginView))
	root := p.dataRoot("login")
	p.wantAttr(root, "data-org-id", loginView.OrgID)
	p.wantAttr(root, "data-init-url", loginView.InitURL)
	p.wantAttr(root, "data-finish-url", loginView.FinishURL)
	input := p.byTestID("login-username")
	p.wantAttr(input, "autocomplete", "username webauthn")
	p.wantAttr(input, "name", "username")
	p.wantText("login-button", "Sign in with a passkey")
	p.wantAttr(p.byTestID("message"), "aria-live", "polite")
}

func TestConsolePage(t *testing.T) {
	p := render(t, views.ConsolePage(consoleView))
	p.dataRoot("console")
	p.wantText("console-username", consoleView.Username)
	p.wantText("console-org", consoleView.OrgName)
	p.wantText("session-ends", consoleView.SessionEnds)
	p.wantAttr(p.byTestID("session-ends"), "datetime", consoleView.SessionEndsISO)

	rows := all(p.root, hasTestID("credential-row"))
	if len(rows) != len(consoleView.Credentials) {
		t.Fatalf("found %d credential rows, want %d", len(rows), len(consoleView.Credentials))
	}
	for i, want := range consoleView.Credentials {
		row := page{t: t, root: rows[i]}
		row.wantText("credential-name", want.Name)
		row.wantText("credential-description", want.Description)
		row.wantText("credential-created", want.Created)
		row.wantText("credential-last-used", want.LastUsed)
		if want.Storage != "" {
			row.wantText("credential-storage", want.Storage)
		}
		row.wantAttr(rows[i], "data-credential-uuid", want.CredentialUUID)
		class, _ := attr(rows[i], "class")
		if inactive := strings.Contains(class, "inactive"); inactive == want.Active {
			t.Errorf("row %d class %q, want inactive marked only when Active is false (%v)", i, class, want.Active)
		}
	}

	button := p.byTestID("logout-button")
	form := button.Parent
	for form != nil && form.Data != "form" {
		form = form.Parent
	}
	if form == nil {
		t.Fatal("logout-button is not inside a form")
	}
	p.wantAttr(form, "method", "post")
	p.wantAttr(form, "action", consoleView.LogoutURL)
	p.wantAttr(button, "type", "submit")
}

func TestConsolePageWithoutOrgNameShowsOrgID(t *testing.T) {
	v := consoleView
	v.OrgName = ""
	p := render(t, views.ConsolePage(v))
	p.wantText("console-org", v.OrgID)
}

func TestConsolePageWithoutCredentials(t *testing.T) {
	v := consoleView
	v.Credentials = nil
	p := render(t, views.ConsolePage(v))
	if rows := all(p.root, hasTestID("credential-row")); len(rows) != 0 {
		t.Errorf("found %d credential rows, want none", len(rows))
	}
	p.byTestID("credentials-empty")
}

func TestErrorPage(t *testing.T) {
	p := render(t, views.ErrorPage(errorView))
	p.dataRoot("error")
	p.wantText("error-title", errorView.Title)
	p.wantText("error-message", errorView.Message)
	if !strings.Contains(p.raw, "404") {
		t.Errorf("error page does not show status 404")
	}
}

// pages renders every page, with markup in every string a user controls.
func pages() map[string]templ.Component {
	const evil = `"><script>alert(1)</script><img src=x onerror=alert(1)>`
	r, c, e := registerView, consoleView, errorView
	r.Username, c.Username, c.OrgName, e.Message = evil, evil, evil, evil
	c.Credentials = append([]views.CredentialRow(nil), c.Credentials...)
	c.Credentials[0].Name = evil
	cr, a, tk, sa, us, pm := credentialsView, activityView, tokensView, serviceAccountsView, usersView, permissionsView
	cr.Passkeys = append([]views.CredentialRow(nil), cr.Passkeys...)
	cr.Passkeys[0].Name, cr.Passkeys[0].Description = evil, evil
	cr.Username = evil
	a.Rows = []views.ActivityRow{{User: evil, Credential: evil, Path: evil, Summary: evil}}
	tk.Tokens = []views.TokenRow{{Name: evil, TokenID: evil}}
	sa.Accounts = []views.ServiceAccountRow{{Name: evil, Permissions: evil}}
	sa.Permissions = []views.Option{{Value: evil, Label: evil}}
	us.Users = []views.UserRow{{Username: evil, Actions: []views.SignedAction{{Label: evil, Path: evil, Body: evil}}}}
	pm.Rows = []views.PermissionRow{{Name: evil, Assignees: []views.Assignee{{Label: evil}}, Operations: []string{evil},
		Assign: views.SignedForm{Path: evil}, Choices: []views.Option{{Value: evil, Label: evil}}}}
	return map[string]templ.Component{
		"register": views.RegisterPage(r), "login": views.LoginPage(loginView),
		"console": views.ConsolePage(c), "error": views.ErrorPage(e),
		"credentials": views.CredentialsPage(cr), "activity": views.ActivityPage(a), "tokens": views.TokensPage(tk),
		"service accounts": views.ServiceAccountsPage(sa), "users": views.UsersPage(us), "permissions": views.PermissionsPage(pm),
	}
}

// eventAttr finds an on* attribute inside a tag of the raw markup (escaped
// text or an attribute value such as "&lt;img onerror=" is not a tag;
// templ always double-quotes attribute values).
var eventAttr = regexp.MustCompile(`<[a-zA-Z][a-zA-Z0-9-]*(?:\s+[a-zA-Z:-]+(?:="[^"]*")?)*\s+on[a-z]+\s*=`)

// TestPagesFitTheCSP checks what the Content-Security-Policy (script-src and
// style-src 'self') would otherwise break or what it exists to stop: inline
// scripts, event-handler attributes, inline styles, injected markup.
func TestPagesFitTheCSP(t *testing.T) {
	for name, c := range pages() {
		t.Run(name+" page has only the app module script and no inline code", func(t *testing.T) {
			p := render(t, c)
			scripts := all(p.root, func(n *html.Node) bool { return n.Data == "script" })
			if len(scripts) != 1 {
				t.Fatalf("found %d <script> elements, want exactly the app module", len(scripts))
			}
			p.wantAttr(scripts[0], "src", "/static/app.js")
			p.wantAttr(scripts[0], "type", "module")
			if scripts[0].FirstChild != nil {
				t.Errorf("<script src> has inline content %q", text(scripts[0]))
			}
			for _, n := range all(p.root, func(*html.Node) bool { return true }) {
				for _, a := range n.Attr {
					if strings.HasPrefix(a.Key, "on") || a.Key == "style" {
						t.Errorf("<%s> has attribute %s=%q", n.Data, a.Key, a.Val)
					}
				}
				if n.Data == "style" || n.Data == "img" {
					t.Errorf("page contains a <%s> element", n.Data)
				}
			}
			if strings.Contains(p.raw, "<script>") {
				t.Errorf("raw page contains an inline <script>")
			}
			if m := eventAttr.FindString(p.raw); m != "" {
				t.Errorf("raw page contains an event-handler attribute: %s", m)
			}
			sheets := all(p.root, func(n *html.Node) bool { rel, _ := attr(n, "rel"); return rel == "stylesheet" })
			if len(sheets) != 1 {
				t.Fatalf("found %d stylesheets, want app.css alone", len(sheets))
			}
			p.wantAttr(sheets[0], "href", "/static/app.css")
			for _, link := range all(p.root, func(n *html.Node) bool { return n.Data == "link" }) {
				href, _ := attr(link, "href")
				if href != "/static/app.css" && !strings.HasPrefix(href, "data:image/svg+xml,") {
					t.Errorf("<link> loads %q: only app.css and the data: favicon are expected", href)
				}
			}
		})
	}
}

// TestPagesDeclareTheDocument checks the shell every page shares.
func TestPagesDeclareTheDocument(t *testing.T) {
	for name, c := range pages() {
		t.Run(name+" page is a complete document", func(t *testing.T) {
			p := render(t, c)
			if !strings.HasPrefix(strings.ToLower(p.raw), "<!doctype html>") {
				t.Errorf("page starts with %.20q, want <!doctype html>", p.raw)
			}
			htmlEl := all(p.root, func(n *html.Node) bool { return n.Data == "html" })
			if len(htmlEl) != 1 {
				t.Fatalf("found %d <html> elements", len(htmlEl))
			}
			p.wantAttr(htmlEl[0], "lang", "en")
			titles := all(p.root, func(n *html.Node) bool { return n.Data == "title" })
			if len(titles) != 1 || !strings.HasSuffix(text(titles[0]), "· countersign") {
				t.Errorf("title = %v, want one ending in \"· countersign\"", titles)
			}
		})
	}
}
