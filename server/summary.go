package server

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"countersign/store"
	"countersign/webauthn"
)

// actionSummary is a signed request in words: the sentence the approve
// dialog shows before the passkey prompt and the audit log keeps, naming
// every consequential field of the request (what is granted, for how long,
// with which key, to whom), and whether the request takes something away,
// so the dialog can look like it.
type actionSummary struct {
	Text        string
	Destructive bool
}

// summaryBody holds the request fields summaries mention.
type summaryBody struct {
	CredentialKind string `json:"credentialKind"`
	CredentialName string `json:"credentialName"`
	CredentialInfo struct {
		AttestationData string `json:"attestationData"`
	} `json:"credentialInfo"`
	CredentialUUID string   `json:"credentialUuid"`
	Name           *string  `json:"name"`
	ExternalID     *string  `json:"externalId"`
	Email          string   `json:"email"`
	Username       string   `json:"username"`
	CredentialID   string   `json:"credentialId"`
	Operations     []string `json:"operations"`
	IdentityID     string   `json:"identityId"`
	IsArchived     *bool    `json:"isArchived"`
	IsSSORequired  *bool    `json:"isSSORequired"`
	PublicKey      string   `json:"publicKey"`
	PermissionID   string   `json:"permissionId"`
	TokenIDs       []string `json:"tokenIds"`
	AllOthers      bool     `json:"allOthers"`
	DaysValid      *int     `json:"daysValid"`
	SecondsValid   *int     `json:"secondsValid"`
}

// summaryInput is what a route's summary is made from: the request's body
// and path parameters, and who sends it.
type summaryInput struct {
	s      *Server
	ctx    context.Context
	caller Caller
	b      summaryBody
	params []string // the path's :segments, in order
}

// summaryRoute describes one signed route in words.
type summaryRoute struct {
	pattern string
	say     func(in summaryInput) actionSummary
}

func sentence(format string, args ...any) actionSummary {
	return actionSummary{Text: fmt.Sprintf(format, args...)}
}

func destructive(format string, args ...any) actionSummary {
	return actionSummary{Text: fmt.Sprintf(format, args...), Destructive: true}
}

// summaryRoutes has an entry for every signed route; a test walks the
// route table and fails on a signed route without one.
var summaryRoutes = []summaryRoute{
	{"POST /auth/credentials", func(in summaryInput) actionSummary {
		if in.b.CredentialKind == store.CredentialRecoveryKey {
			return sentence("Save a new recovery code (the recovery key %q): it can recover your account, and any earlier recovery code stops working", in.b.CredentialName)
		}
		return sentence("Add %s: it can then sign in and approve actions as you", in.newCredential())
	}},
	{"POST /auth/credentials/code", func(in summaryInput) actionSummary {
		return sentence("Make a one-time code, valid a few minutes, that adds a passkey or key to your account from another device: whoever uses it first adds one")
	}},
	{"PUT /auth/credentials/activate", func(in summaryInput) actionSummary {
		return sentence("Activate %s: it can sign in and approve actions as you again", in.credential(in.b.CredentialUUID))
	}},
	{"PUT /auth/credentials/deactivate", func(in summaryInput) actionSummary {
		return destructive("Deactivate %s: it can no longer sign in or approve actions as you", in.credential(in.b.CredentialUUID))
	}},
	{"PUT /auth/credentials/name", func(in summaryInput) actionSummary {
		return sentence("Rename %s to %q", in.credential(in.b.CredentialUUID), deref(in.b.Name))
	}},
	{"POST /auth/pats", func(in summaryInput) actionSummary {
		return sentence("Create the personal access token %q, %s, %s, %s",
			deref(in.b.Name), in.validity(), in.patScope(), keyWords(in.b.PublicKey))
	}},
	{"PUT /auth/pats/:tokenId", func(in summaryInput) actionSummary {
		return sentence("%s", capitalise(in.update("the personal access token "+in.param(0))))
	}},
	{"PUT /auth/pats/:tokenId/activate", func(in summaryInput) actionSummary {
		return sentence("Activate the personal access token %s: scripts using it work again", in.param(0))
	}},
	{"PUT /auth/pats/:tokenId/deactivate", func(in summaryInput) actionSummary {
		return destructive("Deactivate the personal access token %s: scripts using it stop working at once", in.param(0))
	}},
	{"DELETE /auth/pats/:tokenId", func(in summaryInput) actionSummary {
		return destructive("Archive the personal access token %s: it stops working for good and cannot be activated again", in.param(0))
	}},
	{"POST /auth/service-accounts", func(in summaryInput) actionSummary {
		grant := "with no permission (it can do nothing until one is assigned)"
		if in.b.PermissionID != "" {
			grant = "with the permission " + in.permission(in.b.PermissionID)
		}
		return sentence("Create the service account %q %s, %s, %s", deref(in.b.Name), grant, in.validity(), keyWords(in.b.PublicKey))
	}},
	{"PUT /auth/service-accounts/:serviceAccountId", func(in summaryInput) actionSummary {
		return sentence("%s", capitalise(in.update("the service account "+in.param(0))))
	}},
	{"PUT /auth/service-accounts/:serviceAccountId/activate", func(in summaryInput) actionSummary {
		return sentence("Activate the service account %s: its token works again", in.param(0))
	}},
	{"PUT /auth/service-accounts/:serviceAccountId/deactivate", func(in summaryInput) actionSummary {
		return destructive("Deactivate the service account %s: its token stops working at once", in.param(0))
	}},
	{"DELETE /auth/service-accounts/:serviceAccountId", func(in summaryInput) actionSummary {
		return destructive("Archive the service account %s: its token stops working for good and it cannot be activated again", in.param(0))
	}},
	{"POST /auth/users", func(in summaryInput) actionSummary {
		return sentence("Invite %s as a user: the one-time invitation link is valid for %s, and they hold no permission until one is assigned",
			in.b.Email, in.invitationValidity())
	}},
	{"POST /auth/registration/delegated", func(in summaryInput) actionSummary {
		ext := ""
		if in.b.ExternalID != nil && *in.b.ExternalID != "" {
			ext = fmt.Sprintf(" (external id %q)", *in.b.ExternalID)
		}
		return sentence("Create the end user %s%s and start the registration of their first credential, which their own device completes", in.b.Email, ext)
	}},
	{"POST /auth/login/delegated", func(in summaryInput) actionSummary {
		return sentence("Sign in as the end user %s: the login token reads what they can read, and every change it asks for still needs their own signature", in.b.Username)
	}},
	{"POST /auth/recover/user/delegated", func(in summaryInput) actionSummary {
		return destructive("Start the recovery of the end user %s with their recovery key %s: completed, it replaces every earlier credential and token of theirs", in.b.Username, in.b.CredentialID)
	}},
	{"POST /auth/users/:userId/recovery", func(in summaryInput) actionSummary {
		return destructive("Issue a reset link for the user %s: opening it creates a new passkey and retires every credential, token and session of the account", in.param(0))
	}},
	{"POST /auth/users/:userId/invitation", func(in summaryInput) actionSummary {
		return sentence("Issue a new invitation link for the user %s: the previous link stops working, and the new one is valid for %s; whoever opens it becomes this user",
			in.param(0), in.invitationValidity())
	}},
	{"PUT /auth/users/:userId", func(in summaryInput) actionSummary {
		if in.b.IsSSORequired != nil && *in.b.IsSSORequired {
			return sentence("Require single sign-on for the user %s", in.param(0))
		}
		return sentence("Stop requiring single sign-on for the user %s", in.param(0))
	}},
	{"PUT /auth/users/:userId/activate", func(in summaryInput) actionSummary {
		return sentence("Activate the user %s: they can sign in and approve actions again", in.param(0))
	}},
	{"PUT /auth/users/:userId/deactivate", func(in summaryInput) actionSummary {
		return destructive("Deactivate the user %s: they are signed out at once and can no longer sign in, approve actions or use their access tokens", in.param(0))
	}},
	{"DELETE /auth/users/:userId", func(in summaryInput) actionSummary {
		if u, ok := in.orgUser(in.params[0]); ok && !u.IsRegistered {
			return destructive("Cancel the invitation of %s: the link stops working and the user is archived", in.param(0))
		}
		return destructive("Archive the user %s: they are signed out at once, can never sign in again, and their access tokens stop working", in.param(0))
	}},
	{"PUT /auth/sessions/revoke", func(in summaryInput) actionSummary {
		return destructive("Sign out %s: they end at once, and whoever holds them must sign in again", in.sessionWords())
	}},
	{"POST /permissions", func(in summaryInput) actionSummary {
		return sentence("Create the permission %q allowing %s", deref(in.b.Name), operationWords(in.b.Operations))
	}},
	{"PUT /permissions/:permissionId", func(in summaryInput) actionSummary {
		var parts []string
		if in.b.Name != nil {
			parts = append(parts, fmt.Sprintf("rename it %q", *in.b.Name))
		}
		if in.b.Operations != nil {
			parts = append(parts, "make it allow "+operationWords(in.b.Operations)+in.holdersChange(in.params[0]))
		}
		if len(parts) == 0 {
			return sentence("Update the permission %s: nothing changes", in.param(0))
		}
		return sentence("Update the permission %s: %s", in.param(0), strings.Join(parts, ", and "))
	}},
	{"PUT /permissions/:permissionId/archive", func(in summaryInput) actionSummary {
		n := in.holders(in.params[0])
		if in.b.IsArchived != nil && !*in.b.IsArchived {
			return sentence("Unarchive the permission %s: %s %s its operations back", in.param(0), holderWords(n), agree(n, "gets", "get"))
		}
		return destructive("Archive the permission %s: %s %s its operations", in.param(0), holderWords(n), agree(n, "loses", "lose"))
	}},
	{"POST /permissions/:permissionId/assignments", func(in summaryInput) actionSummary {
		return sentence("Grant the permission %s, to %s", in.permission(in.params[0]), in.identity(in.b.IdentityID))
	}},
	{"DELETE /permissions/:permissionId/assignments/:assignmentId", func(in summaryInput) actionSummary {
		if who, ops, ok := in.assignment(in.params[0], in.params[1]); ok {
			return destructive("Revoke the permission %s from %s: they lose %s", in.param(0), who, operationWords(ops))
		}
		return destructive("Revoke the assignment %s of the permission %s", in.params[1], in.param(0))
	}},
}

// summarize is the summary's sentence (see describe).
func (s *Server) summarize(ctx context.Context, caller Caller, method, path string, payload []byte) string {
	return s.describe(ctx, caller, method, path, payload).Text
}

// describe says in words what a signed request does. The console shows it
// before the passkey prompt and the audit log keeps it, so both read alike.
func (s *Server) describe(ctx context.Context, caller Caller, method, path string, payload []byte) actionSummary {
	if text, ok := s.gatewaySummary(method, path, payload); ok {
		return actionSummary{Text: text}
	}
	var body summaryBody
	_ = json.Unmarshal(payload, &body) // an unreadable body is summarised by its route alone
	if r, params, ok := summaryRouteFor(method, path); ok {
		return r.say(summaryInput{s: s, ctx: ctx, caller: caller, b: body, params: params})
	}
	return actionSummary{Text: method + " " + path}
}

// summaryRouteFor finds the summary of a request, with its path parameters.
func summaryRouteFor(method, path string) (summaryRoute, []string, bool) {
	for _, r := range summaryRoutes {
		if params, ok := matchRoute(r.pattern, method+" "+path); ok {
			return r, params, true
		}
	}
	return summaryRoute{}, nil, false
}

// matchRoute matches "METHOD /a/:x/b" against "METHOD /a/1/b" and returns
// the :segments.
func matchRoute(pattern, request string) ([]string, bool) {
	ps, rs := strings.Split(pattern, "/"), strings.Split(request, "/")
	if len(ps) != len(rs) {
		return nil, false
	}
	var params []string
	for i := range ps {
		switch {
		case strings.HasPrefix(ps[i], ":"):
			if rs[i] == "" {
				return nil, false
			}
			params = append(params, rs[i])
		case ps[i] != rs[i]:
			return nil, false
		}
	}
	return params, true
}

// param labels the i-th path parameter (see label).
func (in summaryInput) param(i int) string { return in.s.label(in.ctx, in.caller, in.params[i]) }

// label names a user, service account, token or permission of the
// caller's organisation for a person to read: "alice@example.com"
// (us-…). Anything it cannot name, or of another organisation, stays its id.
func (s *Server) label(ctx context.Context, caller Caller, id string) string {
	name := ""
	switch {
	case strings.HasPrefix(id, "us-"):
		if u, err := s.store.GetUser(ctx, id); err == nil && u.OrgID == caller.User.OrgID {
			name = u.Username
			if u.IsServiceAccount {
				name = u.Name
			}
		}
	case strings.HasPrefix(id, "to-"):
		if t, err := s.store.GetAccessToken(ctx, id); err == nil && t.OrgID == caller.User.OrgID {
			name = t.Name
		}
	case strings.HasPrefix(id, "pm-"):
		if p, err := s.store.GetPermission(ctx, caller.User.OrgID, id); err == nil {
			name = p.Name
		}
	}
	if name == "" {
		return id
	}
	return fmt.Sprintf("%q (%s)", name, id)
}

// orgUser loads a user of the caller's organisation.
func (in summaryInput) orgUser(id string) (store.User, bool) {
	u, err := in.s.store.GetUser(in.ctx, id)
	return u, err == nil && u.OrgID == in.caller.User.OrgID
}

// identity names who an assignment goes to, with what it is: "the user
// "bob" (us-…)", "the service account …", "the personal access token
// "deploy" (to-…) of alice".
func (in summaryInput) identity(id string) string {
	switch {
	case strings.HasPrefix(id, "to-"):
		t, err := in.s.store.GetAccessToken(in.ctx, id)
		if err != nil || t.OrgID != in.caller.User.OrgID {
			return id
		}
		owner := t.UserID
		if u, ok := in.orgUser(t.UserID); ok {
			owner = u.Username
		}
		return fmt.Sprintf("the personal access token %q (%s) of %s", t.Name, id, owner)
	case strings.HasPrefix(id, "us-"):
		if u, ok := in.orgUser(id); ok && u.IsServiceAccount {
			return "the service account " + in.s.label(in.ctx, in.caller, id)
		}
		return "the user " + in.s.label(in.ctx, in.caller, id)
	}
	return id
}

// permission names a permission and what it allows: `"Auditors" (pm-…),
// allowing 1 operation: Auth:Logs:Read`.
func (in summaryInput) permission(id string) string {
	p, err := in.s.store.GetPermission(in.ctx, in.caller.User.OrgID, id)
	if err != nil {
		return id
	}
	return fmt.Sprintf("%q (%s), allowing %s", p.Name, p.ID, operationWords(p.Operations))
}

// operationWords lists operations for reading; a set holding every
// operation of the auth area says so first, since that is what it means.
func operationWords(ops []string) string {
	if isFullAdmin(ops) {
		return fmt.Sprintf("full administration, all %d operations", len(webauthn.FullAdminOperations))
	}
	switch len(ops) {
	case 0:
		return "no operation"
	case 1:
		return "1 operation: " + ops[0]
	}
	return fmt.Sprintf("%d operations: %s", len(ops), strings.Join(ops, ", "))
}

// isFullAdmin tells whether ops hold every operation of the auth area.
func isFullAdmin(ops []string) bool {
	for _, op := range webauthn.FullAdminOperations {
		if !slices.Contains(ops, op) {
			return false
		}
	}
	return true
}

// patScope says what a new personal access token may do: the operations
// of the permission it is limited to, or explicitly all of its user's.
func (in summaryInput) patScope() string {
	if in.b.PermissionID != "" {
		return "limited to the permission " + in.permission(in.b.PermissionID) + " (and never more than you hold)"
	}
	ops, err := in.s.operations(in.ctx, in.caller)
	if err != nil {
		return "holding all of your rights, as they change"
	}
	mine := make([]string, 0, len(ops))
	for op := range ops {
		mine = append(mine, op)
	}
	slices.Sort(mine)
	return "holding all of your rights, as they change (now " + operationWords(mine) + ")"
}

// validity says how long a new token is valid, and until when.
func (in summaryInput) validity() string {
	d := (&tokenKey{DaysValid: in.b.DaysValid, SecondsValid: in.b.SecondsValid}).validity() // as the token will be made
	until := in.s.opts.Now().Add(d).UTC().Format("2 Jan 2006")
	if d%(24*time.Hour) == 0 {
		return fmt.Sprintf("valid for %d days (until %s)", d/(24*time.Hour), until)
	}
	return fmt.Sprintf("valid for %s (until %s)", d, until)
}

// invitationValidity is how long an invitation link works.
func (in summaryInput) invitationValidity() string {
	h := in.s.ceremonies.CodeTTL().Round(time.Hour) / time.Hour
	if h%24 == 0 && h >= 48 {
		return fmt.Sprintf("%d days", h/24)
	}
	return fmt.Sprintf("%d hours", h)
}

// update says what a PAT or service-account update changes.
func (in summaryInput) update(what string) string {
	var parts []string
	if in.b.Name != nil {
		parts = append(parts, fmt.Sprintf("rename %s to %q", what, *in.b.Name))
	}
	if in.b.ExternalID != nil {
		parts = append(parts, fmt.Sprintf("set the external id of %s to %q", what, *in.b.ExternalID))
	}
	if len(parts) == 0 {
		return "update " + what + ": nothing changes"
	}
	return strings.Join(parts, ", and ")
}

// credential names one of the caller's credentials by what it is: `the
// passkey "Work laptop" (cr-…)`, or just the id when it is not theirs.
func (in summaryInput) credential(id string) string {
	cred, err := in.s.store.GetCredential(in.ctx, id)
	if err != nil || cred.UserID != in.caller.User.ID {
		return "the credential " + id
	}
	return fmt.Sprintf("the %s %q (%s)", credentialNoun(cred.Kind), cred.Name, id)
}

func credentialNoun(kind string) string {
	switch kind {
	case store.CredentialFido2:
		return "passkey"
	case store.CredentialRecoveryKey:
		return "recovery key"
	}
	return "key"
}

// newCredential names the credential a request adds: a passkey with its
// provider, read from the attestation's AAGUID, or a key with the
// fingerprint of its public key.
func (in summaryInput) newCredential() string {
	name := in.b.CredentialName
	switch in.b.CredentialKind {
	case store.CredentialFido2:
		if p := attestedProvider(in.b.CredentialInfo.AttestationData); p != "" {
			return fmt.Sprintf("the passkey %q from %s", name, p)
		}
		return fmt.Sprintf("the passkey %q", name)
	case store.CredentialKey:
		return fmt.Sprintf("the key %q for scripts (%s)", name, keyWords(attestedKey(in.b.CredentialInfo.AttestationData)))
	}
	return fmt.Sprintf("the %s credential %q", in.b.CredentialKind, name)
}

// holders counts the identities a permission is assigned to.
func (in summaryInput) holders(permissionID string) int {
	as, err := in.s.store.ListPermissionAssignments(in.ctx, store.PageQuery{OrgID: in.caller.User.OrgID, Limit: consoleListLimit}, permissionID)
	if err != nil {
		return 0
	}
	return len(as)
}

func (in summaryInput) holdersChange(permissionID string) string {
	return "; this changes what " + holderWords(in.holders(permissionID)) + " may do"
}

// agree is the verb for holderWords(n) as its subject.
func agree(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func holderWords(n int) string {
	switch n {
	case 0:
		return "no identity holds it now, so none"
	case 1:
		return "the 1 identity holding it"
	}
	return fmt.Sprintf("the %d identities holding it", n)
}

// assignment finds who an assignment of a permission goes to and what it
// grants.
func (in summaryInput) assignment(permissionID, assignmentID string) (string, []string, bool) {
	p, err := in.s.store.GetPermission(in.ctx, in.caller.User.OrgID, permissionID)
	if err != nil {
		return "", nil, false
	}
	as, err := in.s.store.ListPermissionAssignments(in.ctx, store.PageQuery{OrgID: p.OrgID, Limit: consoleListLimit}, p.ID)
	if err != nil {
		return "", nil, false
	}
	for _, a := range as {
		if a.ID == assignmentID {
			return in.identity(a.IdentityID), p.Operations, true
		}
	}
	return "", nil, false
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func capitalise(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
