package storetest

import (
	"fmt"
	"testing"
	"time"

	"countersign/store"
)

// addUserAt invites user id into orgID, created at created.
func addUserAt(t *testing.T, s store.Store, id, orgID string, created time.Time) store.User {
	t.Helper()
	u := newUser(id, orgID, id+"@example.com")
	u.CreatedAt = created
	mustInvite(t, s, invitation(nil, u))
	return u
}

// listUserIDs lists the ids of a page of users.
func listUserIDs(s store.Store, t *testing.T, q store.UserQuery) func(after string, limit int) ([]string, error) {
	return func(after string, limit int) ([]string, error) {
		q.After, q.Limit = after, limit
		users, err := s.ListUsers(t.Context(), q)
		return ids(users, userID), err
	}
}

var userTests = []test{
	{"a signed user creation writes the user, its registration code and its assignment", func(t *testing.T, s store.Store) {
		f := newAdminFixture(t, s)
		before := worldOf(t, s, f.Org.ID)
		u := newUser("us-3", f.Org.ID, "dave@example.com")
		u.IsSSORequired, u.ExternalID = true, "hr-1234"
		in := invitation(nil, u)
		as := newAssignment("as-3", f.Perm, u.ID)
		in.Assignment = &as
		now := at(time.Minute)
		sg := signedWith(f.Action, f.Alice, "uj-1", now)
		must(t, "CreateUserSigned", s.CreateUserSigned(t.Context(), sg, in))

		got, err := s.GetUser(t.Context(), u.ID)
		must(t, "GetUser", err)
		equal(t, "user", got, u)
		code, err := s.GetRegistrationCode(t.Context(), u.ID)
		must(t, "GetRegistrationCode", err)
		equal(t, "registration code", code, codeOf(u.ID))
		infos, err := s.ListAssignments(t.Context(), u.ID)
		must(t, "ListAssignments", err)
		equal(t, "assignments", infos, []store.AssignmentInfo{infoOf(as, f.Perm)})
		action, err := s.GetUserAction(t.Context(), f.Action.ID)
		must(t, "GetUserAction", err)
		equal(t, "action UsedAt", action.UsedAt, ptr(now))
		equal(t, "audit entries", allAudit(t, s, f.Org.ID), append(before.Audit, sg.Audit))
	}},
	{"a signed user creation with a permission creates it too", func(t *testing.T, s store.Store) {
		f := newAdminFixture(t, s)
		u := newUser("us-3", f.Org.ID, "dave@example.com")
		in := invitation(nil, u)
		p := newPermission("pm-3", f.Org.ID, "Dave's")
		as := newAssignment("as-3", p, u.ID)
		in.Permission, in.Assignment = &p, &as
		must(t, "CreateUserSigned", s.CreateUserSigned(t.Context(), signedWith(f.Action, f.Alice, "uj-1", t0), in))

		got, err := s.GetPermission(t.Context(), f.Org.ID, p.ID)
		must(t, "GetPermission", err)
		equal(t, "permission", got, p)
		infos, err := s.ListAssignments(t.Context(), u.ID)
		must(t, "ListAssignments", err)
		equal(t, "assignments", infos, []store.AssignmentInfo{infoOf(as, p)})
	}},
	{"a signed user creation with a username taken in the org is a conflict, writes nothing and leaves the action unused", func(t *testing.T, s store.Store) {
		f := newAdminFixture(t, s)
		before := worldOf(t, s, f.Org.ID, f.Action.ID)
		in := invitation(nil, newUser("us-3", f.Org.ID, "Bob@Example.com"))
		as := newAssignment("as-3", f.Perm, "us-3")
		in.Assignment = &as

		err := s.CreateUserSigned(t.Context(), signedWith(f.Action, f.Alice, "uj-1", t0), in)
		wantErr(t, "CreateUserSigned", err, store.ErrConflict)
		equal(t, "state after the conflict", worldOf(t, s, f.Org.ID, f.Action.ID), before)
		_, err = s.GetRegistrationCode(t.Context(), "us-3")
		wantErr(t, "GetRegistrationCode of the rejected user", err, store.ErrNotFound)
		infos, err := s.ListAssignments(t.Context(), "us-3")
		must(t, "ListAssignments", err)
		equal(t, "assignments of the rejected user", infos, []store.AssignmentInfo{})
	}},
	{"a signed user creation with an org is refused and writes nothing", func(t *testing.T, s store.Store) {
		f := newAdminFixture(t, s)
		before := worldOf(t, s, f.Org.ID, f.Action.ID)
		o2 := newOrg("or-2")
		in := invitation(&o2, newUser("us-3", o2.ID, "dave@example.com"))

		if err := s.CreateUserSigned(t.Context(), signedWith(f.Action, f.Alice, "uj-1", t0), in); err == nil {
			t.Errorf("CreateUserSigned with an org: got nil error, want one")
		}
		equal(t, "state after the refused creation", worldOf(t, s, f.Org.ID, f.Action.ID), before)
		_, err := s.GetOrg(t.Context(), o2.ID)
		wantErr(t, "GetOrg of the refused org", err, store.ErrNotFound)
	}},
	{"list users returns the org's users oldest first, a page at a time", func(t *testing.T, s store.Store) {
		o, alice := seed(t, s) // at t0
		d := addUserAt(t, s, "us-d", o.ID, at(4*time.Minute))
		b := addUserAt(t, s, "us-b", o.ID, at(2*time.Minute))
		a := addUserAt(t, s, "us-a", o.ID, at(time.Minute))
		c := addUserAt(t, s, "us-c", o.ID, at(3*time.Minute))
		otherOrg(t, s)

		all, err := s.ListUsers(t.Context(), store.UserQuery{OrgID: o.ID, Limit: 10})
		must(t, "ListUsers", err)
		equal(t, "users", all, []store.User{alice, a, b, c, d})
		pages := pageThrough(t, listUserIDs(s, t, store.UserQuery{OrgID: o.ID}))
		equal(t, "pages of 2", pages, [][]string{{alice.ID, a.ID}, {b.ID, c.ID}, {d.ID}})
		// A limit of zero (or less) is no limit, as for audit entries.
		unlimited, err := s.ListUsers(t.Context(), store.UserQuery{OrgID: o.ID})
		must(t, "ListUsers without a limit", err)
		equal(t, "users without a limit", unlimited, all)
	}},
	{"list users pages through users created at the same instant without repeats or gaps", func(t *testing.T, s store.Store) {
		o, _ := seed(t, s) // at t0
		for _, id := range []string{"us-e", "us-a", "us-d", "us-b"} {
			created := t0
			if id == "us-b" {
				created = at(time.Second)
			}
			addUserAt(t, s, id, o.ID, created)
		}

		all, err := s.ListUsers(t.Context(), store.UserQuery{OrgID: o.ID})
		must(t, "ListUsers", err)
		if len(all) != 5 || all[4].ID != "us-b" {
			t.Fatalf("ListUsers: got %v, want the 5 users with us-b last", ids(all, userID))
		}
		pages := pageThrough(t, listUserIDs(s, t, store.UserQuery{OrgID: o.ID}))
		want := ids(all, userID)
		equal(t, "pages of 2", pages, [][]string{want[0:2], want[2:4], want[4:5]})
	}},
	{"list users filters by kind and by being a service account", func(t *testing.T, s store.Store) {
		o, alice := seed(t, s)
		end := newUser("us-end", o.ID, "end@example.com")
		end.Kind, end.CreatedAt = store.KindEndUser, at(time.Minute)
		mustInvite(t, s, invitation(nil, end))
		sa := newServiceAccount("us-sa", o.ID, "Deployer")
		sa.CreatedAt = at(2 * time.Minute)
		tk := newAccessToken("to-sa", sa)
		tk.Kind = store.TokenServiceAccount
		mustCreateServiceAccount(t, s, alice, sa, tk, newKey(tk, "key-to-sa"), nil)

		cases := []struct {
			what string
			q    store.UserQuery
			want []store.User
		}{
			{"all", store.UserQuery{OrgID: o.ID}, []store.User{alice, end, sa}},
			{"employees", store.UserQuery{OrgID: o.ID, Kind: store.KindCustomerEmployee}, []store.User{alice, sa}},
			{"end users", store.UserQuery{OrgID: o.ID, Kind: store.KindEndUser}, []store.User{end}},
			{"service accounts", store.UserQuery{OrgID: o.ID, ServiceAccounts: ptr(true)}, []store.User{sa}},
			{"people", store.UserQuery{OrgID: o.ID, ServiceAccounts: ptr(false)}, []store.User{alice, end}},
			{"employed people", store.UserQuery{OrgID: o.ID, Kind: store.KindCustomerEmployee, ServiceAccounts: ptr(false)}, []store.User{alice}},
			{"service accounts after the first", store.UserQuery{OrgID: o.ID, ServiceAccounts: ptr(true), After: alice.ID}, []store.User{sa}},
			{"another org", store.UserQuery{OrgID: "or-unknown"}, []store.User{}},
		}
		for _, c := range cases {
			got, err := s.ListUsers(t.Context(), c.q)
			must(t, "ListUsers of "+c.what, err)
			equal(t, "users: "+c.what, got, c.want)
		}
	}},
	{"list users leaves archived users out unless asked for them", func(t *testing.T, s store.Store) {
		f := newAdminFixture(t, s)
		carl := addUserAt(t, s, "us-3", f.Org.ID, at(time.Minute))
		must(t, "archive bob", s.UpdateUserSigned(t.Context(), signedWith(f.Action, f.Alice, "uj-1", t0),
			f.Org.ID, f.Bob.ID, store.UserPatch{IsArchived: ptr(true)}))
		bob := f.Bob
		bob.IsArchived, bob.IsActive = true, false

		got, err := s.ListUsers(t.Context(), store.UserQuery{OrgID: f.Org.ID})
		must(t, "ListUsers", err)
		equal(t, "users", got, []store.User{f.Alice, carl})
		got, err = s.ListUsers(t.Context(), store.UserQuery{OrgID: f.Org.ID, IncludeArchived: true})
		must(t, "ListUsers with the archived", err)
		equal(t, "users with the archived", got, []store.User{f.Alice, bob, carl})
		// An archived user still marks a page's end.
		got, err = s.ListUsers(t.Context(), store.UserQuery{OrgID: f.Org.ID, After: bob.ID})
		must(t, "ListUsers after the archived user", err)
		equal(t, "users after the archived user", got, []store.User{carl})
	}},
	{"list users after an unknown user or a user of another org is not found, after the last one empty", func(t *testing.T, s store.Store) {
		o, alice := seed(t, s)
		_, carol := otherOrg(t, s)
		for _, after := range []string{"us-unknown", carol.ID} {
			_, err := s.ListUsers(t.Context(), store.UserQuery{OrgID: o.ID, After: after, Limit: 2})
			wantErr(t, "ListUsers after "+after, err, store.ErrNotFound)
		}
		got, err := s.ListUsers(t.Context(), store.UserQuery{OrgID: o.ID, After: alice.ID, Limit: 2})
		must(t, "ListUsers after the last user", err)
		if got == nil || len(got) != 0 {
			t.Errorf("ListUsers after the last user: got %#v, want an empty non-nil slice", got)
		}
	}},
	{"a signed user update changes each field alone", func(t *testing.T, s store.Store) {
		f := newAdminFixture(t, s)
		want := f.Bob
		steps := []struct {
			what  string
			patch store.UserPatch
			apply func(*store.User)
		}{
			{"rename", store.UserPatch{Name: ptr("Robert")}, func(u *store.User) { u.Name = "Robert" }},
			{"external id", store.UserPatch{ExternalID: ptr("hr-42")}, func(u *store.User) { u.ExternalID = "hr-42" }},
			{"require SSO", store.UserPatch{IsSSORequired: ptr(true)}, func(u *store.User) { u.IsSSORequired = true }},
			{"deactivate", store.UserPatch{IsActive: ptr(false)}, func(u *store.User) { u.IsActive = false }},
			{"activate", store.UserPatch{IsActive: ptr(true)}, func(u *store.User) { u.IsActive = true }},
			{"stop requiring SSO", store.UserPatch{IsSSORequired: ptr(false)}, func(u *store.User) { u.IsSSORequired = false }},
			{"empty patch", store.UserPatch{}, func(*store.User) {}},
		}
		for i, step := range steps {
			sg := signedNew(t, s, f.Alice, fmt.Sprintf("step-%d", i), at(time.Duration(i)*time.Second))
			must(t, step.what, s.UpdateUserSigned(t.Context(), sg, f.Org.ID, f.Bob.ID, step.patch))
			step.apply(&want)
			got, err := s.GetUser(t.Context(), f.Bob.ID)
			must(t, "GetUser after "+step.what, err)
			equal(t, "user after "+step.what, got, want)
		}
		got, err := s.GetUser(t.Context(), f.Alice.ID)
		must(t, "GetUser of alice", err)
		equal(t, "alice after bob's updates", got, f.Alice)
	}},
	{"archiving a user also deactivates it, and unarchiving leaves it inactive", func(t *testing.T, s store.Store) {
		f := newAdminFixture(t, s)
		must(t, "archive", s.UpdateUserSigned(t.Context(), signedWith(f.Action, f.Alice, "uj-1", t0),
			f.Org.ID, f.Bob.ID, store.UserPatch{IsArchived: ptr(true), IsActive: ptr(true)}))
		want := f.Bob
		want.IsArchived, want.IsActive = true, false
		got, err := s.GetUser(t.Context(), f.Bob.ID)
		must(t, "GetUser", err)
		equal(t, "archived user", got, want)

		must(t, "unarchive", s.UpdateUserSigned(t.Context(), signedNew(t, s, f.Alice, "unarchive", t0),
			f.Org.ID, f.Bob.ID, store.UserPatch{IsArchived: ptr(false)}))
		want.IsArchived = false
		got, err = s.GetUser(t.Context(), f.Bob.ID)
		must(t, "GetUser", err)
		equal(t, "unarchived user", got, want)
	}},
	{"a signed update of another org's or an unknown user is not found and leaves the action unused", func(t *testing.T, s store.Store) {
		f := newAdminFixture(t, s)
		o2, carol := otherOrg(t, s)
		before := worldOf(t, s, f.Org.ID, f.Action.ID)
		beforeOther := worldOf(t, s, o2.ID)

		patch := store.UserPatch{Name: ptr("mine now"), IsArchived: ptr(true)}
		for _, c := range []struct{ org, id string }{{f.Org.ID, carol.ID}, {o2.ID, f.Bob.ID}, {f.Org.ID, "us-unknown"}} {
			err := s.UpdateUserSigned(t.Context(), signedWith(f.Action, f.Alice, "uj-1", t0), c.org, c.id, patch)
			wantErr(t, "UpdateUserSigned of "+c.id+" in "+c.org, err, store.ErrNotFound)
		}
		equal(t, "state after the refused updates", worldOf(t, s, f.Org.ID, f.Action.ID), before)
		equal(t, "other org after the refused updates", worldOf(t, s, o2.ID), beforeOther)
	}},
}
