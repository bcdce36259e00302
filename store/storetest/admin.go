package storetest

import (
	"testing"
	"time"

	"countersign/store"
)

// Fixtures and state snapshots for machine identities, user management and
// permissions (spec §4.4-§4.6, §4.9).

// pem is a Key credential's public key as the API receives it.
const pem = "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----\n"

// newAccessToken is a personal access token of u with every field set to
// something distinguishable; its key is cr-<id> (see newKey).
func newAccessToken(id string, u store.User) store.AccessToken {
	return store.AccessToken{
		ID:           id,
		OrgID:        u.OrgID,
		Kind:         store.TokenPAT,
		Name:         "token " + id,
		UserID:       u.ID,
		CredentialID: "cr-" + id,
		Scope:        store.ScopeAssignedOnly,
		ExternalID:   "ext-" + id,
		IsActive:     true,
		CreatedAt:    t0,
		ExpiresAt:    at(30 * 24 * time.Hour),
	}
}

// newKey is tk's own Key credential, cr-<token id>, with wire id credID.
func newKey(tk store.AccessToken, credID string) store.Credential {
	return store.Credential{
		ID:        tk.CredentialID,
		OrgID:     tk.OrgID,
		UserID:    tk.UserID,
		Kind:      store.CredentialKey,
		CredID:    credID,
		Name:      tk.Name,
		PublicKey: []byte(pem),
		TokenID:   tk.ID,
		IsActive:  true,
		CreatedAt: tk.CreatedAt,
	}
}

// tokenRowOf is the bearer Token row an access token's creation writes.
func tokenRowOf(tk store.AccessToken) store.Token {
	return store.Token{
		ID:        tk.ID,
		Kind:      tk.Kind,
		OrgID:     tk.OrgID,
		UserID:    tk.UserID,
		CreatedAt: tk.CreatedAt,
		ExpiresAt: tk.ExpiresAt,
	}
}

// newServiceAccount is a service account user of an org.
func newServiceAccount(id, orgID, name string) store.User {
	u := newUser(id, orgID, name+"@ServiceAccount")
	u.Name = name
	u.IsServiceAccount = true
	u.IsRegistered = true
	u.ExternalID = "ext-" + id
	return u
}

// newPermission is a mutable, unarchived permission of an org.
func newPermission(id, orgID, name string) store.Permission {
	return store.Permission{
		ID:         id,
		OrgID:      orgID,
		Name:       name,
		Operations: []string{"Auth:Users:Read", "Permissions:Read"},
		CreatedAt:  t0,
		UpdatedAt:  t0,
	}
}

// newAssignment is a mutable assignment of p to identityID.
func newAssignment(id string, p store.Permission, identityID string) store.Assignment {
	return store.Assignment{
		ID:           id,
		OrgID:        p.OrgID,
		PermissionID: p.ID,
		IdentityID:   identityID,
		CreatedAt:    t0,
		UpdatedAt:    t0,
	}
}

// infoOf is how ListAssignments shows a of p.
func infoOf(a store.Assignment, p store.Permission) store.AssignmentInfo {
	return store.AssignmentInfo{AssignmentID: a.ID, PermissionID: p.ID, PermissionName: p.Name, Operations: p.Operations}
}

// signedNew creates a fresh action ua-<id> of u and returns what authorises
// one change with it at now (audit entry uj-<id>). Fixtures use it for
// their own signed set-up steps.
func signedNew(t *testing.T, s store.Store, u store.User, id string, now time.Time) store.Signed {
	t.Helper()
	a := newUserAction("ua-"+id, u)
	a.CreatedAt, a.ExpiresAt = now, now.Add(5*time.Minute)
	mustCreateUserAction(t, s, a)
	return signedWith(a, u, "uj-"+id, now)
}

func mustCreateAccessToken(t *testing.T, s store.Store, by store.User, tk store.AccessToken, key store.Credential, a *store.Assignment) {
	t.Helper()
	sg := signedNew(t, s, by, "create-"+tk.ID, tk.CreatedAt)
	if err := s.CreateAccessTokenSigned(t.Context(), sg, tk, key, a); err != nil {
		t.Fatalf("CreateAccessTokenSigned(%s): %v", tk.ID, err)
	}
}

func mustCreateServiceAccount(t *testing.T, s store.Store, by, u store.User, tk store.AccessToken, key store.Credential, a *store.Assignment) {
	t.Helper()
	sg := signedNew(t, s, by, "create-"+u.ID, u.CreatedAt)
	if err := s.CreateServiceAccountSigned(t.Context(), sg, u, tk, key, a); err != nil {
		t.Fatalf("CreateServiceAccountSigned(%s): %v", u.ID, err)
	}
}

func mustCreatePermission(t *testing.T, s store.Store, by store.User, p store.Permission) {
	t.Helper()
	sg := signedNew(t, s, by, "create-"+p.ID, p.CreatedAt)
	if err := s.CreatePermissionSigned(t.Context(), sg, p); err != nil {
		t.Fatalf("CreatePermissionSigned(%s): %v", p.ID, err)
	}
}

func mustCreateAssignment(t *testing.T, s store.Store, by store.User, a store.Assignment) {
	t.Helper()
	sg := signedNew(t, s, by, "create-"+a.ID, a.CreatedAt)
	if err := s.CreateAssignmentSigned(t.Context(), sg, a); err != nil {
		t.Fatalf("CreateAssignmentSigned(%s): %v", a.ID, err)
	}
}

// adminFixture is an org with two people, a permission, an assignment and
// a personal access token, and an unused action of alice.
type adminFixture struct {
	Org        store.Org
	Alice, Bob store.User
	Perm       store.Permission  // pm-1, mutable
	Assignment store.Assignment  // as-1: pm-1 to alice
	Token      store.AccessToken // to-1: alice's personal access token
	Key        store.Credential  // cr-to-1: to-1's key
	Action     store.UserAction  // ua-1 of alice, unused, expiring at t0+5m
}

// newAdminFixture seeds adminFixture; its set-up changes are signed with
// actions of their own.
func newAdminFixture(t *testing.T, s store.Store) adminFixture {
	t.Helper()
	o, alice := seed(t, s)
	f := adminFixture{Org: o, Alice: alice, Bob: addUser(t, s, "us-2", o.ID, "bob@example.com")}
	f.Perm = newPermission("pm-1", o.ID, "Readers")
	mustCreatePermission(t, s, alice, f.Perm)
	f.Assignment = newAssignment("as-1", f.Perm, alice.ID)
	mustCreateAssignment(t, s, alice, f.Assignment)
	f.Token = newAccessToken("to-1", alice)
	f.Key = newKey(f.Token, "key-to-1")
	mustCreateAccessToken(t, s, alice, f.Token, f.Key, nil)
	f.Action = newUserAction("ua-1", alice)
	mustCreateUserAction(t, s, f.Action)
	return f
}

// otherOrg creates org or-2 with user us-9 (carol) and returns them.
func otherOrg(t *testing.T, s store.Store) (store.Org, store.User) {
	t.Helper()
	o, u := newOrg("or-2"), newUser("us-9", "or-2", "carol@example.com")
	mustInvite(t, s, invitation(&o, u))
	return o, u
}

// world is everything of an org the signed changes below may write, as
// the store's own reads show it, and some user actions.
type world struct {
	Users        []store.User
	Codes        []store.RegistrationCode
	Credentials  []store.Credential
	AccessTokens []store.AccessToken
	Tokens       []store.Token
	Permissions  []store.Permission
	Assignments  []store.Assignment
	Audit        []store.AuditEntry
	Actions      []store.UserAction
}

func worldOf(t *testing.T, s store.Store, orgID string, actionIDs ...string) world {
	t.Helper()
	ctx := t.Context()
	var w world
	var err error
	w.Users, err = s.ListUsers(ctx, store.UserQuery{OrgID: orgID, IncludeArchived: true})
	must(t, "ListUsers", err)
	for _, u := range w.Users {
		code, err := s.GetRegistrationCode(ctx, u.ID)
		if err == nil {
			w.Codes = append(w.Codes, code)
		} else {
			wantErr(t, "GetRegistrationCode of "+u.ID, err, store.ErrNotFound)
		}
		creds, err := s.ListCredentials(ctx, u.ID)
		must(t, "ListCredentials of "+u.ID, err)
		w.Credentials = append(w.Credentials, creds...)
	}
	w.AccessTokens, err = s.ListAccessTokens(ctx, store.AccessTokenQuery{OrgID: orgID})
	must(t, "ListAccessTokens", err)
	for _, tk := range w.AccessTokens {
		row, err := s.GetToken(ctx, tk.ID)
		must(t, "GetToken of "+tk.ID, err)
		w.Tokens = append(w.Tokens, row)
	}
	w.Permissions, err = s.ListPermissions(ctx, store.PageQuery{OrgID: orgID})
	must(t, "ListPermissions", err)
	for _, p := range w.Permissions {
		as, err := s.ListPermissionAssignments(ctx, store.PageQuery{OrgID: orgID}, p.ID)
		must(t, "ListPermissionAssignments of "+p.ID, err)
		w.Assignments = append(w.Assignments, as...)
	}
	w.Audit = allAudit(t, s, orgID)
	for _, id := range actionIDs {
		a, err := s.GetUserAction(ctx, id)
		must(t, "GetUserAction "+id, err)
		w.Actions = append(w.Actions, a)
	}
	return w
}

// wantNoToken checks that nothing of access token id was written: no
// bearer row, no metadata, no key, no assignment.
func wantNoToken(t *testing.T, s store.Store, id string) {
	t.Helper()
	_, err := s.GetToken(t.Context(), id)
	wantErr(t, "GetToken of "+id, err, store.ErrNotFound)
	_, err = s.GetAccessToken(t.Context(), id)
	wantErr(t, "GetAccessToken of "+id, err, store.ErrNotFound)
	_, err = s.GetCredential(t.Context(), "cr-"+id)
	wantErr(t, "GetCredential of cr-"+id, err, store.ErrNotFound)
	infos, err := s.ListAssignments(t.Context(), id)
	must(t, "ListAssignments of "+id, err)
	equal(t, "assignments of "+id, infos, []store.AssignmentInfo{})
}

// ids are the ids of a page, for messages that show order.
func ids[T any](items []T, id func(T) string) []string {
	out := []string{}
	for _, it := range items {
		out = append(out, id(it))
	}
	return out
}

func userID(u store.User) string             { return u.ID }
func permissionID(p store.Permission) string { return p.ID }
func assignmentID(a store.Assignment) string { return a.ID }
func tokenID(tk store.AccessToken) string    { return tk.ID }

// pageThrough lists every page of size 2 with list, each after the last id
// of the previous one, and returns the pages' ids.
func pageThrough(t *testing.T, list func(after string, limit int) ([]string, error)) [][]string {
	t.Helper()
	var pages [][]string
	after := ""
	for range 10 {
		page, err := list(after, 2)
		must(t, "list page after "+after, err)
		if len(page) == 0 {
			return pages
		}
		pages = append(pages, page)
		after = page[len(page)-1]
	}
	t.Fatalf("still listing after 10 pages: %v", pages)
	return nil
}
