package views_test

import (
	"strings"
	"testing"

	"golang.org/x/net/html"

	"countersign/views"
)

// pageFrame is the frame of the console page key.
func pageFrame(key string) views.Frame {
	f := frame
	f.Page = key
	f.Nav = nil
	for _, n := range []struct{ key, label, url string }{
		{"console", "Home", "/"}, {"credentials", "Credentials", "/credentials"}, {"activity", "Activity", "/activity"},
		{"tokens", "Access tokens", "/tokens"}, {"service-accounts", "Service accounts", "/service-accounts"},
		{"users", "Users", "/users"}, {"permissions", "Permissions", "/console/permissions"},
	} {
		f.Nav = append(f.Nav, views.NavLink{Key: n.key, Label: n.label, URL: n.url, Current: n.key == key})
	}
	return f
}

var (
	deactivate = views.SignedAction{
		Label: "Deactivate", TestID: "deactivate-button", Method: "PUT", Path: "/auth/credentials/deactivate",
		Body: `{"credentialUuid":"cr-34514-nip9c-8bppvgqgj28dbodrc"}`, Danger: true,
	}
	credentialsView = views.CredentialsView{
		Frame: pageFrame("credentials"), InitURL: "/auth/credentials/init", CreateURL: "/auth/credentials",
		ProvidersURL: "/console/passkey-providers.json",
		Passkeys: []views.CredentialRow{
			{Name: "Passkey", Kind: "Fido2", CredentialUUID: "cr-34514-nip9c-8bppvgqgj28dbodrc", Created: "1 Mar 2026, 13:05 UTC",
				LastLogin: "1 Mar 2026, 13:06 UTC", LastSign: "Never", Description: "Passkey in Google Password Manager",
				Storage: "Synced across your devices", Icon: "synced", Active: true,
				Rename:  views.SignedForm{Method: "PUT", Path: "/auth/credentials/name", Body: `{"credentialUuid":"cr-34514-nip9c-8bppvgqgj28dbodrc"}`},
				Actions: []views.SignedAction{deactivate}},
		},
		Keys: []views.CredentialRow{
			{Name: "CI key", Kind: "Key", CredentialUUID: "cr-1aaaa-bbbbb-ccccccccccccccc", Created: "2 Mar 2026, 09:00 UTC",
				LastLogin: "Never", LastSign: "Never", Description: "Key for scripts", Icon: "key", Active: false,
				Actions: []views.SignedAction{{Label: "Activate", TestID: "activate-button", Method: "PUT", Path: "/auth/credentials/activate", Body: `{"credentialUuid":"cr-1aaaa-bbbbb-ccccccccccccccc"}`, Row: "CI key"}}},
		},
	}
	activityView = views.ActivityView{
		Frame: pageFrame("activity"), OwnOnly: true, ExportCSV: "/activity/export?format=csv", ExportJSON: "/activity/export?format=json",
		OlderURL: "/activity?before=1772370420000",
		Rows: []views.ActivityRow{{
			ID: "uj-1", Kind: "approval", KindLabel: "Approval",
			Time: "1 Mar 2026, 13:07 UTC", TimeISO: "2026-03-01T13:07:00.000Z", User: "alice@example.com", Credential: "Passkey",
			Method: "PUT", Path: "/auth/credentials/deactivate", Summary: `Deactivate the key "CI key" (cr-1aaaa-bbbbb-ccccccccccccccc)`,
			Signature: &views.ActivitySignature{AuditID: "uj-1", CredentialID: "cr-34514-nip9c-8bppvgqgj28dbodrc", CredentialKind: "Fido2",
				PublicKey: "-----BEGIN PUBLIC KEY-----", Payload: "{}", ClientData: "{}", AuthenticatorData: "AAAA", Signature: "MEUC"},
		}, {
			ID: "si-1", Kind: "failed", KindLabel: "Refused sign-in", Time: "1 Mar 2026, 13:06 UTC", TimeISO: "2026-03-01T13:06:00.000Z",
			User: "alice@example.com", Credential: "Passkey", Summary: "A sign-in to the console with \"Passkey\" was refused",
		}},
	}
	tokensView = views.TokensView{
		Frame: pageFrame("tokens"), CanCreate: true, Create: views.SignedForm{Method: "POST", Path: "/auth/pats", Body: "{}"},
		Tokens: []views.TokenRow{{
			Name: "deploy", TokenID: "to-1aaaa-bbbbb-ccccccccccccccc", Created: "1 Mar 2026, 13:05 UTC", Expires: "30 May 2026, 13:05 UTC",
			LastUsed: "Never", Status: views.Status{Label: "Active", Kind: "active"},
			Actions: []views.SignedAction{{Label: "Deactivate", TestID: "deactivate-button", Method: "PUT", Path: "/auth/pats/to-1aaaa-bbbbb-ccccccccccccccc/deactivate", Body: "{}"}},
		}},
	}
	serviceAccountsView = views.ServiceAccountsView{
		Frame: pageFrame("service-accounts"), CanRead: true, CanCreate: true,
		Create:      views.SignedForm{Method: "POST", Path: "/auth/service-accounts", Body: "{}"},
		Permissions: []views.Option{{Value: "pm-1aaaa-bbbbb-ccccccccccccccc", Label: "Auditors"}},
		Accounts: []views.ServiceAccountRow{{
			Name: "Payments API", UserID: "us-1aaaa-bbbbb-ccccccccccccccc", Created: "1 Mar 2026, 13:05 UTC", Permissions: "Auditors",
			Status: views.Status{Label: "Active", Kind: "active"},
		}},
	}
	usersView = views.UsersView{
		Frame: pageFrame("users"), CanRead: true, CanInvite: true,
		Invite: views.SignedForm{Method: "POST", Path: "/auth/users", Body: `{"kind":"CustomerEmployee"}`},
		Users: []views.UserRow{
			{Username: "alice@example.com", UserID: "us-6b58p-r53sr-rlrd3l5cj3uc4ome", Kind: "CustomerEmployee", Status: views.Status{Label: "Active", Kind: "active"}, IsYou: true},
			{Username: "bob@example.com", UserID: "us-1aaaa-bbbbb-ccccccccccccccc", Kind: "CustomerEmployee", Status: views.Status{Label: "Invited", Kind: "pending"}},
		},
	}
	permissionsView = views.PermissionsView{
		Frame: pageFrame("permissions"), CanRead: true, CanCreate: true,
		Create:     views.SignedForm{Method: "POST", Path: "/permissions", Body: "{}"},
		Operations: []string{"Auth:Logs:Read", "Auth:Users:Read"},
		Rows: []views.PermissionRow{{
			Name: "Auditors", ID: "pm-1aaaa-bbbbb-ccccccccccccccc", Operations: []string{"Auth:Logs:Read"},
			Assignees: []views.Assignee{{Label: "bob@example.com", Revoke: &views.SignedAction{
				Label: "Revoke", TestID: "revoke-button", Method: "DELETE", Path: "/permissions/pm-1aaaa-bbbbb-ccccccccccccccc/assignments/as-1", Body: "{}",
				Danger: true, Row: "Auditors from bob@example.com",
			}}},
			Choices: []views.Option{
				{Value: "us-1aaaa-bbbbb-ccccccccccccccc", Label: "bob@example.com (already holds it)", Disabled: true},
				{Value: "us-2aaaa-bbbbb-ccccccccccccccc", Label: "carol@example.com"},
			},
			Status: views.Status{Label: "Active", Kind: "active"},
			Assign: views.SignedForm{Method: "POST", Path: "/permissions/pm-1aaaa-bbbbb-ccccccccccccccc/assignments", Body: "{}"},
		}},
	}
)

func TestConsoleLayoutMarksTheCurrentPage(t *testing.T) {
	p := render(t, views.CredentialsPage(credentialsView))
	root := p.dataRoot("credentials")
	p.wantAttr(root, "data-action-init-url", "/auth/action/init")
	p.wantAttr(root, "data-action-url", "/auth/action")
	nav := p.byTestID("nav")
	p.wantAttr(nav, "aria-label", "Console")
	current := all(nav, func(n *html.Node) bool { _, ok := attr(n, "aria-current"); return ok })
	if len(current) != 1 {
		t.Fatalf("found %d links with aria-current, want 1", len(current))
	}
	p.wantAttr(current[0], "aria-current", "page")
	p.wantAttr(current[0], "href", "/credentials")
	p.wantAttr(p.byTestID("nav-activity"), "href", "/activity")
	p.wantText("console-username", frame.Username)
	p.wantAttr(p.byTestID("message"), "aria-live", "polite")
}

func TestApproveDialog(t *testing.T) {
	p := render(t, views.CredentialsPage(credentialsView))
	dialog := p.byTestID("approve-dialog")
	if dialog.Data != "dialog" {
		t.Fatalf("approve-dialog is a <%s>, want <dialog>", dialog.Data)
	}
	p.wantAttr(dialog, "aria-labelledby", "approve-title")
	p.byTestID("approve-summary")
	p.wantText("approve-button", "Approve with passkey")
	p.wantText("approve-cancel", "Cancel")
	p.wantAttr(p.byTestID("approve-button"), "value", "approve")
	p.wantAttr(p.byTestID("approve-cancel"), "value", "cancel")
	form := p.byTestID("approve-button").Parent.Parent
	p.wantAttr(form, "method", "dialog")
}

func TestCredentialsPage(t *testing.T) {
	p := render(t, views.CredentialsPage(credentialsView))
	rows := all(p.root, hasTestID("credential-row"))
	if len(rows) != 2 {
		t.Fatalf("found %d credential rows, want 2", len(rows))
	}
	first := page{t: t, root: rows[0]}
	p.wantAttr(rows[0], "data-credential-uuid", "cr-34514-nip9c-8bppvgqgj28dbodrc")
	first.wantText("credential-name", "Passkey")
	first.wantText("credential-description", "Passkey in Google Password Manager")
	first.wantText("credential-storage", "Synced across your devices")
	first.wantText("credential-last-login", "1 Mar 2026, 13:06 UTC")
	first.wantText("credential-last-sign", "Never")
	first.wantText("status", "Active")
	button := first.byTestID("deactivate-button")
	p.wantAttr(button, "type", "button")
	p.wantAttr(button, "data-sign-method", deactivate.Method)
	p.wantAttr(button, "data-sign-path", deactivate.Path)
	p.wantAttr(button, "data-sign-body", deactivate.Body)
	rename := first.byTestID("rename-button")
	p.wantAttr(rename, "aria-controls", "rename-cr-34514-nip9c-8bppvgqgj28dbodrc")
	p.wantAttr(rename, "aria-expanded", "false")
	form := first.byTestID("rename-form")
	p.wantAttr(form, "id", "rename-cr-34514-nip9c-8bppvgqgj28dbodrc")
	p.wantAttr(form, "data-sign-path", "/auth/credentials/name")
	if _, hidden := attr(form, "hidden"); !hidden {
		t.Errorf("the rename form is shown before Rename is pressed")
	}
	p.wantAttr(first.byTestID("rename-input"), "name", "name")

	second := page{t: t, root: rows[1]}
	second.wantText("status", "Inactive")
	second.wantText("credential-description", "Key for scripts")
	if got := text(second.byTestID("activate-button")); got != "Activate CI key" {
		t.Errorf("the activate button reads %q to a screen reader, want it to name its row", got)
	}
	if n := len(all(rows[1], hasTestID("credential-storage"))); n != 0 {
		t.Errorf("a Key credential shows a storage")
	}

	add := all(p.root, func(n *html.Node) bool { v, _ := attr(n, "data-form"); return v == "add-credential" })
	if len(add) != 2 {
		t.Fatalf("found %d add-credential forms, want one for passkeys and one for keys", len(add))
	}
	p.wantAttr(add[0], "data-init-url", "/auth/credentials/init")
	p.wantAttr(add[0], "data-create-url", "/auth/credentials")
	p.wantAttr(add[0], "data-providers-url", "/console/passkey-providers.json")
	p.wantAttr(p.byTestID("passkey-name-input"), "name", "credentialName")
	p.wantAttr(p.byTestID("key-name-input"), "name", "credentialName")
	for id, value := range map[string]string{"add-passkey-button": "platform", "add-security-key-button": "cross-platform", "add-key-button": "key"} {
		p.wantAttr(p.byTestID(id), "value", value)
		p.wantAttr(p.byTestID(id), "type", "submit")
	}
	panel := p.byTestID("new-key")
	if _, hidden := attr(panel, "hidden"); !hidden {
		t.Errorf("the new key panel is shown before a key exists")
	}
	p.byTestID("new-key-private-key")
	p.byTestID("new-key-cred-id")
}

func TestActivityPage(t *testing.T) {
	p := render(t, views.ActivityPage(activityView))
	p.dataRoot("activity")
	p.byTestID("activity-scope")
	rows := all(p.root, hasTestID("activity-row"))
	if len(rows) != 2 {
		t.Fatalf("found %d activity rows, want 2", len(rows))
	}
	row := page{t: t, root: rows[0]}
	want := activityView.Rows[0]
	row.wantText("activity-time", want.Time)
	p.wantAttr(row.byTestID("activity-time"), "datetime", want.TimeISO)
	row.wantText("activity-kind", "Approval")
	row.wantText("activity-user", want.User)
	row.wantText("activity-credential", want.Credential)
	row.wantText("activity-request", want.Method+" "+want.Path)
	row.wantText("activity-summary", want.Summary)
	row.wantText("signature-value", "MEUC")
	failed := page{t: t, root: rows[1]}
	failed.wantText("activity-kind", "Refused sign-in")
	if n := len(all(rows[1], hasTestID("activity-signature"))); n != 0 {
		t.Errorf("a sign-in shows a signature")
	}
	p.wantAttr(p.byTestID("export-csv"), "href", "/activity/export?format=csv")
	p.wantAttr(p.byTestID("activity-older"), "href", "/activity?before=1772370420000")
	p.wantAttr(p.byTestID("activity-filter"), "method", "get")

	v := activityView
	v.OwnOnly, v.Rows = false, nil
	p = render(t, views.ActivityPage(v))
	if n := len(all(p.root, hasTestID("activity-scope"))); n != 0 {
		t.Errorf("the whole organisation's log says it is restricted")
	}
	p.byTestID("activity-empty")
}

func TestTokensPage(t *testing.T) {
	p := render(t, views.TokensPage(tokensView))
	p.dataRoot("tokens")
	row := p.byTestID("token-row")
	p.wantAttr(row, "data-token-id", "to-1aaaa-bbbbb-ccccccccccccccc")
	page{t: t, root: row}.wantText("token-name", "deploy")
	p.wantAttr(p.byTestID("deactivate-button"), "data-sign-path", "/auth/pats/to-1aaaa-bbbbb-ccccccccccccccc/deactivate")
	form := p.byTestID("create-token-button").Parent.Parent
	p.wantAttr(form, "data-form", "create-token")
	p.wantAttr(form, "data-sign-method", "POST")
	p.wantAttr(form, "data-sign-path", "/auth/pats")
	p.wantAttr(p.byTestID("token-name-input"), "name", "name")
	p.wantAttr(p.byTestID("token-days-input"), "name", "daysValid")
	p.wantAttr(p.byTestID("token-public-key-input"), "name", "publicKey")
	p.wantAttr(p.byTestID("token-key-generate"), "checked", "")
	for _, id := range []string{"new-token", "new-token-access-token", "new-token-cred-id", "new-token-private-key"} {
		p.byTestID(id)
	}

	v := tokensView
	v.CanCreate = false
	p = render(t, views.TokensPage(v))
	p.byTestID("tokens-create-denied")
	if n := len(all(p.root, hasTestID("create-token-button"))); n != 0 {
		t.Errorf("a person who may not create tokens sees the form")
	}
}

func TestServiceAccountsPage(t *testing.T) {
	p := render(t, views.ServiceAccountsPage(serviceAccountsView))
	p.dataRoot("service-accounts")
	page{t: t, root: p.byTestID("service-account-row")}.wantText("service-account-name", "Payments API")
	p.wantAttr(p.byTestID("service-account-permission-input"), "name", "permissionId")
	form := p.byTestID("create-service-account-button").Parent.Parent
	p.wantAttr(form, "data-form", "create-service-account")
	p.wantAttr(form, "data-sign-path", "/auth/service-accounts")
	p.byTestID("new-token-access-token")

	v := serviceAccountsView
	v.CanRead, v.CanCreate = false, false
	p = render(t, views.ServiceAccountsPage(v))
	p.byTestID("service-accounts-denied")
	if n := len(all(p.root, hasTestID("service-account-row"))); n != 0 {
		t.Errorf("found %d rows without the read permission", n)
	}
}

func TestUsersPage(t *testing.T) {
	p := render(t, views.UsersPage(usersView))
	p.dataRoot("users")
	rows := all(p.root, hasTestID("user-row"))
	if len(rows) != 2 {
		t.Fatalf("found %d user rows, want 2", len(rows))
	}
	if !strings.Contains(text(rows[0]), "you") {
		t.Errorf("the caller's row does not say it is them: %q", text(rows[0]))
	}
	page{t: t, root: rows[1]}.wantText("status", "Invited")
	form := p.byTestID("invite-button").Parent.Parent.Parent
	p.wantAttr(form, "data-sign-body", `{"kind":"CustomerEmployee"}`)
	p.wantAttr(p.byTestID("invite-email-input"), "name", "email")
	p.wantAttr(p.byTestID("invite-email-input"), "type", "email")
	p.byTestID("invite-link")

	v := usersView
	v.CanRead, v.CanInvite = false, false
	p = render(t, views.UsersPage(v))
	p.byTestID("users-denied")
}

func TestPermissionsPage(t *testing.T) {
	p := render(t, views.PermissionsPage(permissionsView))
	p.dataRoot("permissions")
	row := page{t: t, root: p.byTestID("permission-row")}
	row.wantText("permission-name", "Auditors")
	row.wantText("assignee-name", "bob@example.com")
	revoke := row.byTestID("revoke-button")
	p.wantAttr(revoke, "data-sign-method", "DELETE")
	if got := text(revoke); got != "Revoke Auditors from bob@example.com" {
		t.Errorf("the revoke button reads %q, want it to name what it revokes", got)
	}
	options := all(row.byTestID("assign-identity"), func(n *html.Node) bool { return n.Data == "option" })
	if len(options) != 3 {
		t.Fatalf("found %d options, want a prompt and two identities", len(options))
	}
	if v, _ := attr(options[0], "value"); v != "" {
		t.Errorf("the assign list starts on %q, want the empty prompt", v)
	}
	if _, disabled := attr(options[1], "disabled"); !disabled {
		t.Errorf("bob, who already holds it, can be chosen")
	}
	if _, disabled := attr(options[2], "disabled"); disabled {
		t.Errorf("carol cannot be chosen")
	}
	assign := row.byTestID("assign-form")
	p.wantAttr(assign, "data-sign-path", "/permissions/pm-1aaaa-bbbbb-ccccccccccccccc/assignments")
	p.wantAttr(row.byTestID("assign-identity"), "name", "identityId")
	ops := all(p.root, hasTestID("permission-operation"))
	if len(ops) != 2 {
		t.Fatalf("found %d operation checkboxes, want 2", len(ops))
	}
	p.wantAttr(ops[0], "name", "operations")
	p.wantAttr(ops[0], "value", "Auth:Logs:Read")

	v := permissionsView
	v.CanRead, v.CanCreate = false, false
	p = render(t, views.PermissionsPage(v))
	p.byTestID("permissions-denied")
}
