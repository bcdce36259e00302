package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"countersign/store"
	"countersign/token"
	"countersign/views"
	"countersign/webauthn"
)

// Console pages. Each is a client of the JSON API like any SDK: the page
// lists what the store holds, and every button that changes something
// sends the API request through User Action Signing (static/app.js).
// /permissions is the API's, so the permissions page lives under /console.
const (
	pathCredentials     = "/credentials"
	pathActivity        = "/activity"
	pathTokens          = "/tokens"
	pathServiceAccounts = "/service-accounts"
	pathUsers           = "/users"
	pathPermissionsPage = "/console/permissions"
)

// The API endpoints the console's buttons call.
const (
	apiActionInit       = "/auth/action/init"
	apiAction           = "/auth/action"
	apiCredentialsInit  = "/auth/credentials/init"
	apiCredentials      = "/auth/credentials"
	apiCredentialsName  = "/auth/credentials/name"
	apiCredentialsOn    = "/auth/credentials/activate"
	apiCredentialsOff   = "/auth/credentials/deactivate"
	apiPATs             = "/auth/pats"
	apiServiceAccounts  = "/auth/service-accounts"
	apiUsers            = "/auth/users"
	apiPermissions      = "/permissions"
	consoleListLimit    = 500 // rows a console list shows at most
	consoleActivityRows = 200
)

// navigation is the console's menu, in order; key is the page's data-page.
// A page listing what the person may not read is left out of the menu
// (shown: any one of the operations, or always when there is none).
var navigation = []navEntry{
	{"console", "Home", pathConsole, nil},
	{"credentials", "Credentials", pathCredentials, nil},
	{"activity", "Activity", pathActivity, nil},
	{"sessions", "Sessions", pathSessions, nil},
	{"tokens", "Access tokens", pathTokens, nil},
	{"service-accounts", "Service accounts", pathServiceAccounts, []string{"Auth:ServiceAccounts:Read", "Auth:ServiceAccounts:Create"}},
	{"users", "Users", pathUsers, []string{"Auth:Users:Read", "Auth:Users:Create"}},
	{"permissions", "Permissions", pathPermissionsPage, []string{"Permissions:Read"}},
	{"services", "Services", pathServices, nil}, // only when the gateway has upstreams
}

type navEntry struct {
	key, label, url string
	shown           []string
}

// page wraps a console page handler: it authenticates the session cookie
// and sends a signed-out browser to the login page.
func (s *Server) page(h func(c echo.Context, caller Caller) error) echo.HandlerFunc {
	return func(c echo.Context) error {
		caller, err := s.sessionCaller(c)
		if errors.Is(err, token.ErrInvalid) {
			return c.Redirect(http.StatusSeeOther, loginURLFor(c.Request().URL.RequestURI(), false))
		}
		if err != nil {
			return err
		}
		return h(c, caller)
	}
}

// frame is what surrounds the page key of the console.
func (s *Server) frame(c echo.Context, caller Caller, key string) (views.Frame, error) {
	org, err := s.store.GetOrg(c.Request().Context(), caller.User.OrgID)
	if err != nil {
		return views.Frame{}, fmt.Errorf("load org %s: %w", caller.User.OrgID, err)
	}
	f := views.Frame{
		Page: key, Username: caller.User.Username, OrgID: org.ID, OrgName: org.Name,
		LogoutURL: pathSessionLogout, ActionInitURL: apiActionInit, ActionURL: apiAction,
		RPID: s.ceremonies.RPID(), WebAuthnUserID: webauthnUserID(caller.User), CredentialsAPIURL: apiCredentials,
		SessionEndsISO: isoTime(caller.Token.ExpiresAt), SignInAgainURL: loginURLFor(c.Request().URL.RequestURI(), true),
	}
	ops, err := s.may(c, caller)
	if err != nil {
		return views.Frame{}, err
	}
	for _, n := range navigation {
		if n.key == key {
			f.Title = n.label
		}
		if len(n.shown) > 0 && !slices.ContainsFunc(n.shown, func(op string) bool { return ops[op] }) && n.key != key {
			continue
		}
		if n.key == "services" && len(s.upstreams) == 0 {
			continue
		}
		f.Nav = append(f.Nav, views.NavLink{Key: n.key, Label: n.label, URL: n.url, Current: n.key == key})
	}
	return f, nil
}

// webauthnUserID is the WebAuthn user.id of a person as the Signal API
// wants it: base64url of the bytes the browser registered (the UTF-8 of
// the user handle, as @dfns/sdk-browser encodes it; spec §2.2).
func webauthnUserID(u store.User) string { return webauthn.EncodeBase64URL([]byte(u.UserHandle)) }

// consolePage is the signed-in home.
func (s *Server) consolePage(c echo.Context, caller Caller) error {
	f, err := s.frame(c, caller, "console")
	if err != nil {
		return err
	}
	creds, err := s.personalCredentials(c, caller)
	if err != nil {
		return err
	}
	ends := caller.Token.ExpiresAt
	v := views.ConsoleView{
		Frame: f, UserID: caller.User.ID, CredentialsURL: pathCredentials,
		SessionEnds: ends.UTC().Format("15:04 MST, 2 Jan 2006"), SessionEndsISO: isoTime(ends),
		Credentials: make([]views.CredentialRow, 0, len(creds)), Nudge: backupNudge(creds),
	}
	for _, cr := range creds {
		v.Credentials = append(v.Credentials, credentialRow(cr))
	}
	return s.render(c, http.StatusOK, views.ConsolePage(v))
}

// signedAction is a button sending method path with body (JSON-encoded;
// nil sends no body).
func signedAction(label, testID, method, path string, body any) views.SignedAction {
	return views.SignedAction{Label: label, TestID: testID, Method: method, Path: path, Body: jsonText(body)}
}

// signedForm is a form completing body with its fields.
func signedForm(method, path string, body any) views.SignedForm {
	return views.SignedForm{Method: method, Path: path, Body: jsonText(body)}
}

// jsonText encodes a request body; nil is no body at all.
func jsonText(body any) string {
	if body == nil {
		return ""
	}
	raw, err := json.Marshal(body)
	if err != nil {
		panic("encode console request body: " + err.Error()) // only maps of strings and bools
	}
	return string(raw)
}

// empty is the body of activate, deactivate and archive requests: "{}",
// as the SDK sends it.
var empty = map[string]any{}

func never(t *time.Time) string {
	if t == nil {
		return "Never"
	}
	return humanTime(*t)
}

func active(on bool) views.Status {
	if on {
		return views.Status{Label: "Active", Kind: "active"}
	}
	return views.Status{Label: "Inactive", Kind: "inactive"}
}

func archived() views.Status { return views.Status{Label: "Archived", Kind: "archived"} }

// permissionNames lists the names of an identity's permissions.
func (s *Server) permissionNames(c echo.Context, identityID string) (string, error) {
	as, err := s.store.ListAssignments(c.Request().Context(), identityID)
	if err != nil {
		return "", fmt.Errorf("list assignments of %s: %w", identityID, err)
	}
	names := make([]string, 0, len(as))
	for _, a := range as {
		names = append(names, a.PermissionName)
	}
	return strings.Join(names, ", "), nil
}

// may tells which of operations the caller holds.
// It is worked out once per request: the frame and the page both ask.
func (s *Server) may(c echo.Context, caller Caller) (map[string]bool, error) {
	if ops, ok := c.Request().Context().Value(opsKey{}).(map[string]bool); ok {
		return ops, nil
	}
	ops, err := s.operations(c.Request().Context(), caller)
	if err != nil {
		return nil, err
	}
	c.SetRequest(c.Request().WithContext(context.WithValue(c.Request().Context(), opsKey{}, ops)))
	return ops, nil
}

type opsKey struct{}

// tokenRow formats an access token for the console's lists, with the
// actions that change it at base (the token's API path).
func tokenRow(t store.AccessToken, now time.Time, base string, canToggle, canArchive bool) views.TokenRow {
	r := views.TokenRow{
		Name: t.Name, TokenID: t.ID, Created: humanTime(t.CreatedAt), Expires: humanTime(t.ExpiresAt),
		LastUsed: never(t.LastUsedAt), Status: active(t.IsActive),
	}
	if t.Kind == store.TokenPAT {
		r.Scope = map[string]string{
			store.ScopeAllUserOperations: "Holds all of your rights",
			store.ScopeAssignedOnly:      "Holds only what its permission allows",
		}[t.Scope]
	}
	if t.LastUsedAt != nil && t.LastUsedFor != "" {
		r.LastUsed += " · " + map[string]string{store.UseRead: "read", store.UseSign: "signed"}[t.LastUsedFor]
	}
	if !t.ExpiresAt.After(now) && t.IsActive {
		r.Status = views.Status{Label: "Expired", Kind: "inactive"}
	}
	if t.IsArchived {
		r.Status = archived()
		return r
	}
	if canToggle {
		if t.IsActive {
			r.Actions = append(r.Actions, signedAction("Deactivate", "deactivate-button", http.MethodPut, base+"/deactivate", empty))
		} else {
			r.Actions = append(r.Actions, signedAction("Activate", "activate-button", http.MethodPut, base+"/activate", empty))
		}
	}
	if canArchive {
		a := signedAction("Archive", "archive-button", http.MethodDelete, base, empty)
		a.Danger = true
		r.Actions = append(r.Actions, a)
	}
	return r
}
