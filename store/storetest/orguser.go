package storetest

import (
	"testing"
	"time"

	"countersign/store"
)

var orgUserTests = []test{
	{"invite creates the org, the user and the registration code", func(t *testing.T, s store.Store) {
		o, u := newOrg("or-1"), newUser("us-1", "or-1", "alice@example.com")
		mustInvite(t, s, invitation(&o, u))

		gotOrg, err := s.GetOrg(t.Context(), o.ID)
		must(t, "GetOrg", err)
		equal(t, "org", gotOrg, o)
		gotUser, err := s.GetUser(t.Context(), u.ID)
		must(t, "GetUser", err)
		equal(t, "user", gotUser, u)
		code, err := s.GetRegistrationCode(t.Context(), u.ID)
		must(t, "GetRegistrationCode", err)
		equal(t, "registration code", code, codeOf(u.ID))
	}},
	{"invite without an org adds the user to an existing org", func(t *testing.T, s store.Store) {
		o, _ := seed(t, s)
		u := newUser("us-2", o.ID, "bob@example.com")
		u.Kind = store.KindEndUser
		u.IsActive = false
		u.IsServiceAccount = true
		mustInvite(t, s, invitation(nil, u))

		got, err := s.GetUser(t.Context(), u.ID)
		must(t, "GetUser", err)
		equal(t, "user", got, u)
		orgs, err := s.ListOrgs(t.Context())
		must(t, "ListOrgs", err)
		equal(t, "orgs", orgs, []store.Org{o})
	}},
	{"invite round-trips the archived, SSO-required and external id fields", func(t *testing.T, s store.Store) {
		o, _ := seed(t, s)
		u := newUser("us-2", o.ID, "bob@example.com")
		u.IsArchived, u.IsSSORequired, u.ExternalID = true, true, "hr-0042"
		mustInvite(t, s, invitation(nil, u))
		v := newUser("us-3", o.ID, "carol@example.com")
		v.IsSSORequired, v.ExternalID = false, ""
		mustInvite(t, s, invitation(nil, v))

		for _, want := range []store.User{u, v} {
			byID, err := s.GetUser(t.Context(), want.ID)
			must(t, "GetUser", err)
			equal(t, "GetUser "+want.ID, byID, want)
			byName, err := s.GetUserByUsername(t.Context(), o.ID, want.Username)
			must(t, "GetUserByUsername", err)
			equal(t, "GetUserByUsername "+want.ID, byName, want)
			byHandle, err := s.GetUserByHandle(t.Context(), want.UserHandle)
			must(t, "GetUserByHandle", err)
			equal(t, "GetUserByHandle "+want.ID, byHandle, want)
		}
	}},
	{"invite with a taken org id is a conflict and writes nothing", func(t *testing.T, s store.Store) {
		o, _ := seed(t, s)
		again := newOrg(o.ID)
		again.Name = "Impostor"
		err := s.Invite(t.Context(), invitation(&again, newUser("us-2", o.ID, "bob@example.com")))
		wantErr(t, "Invite", err, store.ErrConflict)

		_, err = s.GetUser(t.Context(), "us-2")
		wantErr(t, "GetUser of the rejected user", err, store.ErrNotFound)
		got, err := s.GetOrg(t.Context(), o.ID)
		must(t, "GetOrg", err)
		equal(t, "org", got, o)
	}},
	{"invite with a username taken in the org in another case is a conflict and writes nothing", func(t *testing.T, s store.Store) {
		o, _ := seed(t, s)
		in := invitation(nil, newUser("us-2", o.ID, "ALICE@Example.COM"))
		in.Permission = &store.Permission{ID: "pm-1", OrgID: o.ID, Name: "p", Operations: []string{"A"}, CreatedAt: t0, UpdatedAt: t0}
		in.Assignment = &store.Assignment{ID: "as-1", OrgID: o.ID, PermissionID: "pm-1", IdentityID: "us-2", CreatedAt: t0, UpdatedAt: t0}
		err := s.Invite(t.Context(), in)
		wantErr(t, "Invite", err, store.ErrConflict)

		_, err = s.GetUser(t.Context(), "us-2")
		wantErr(t, "GetUser of the rejected user", err, store.ErrNotFound)
		_, err = s.GetRegistrationCode(t.Context(), "us-2")
		wantErr(t, "GetRegistrationCode of the rejected user", err, store.ErrNotFound)
		infos, err := s.ListAssignments(t.Context(), "us-2")
		must(t, "ListAssignments", err)
		equal(t, "assignments of the rejected user", len(infos), 0)
	}},
	{"non-ASCII usernames are compared case-insensitively", func(t *testing.T, s store.Store) {
		o := newOrg("or-1")
		u := newUser("us-1", o.ID, "Zoë.Ünal@example.com")
		mustInvite(t, s, invitation(&o, u))

		got, err := s.GetUserByUsername(t.Context(), o.ID, "ZOË.ÜNAL@EXAMPLE.COM")
		must(t, "GetUserByUsername", err)
		equal(t, "user", got, u)
		err = s.Invite(t.Context(), invitation(nil, newUser("us-2", o.ID, "zoë.ünal@example.com")))
		wantErr(t, "Invite of the same username in lower case", err, store.ErrConflict)
	}},
	{"the same username may exist in two orgs", func(t *testing.T, s store.Store) {
		_, u1 := seed(t, s)
		o2 := newOrg("or-2")
		u2 := newUser("us-2", o2.ID, u1.Username)
		mustInvite(t, s, invitation(&o2, u2))

		for _, want := range []store.User{u1, u2} {
			got, err := s.GetUserByUsername(t.Context(), want.OrgID, want.Username)
			must(t, "GetUserByUsername", err)
			equal(t, "user of "+want.OrgID, got, want)
		}
	}},
	{"invite with a taken user id or user handle is a conflict", func(t *testing.T, s store.Store) {
		o, u := seed(t, s)
		sameID := newUser(u.ID, o.ID, "bob@example.com")
		sameID.UserHandle = "uh-other"
		wantErr(t, "Invite with a taken user id", s.Invite(t.Context(), invitation(nil, sameID)), store.ErrConflict)
		sameHandle := newUser("us-2", o.ID, "bob@example.com")
		sameHandle.UserHandle = u.UserHandle
		wantErr(t, "Invite with a taken user handle", s.Invite(t.Context(), invitation(nil, sameHandle)), store.ErrConflict)
	}},
	{"users are found by id, by username in any case and by handle", func(t *testing.T, s store.Store) {
		o, u := seed(t, s)
		addUser(t, s, "us-2", o.ID, "bob@example.com")

		byID, err := s.GetUser(t.Context(), u.ID)
		must(t, "GetUser", err)
		equal(t, "GetUser", byID, u)
		byName, err := s.GetUserByUsername(t.Context(), o.ID, "Alice@EXAMPLE.com")
		must(t, "GetUserByUsername", err)
		equal(t, "GetUserByUsername", byName, u)
		byHandle, err := s.GetUserByHandle(t.Context(), u.UserHandle)
		must(t, "GetUserByHandle", err)
		equal(t, "GetUserByHandle", byHandle, u)
	}},
	{"unknown users and orgs are not found", func(t *testing.T, s store.Store) {
		o, u := seed(t, s)
		_, err := s.GetUser(t.Context(), "us-unknown")
		wantErr(t, "GetUser", err, store.ErrNotFound)
		_, err = s.GetUserByUsername(t.Context(), o.ID, "nobody@example.com")
		wantErr(t, "GetUserByUsername of an unknown name", err, store.ErrNotFound)
		_, err = s.GetUserByUsername(t.Context(), "or-other", u.Username)
		wantErr(t, "GetUserByUsername in another org", err, store.ErrNotFound)
		_, err = s.GetUserByHandle(t.Context(), "uh-unknown")
		wantErr(t, "GetUserByHandle", err, store.ErrNotFound)
		_, err = s.GetOrg(t.Context(), "or-unknown")
		wantErr(t, "GetOrg", err, store.ErrNotFound)
	}},
	{"list orgs is empty and not nil when there are none", func(t *testing.T, s store.Store) {
		orgs, err := s.ListOrgs(t.Context())
		must(t, "ListOrgs", err)
		if orgs == nil || len(orgs) != 0 {
			t.Errorf("ListOrgs: got %#v, want an empty non-nil slice", orgs)
		}
	}},
	{"list orgs returns every org oldest first", func(t *testing.T, s store.Store) {
		var want []store.Org
		for i, id := range []string{"or-c", "or-a", "or-b"} {
			o := newOrg(id)
			o.CreatedAt = at(time.Duration(i) * time.Minute)
			want = append(want, o)
		}
		for _, i := range []int{2, 0, 1} {
			o := want[i]
			mustInvite(t, s, invitation(&o, newUser("us-"+o.ID, o.ID, "alice@example.com")))
		}
		got, err := s.ListOrgs(t.Context())
		must(t, "ListOrgs", err)
		equal(t, "ListOrgs", got, want)
	}},
}
