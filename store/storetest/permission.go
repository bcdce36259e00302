package storetest

import (
	"fmt"
	"testing"
	"time"

	"countersign/store"
)

// immutableFixture adds to f an owner, us-3, invited with the immutable
// permission pm-admin and its immutable assignment as-admin, as the
// invitation of an org's owner writes them.
func immutableFixture(t *testing.T, s store.Store, f adminFixture) (store.Permission, store.Assignment) {
	t.Helper()
	p := newPermission("pm-admin", f.Org.ID, "DfnsFullAdminAccess")
	p.IsImmutable = true
	a := newAssignment("as-admin", p, "us-3")
	a.IsImmutable = true
	in := invitation(nil, newUser("us-3", f.Org.ID, "owner@example.com"))
	in.Permission, in.Assignment = &p, &a
	mustInvite(t, s, in)
	return p, a
}

var permissionTests = []test{
	{"a signed permission creation is returned by get", func(t *testing.T, s store.Store) {
		f := newAdminFixture(t, s)
		before := worldOf(t, s, f.Org.ID)
		p := newPermission("pm-2", f.Org.ID, "Auditors")
		p.Operations = []string{"Auth:Logs:Read"}
		p.CreatedAt, p.UpdatedAt = at(time.Minute), at(2*time.Minute)
		sg := signedWith(f.Action, f.Alice, "uj-1", at(time.Minute))
		must(t, "CreatePermissionSigned", s.CreatePermissionSigned(t.Context(), sg, p))

		got, err := s.GetPermission(t.Context(), f.Org.ID, p.ID)
		must(t, "GetPermission", err)
		equal(t, "permission", got, p)
		action, err := s.GetUserAction(t.Context(), f.Action.ID)
		must(t, "GetUserAction", err)
		equal(t, "action UsedAt", action.UsedAt, ptr(sg.Now))
		equal(t, "audit entries", allAudit(t, s, f.Org.ID), append(before.Audit, sg.Audit))
	}},
	{"a permission of another org or an unknown id is not found", func(t *testing.T, s store.Store) {
		f := newAdminFixture(t, s)
		o2, _ := otherOrg(t, s)
		_, err := s.GetPermission(t.Context(), o2.ID, f.Perm.ID)
		wantErr(t, "GetPermission from another org", err, store.ErrNotFound)
		_, err = s.GetPermission(t.Context(), f.Org.ID, "pm-unknown")
		wantErr(t, "GetPermission of an unknown id", err, store.ErrNotFound)
	}},
	{"a permission name taken in the org, archived or not, is a conflict and leaves the action unused", func(t *testing.T, s store.Store) {
		f := newAdminFixture(t, s)
		archived := newPermission("pm-old", f.Org.ID, "Retired")
		archived.IsArchived = true
		mustCreatePermission(t, s, f.Alice, archived)
		before := worldOf(t, s, f.Org.ID, f.Action.ID)

		for _, name := range []string{f.Perm.Name, archived.Name} {
			err := s.CreatePermissionSigned(t.Context(), signedWith(f.Action, f.Alice, "uj-1", t0), newPermission("pm-2", f.Org.ID, name))
			wantErr(t, "CreatePermissionSigned named "+name, err, store.ErrConflict)
			equal(t, "state after the conflict", worldOf(t, s, f.Org.ID, f.Action.ID), before)
		}
		must(t, "CreatePermissionSigned with a free name and the same action", s.CreatePermissionSigned(t.Context(),
			signedWith(f.Action, f.Alice, "uj-1", t0), newPermission("pm-2", f.Org.ID, "Free")))
	}},
	{"the same permission name may exist in two orgs", func(t *testing.T, s store.Store) {
		f := newAdminFixture(t, s)
		o2, carol := otherOrg(t, s)
		p := newPermission("pm-9", o2.ID, f.Perm.Name)
		mustCreatePermission(t, s, carol, p)
		for _, want := range []store.Permission{f.Perm, p} {
			got, err := s.GetPermission(t.Context(), want.OrgID, want.ID)
			must(t, "GetPermission", err)
			equal(t, "permission of "+want.OrgID, got, want)
		}
	}},
	{"list permissions returns the org's permissions, archived ones too, oldest first, a page at a time", func(t *testing.T, s store.Store) {
		o, alice := seed(t, s)
		var want []store.Permission
		for i, name := range []string{"d", "b", "a", "e", "c"} {
			p := newPermission("pm-"+name, o.ID, "Perm "+name)
			p.CreatedAt = at(time.Duration(name[0]-'a') * time.Minute)
			p.IsArchived = i == 1
			mustCreatePermission(t, s, alice, p)
			want = append(want, p)
		}
		want = []store.Permission{want[2], want[1], want[4], want[0], want[3]} // a b c d e
		_, carol := otherOrg(t, s)
		mustCreatePermission(t, s, carol, newPermission("pm-9", "or-2", "Perm a"))

		all, err := s.ListPermissions(t.Context(), store.PageQuery{OrgID: o.ID, Limit: 10})
		must(t, "ListPermissions", err)
		equal(t, "permissions", all, want)
		pages := pageThrough(t, func(after string, limit int) ([]string, error) {
			ps, err := s.ListPermissions(t.Context(), store.PageQuery{OrgID: o.ID, After: after, Limit: limit})
			return ids(ps, permissionID), err
		})
		equal(t, "pages of 2", pages, [][]string{{"pm-a", "pm-b"}, {"pm-c", "pm-d"}, {"pm-e"}})
		unlimited, err := s.ListPermissions(t.Context(), store.PageQuery{OrgID: o.ID})
		must(t, "ListPermissions without a limit", err)
		equal(t, "permissions without a limit", unlimited, want)
	}},
	{"list permissions pages through permissions created at the same instant without repeats or gaps", func(t *testing.T, s store.Store) {
		o, alice := seed(t, s)
		for _, id := range []string{"pm-e", "pm-a", "pm-d", "pm-b", "pm-c"} {
			mustCreatePermission(t, s, alice, newPermission(id, o.ID, id))
		}
		all, err := s.ListPermissions(t.Context(), store.PageQuery{OrgID: o.ID})
		must(t, "ListPermissions", err)
		equal(t, "number of permissions", len(all), 5)
		want := ids(all, permissionID)
		pages := pageThrough(t, func(after string, limit int) ([]string, error) {
			ps, err := s.ListPermissions(t.Context(), store.PageQuery{OrgID: o.ID, After: after, Limit: limit})
			return ids(ps, permissionID), err
		})
		equal(t, "pages of 2", pages, [][]string{want[0:2], want[2:4], want[4:5]})
	}},
	{"list permissions after an unknown permission or one of another org is not found, of an org without any empty", func(t *testing.T, s store.Store) {
		f := newAdminFixture(t, s)
		o2, _ := otherOrg(t, s)
		for _, after := range []string{"pm-unknown", f.Assignment.ID} {
			_, err := s.ListPermissions(t.Context(), store.PageQuery{OrgID: f.Org.ID, After: after, Limit: 2})
			wantErr(t, "ListPermissions after "+after, err, store.ErrNotFound)
		}
		_, err := s.ListPermissions(t.Context(), store.PageQuery{OrgID: o2.ID, After: f.Perm.ID, Limit: 2})
		wantErr(t, "ListPermissions of or-2 after a permission of or-1", err, store.ErrNotFound)
		got, err := s.ListPermissions(t.Context(), store.PageQuery{OrgID: o2.ID, Limit: 2})
		must(t, "ListPermissions of an org without any", err)
		if got == nil || len(got) != 0 {
			t.Errorf("ListPermissions of an org without any: got %#v, want an empty non-nil slice", got)
		}
	}},
	{"a signed permission update changes the name and the operations and when it was updated", func(t *testing.T, s store.Store) {
		f := newAdminFixture(t, s)
		want := f.Perm
		steps := []struct {
			what  string
			patch store.PermissionPatch
			apply func(*store.Permission)
		}{
			{"rename", store.PermissionPatch{Name: ptr("Viewers")}, func(p *store.Permission) { p.Name = "Viewers" }},
			{"operations", store.PermissionPatch{Operations: ptr([]string{"Auth:Logs:Read"})},
				func(p *store.Permission) { p.Operations = []string{"Auth:Logs:Read"} }},
			{"both", store.PermissionPatch{Name: ptr("Both"), Operations: ptr([]string{"A", "B"})},
				func(p *store.Permission) { p.Name, p.Operations = "Both", []string{"A", "B"} }},
			{"rename to its own name", store.PermissionPatch{Name: ptr("Both")}, func(*store.Permission) {}},
		}
		for i, step := range steps {
			now := at(time.Duration(i+1) * time.Minute)
			sg := signedNew(t, s, f.Alice, fmt.Sprintf("step-%d", i), now)
			must(t, step.what, s.UpdatePermissionSigned(t.Context(), sg, f.Org.ID, f.Perm.ID, step.patch))
			step.apply(&want)
			want.UpdatedAt = now
			got, err := s.GetPermission(t.Context(), f.Org.ID, f.Perm.ID)
			must(t, "GetPermission after "+step.what, err)
			equal(t, "permission after "+step.what, got, want)
		}
		infos, err := s.ListAssignments(t.Context(), f.Alice.ID)
		must(t, "ListAssignments", err)
		equal(t, "alice's assignments", infos, []store.AssignmentInfo{infoOf(f.Assignment, want)})
	}},
	{"an archived permission is no longer assigned until it is unarchived", func(t *testing.T, s store.Store) {
		f := newAdminFixture(t, s)
		must(t, "archive", s.UpdatePermissionSigned(t.Context(), signedWith(f.Action, f.Alice, "uj-1", at(time.Minute)),
			f.Org.ID, f.Perm.ID, store.PermissionPatch{IsArchived: ptr(true)}))
		want := f.Perm
		want.IsArchived, want.UpdatedAt = true, at(time.Minute)
		got, err := s.GetPermission(t.Context(), f.Org.ID, f.Perm.ID)
		must(t, "GetPermission", err)
		equal(t, "archived permission", got, want)
		infos, err := s.ListAssignments(t.Context(), f.Alice.ID)
		must(t, "ListAssignments", err)
		equal(t, "assignments with the permission archived", infos, []store.AssignmentInfo{})
		// The assignment itself stays.
		as, err := s.ListPermissionAssignments(t.Context(), store.PageQuery{OrgID: f.Org.ID}, f.Perm.ID)
		must(t, "ListPermissionAssignments", err)
		equal(t, "assignments of the archived permission", as, []store.Assignment{f.Assignment})

		must(t, "unarchive", s.UpdatePermissionSigned(t.Context(), signedNew(t, s, f.Alice, "unarchive", at(2*time.Minute)),
			f.Org.ID, f.Perm.ID, store.PermissionPatch{IsArchived: ptr(false)}))
		infos, err = s.ListAssignments(t.Context(), f.Alice.ID)
		must(t, "ListAssignments", err)
		equal(t, "assignments with the permission unarchived", infos, []store.AssignmentInfo{infoOf(f.Assignment, f.Perm)})
	}},
	{"a signed update of an immutable permission is refused and leaves the action unused", func(t *testing.T, s store.Store) {
		f := newAdminFixture(t, s)
		p, _ := immutableFixture(t, s, f)
		before := worldOf(t, s, f.Org.ID, f.Action.ID)

		for _, patch := range []store.PermissionPatch{
			{Name: ptr("Mine")},
			{Operations: ptr([]string{"A"})},
			{IsArchived: ptr(true)},
			{},
		} {
			err := s.UpdatePermissionSigned(t.Context(), signedWith(f.Action, f.Alice, "uj-1", t0), f.Org.ID, p.ID, patch)
			wantErr(t, fmt.Sprintf("UpdatePermissionSigned %+v", patch), err, store.ErrImmutable)
		}
		equal(t, "state after the refused updates", worldOf(t, s, f.Org.ID, f.Action.ID), before)
	}},
	{"a signed permission rename to a name taken in the org is a conflict and leaves the action unused", func(t *testing.T, s store.Store) {
		f := newAdminFixture(t, s)
		archived := newPermission("pm-old", f.Org.ID, "Retired")
		archived.IsArchived = true
		mustCreatePermission(t, s, f.Alice, archived)
		other := newPermission("pm-2", f.Org.ID, "Writers")
		mustCreatePermission(t, s, f.Alice, other)
		before := worldOf(t, s, f.Org.ID, f.Action.ID)

		for _, name := range []string{other.Name, archived.Name} {
			err := s.UpdatePermissionSigned(t.Context(), signedWith(f.Action, f.Alice, "uj-1", t0),
				f.Org.ID, f.Perm.ID, store.PermissionPatch{Name: ptr(name), Operations: ptr([]string{"X"})})
			wantErr(t, "UpdatePermissionSigned to "+name, err, store.ErrConflict)
		}
		equal(t, "state after the conflicts", worldOf(t, s, f.Org.ID, f.Action.ID), before)
	}},
	{"a signed update of another org's or an unknown permission is not found and leaves the action unused", func(t *testing.T, s store.Store) {
		f := newAdminFixture(t, s)
		o2, carol := otherOrg(t, s)
		theirs := newPermission("pm-9", o2.ID, "Theirs")
		mustCreatePermission(t, s, carol, theirs)
		before := worldOf(t, s, f.Org.ID, f.Action.ID)
		beforeOther := worldOf(t, s, o2.ID)

		patch := store.PermissionPatch{Name: ptr("Mine"), IsArchived: ptr(true)}
		for _, c := range []struct{ org, id string }{{f.Org.ID, theirs.ID}, {o2.ID, f.Perm.ID}, {f.Org.ID, "pm-unknown"}} {
			err := s.UpdatePermissionSigned(t.Context(), signedWith(f.Action, f.Alice, "uj-1", t0), c.org, c.id, patch)
			wantErr(t, "UpdatePermissionSigned of "+c.id+" in "+c.org, err, store.ErrNotFound)
		}
		equal(t, "state after the refused updates", worldOf(t, s, f.Org.ID, f.Action.ID), before)
		equal(t, "other org after the refused updates", worldOf(t, s, o2.ID), beforeOther)
	}},
}

var permissionAssignmentTests = []test{
	{"a signed assignment is listed for the permission and for the identity", func(t *testing.T, s store.Store) {
		f := newAdminFixture(t, s)
		toToken := newAssignment("as-tok", f.Perm, f.Token.ID)
		toToken.CreatedAt, toToken.UpdatedAt = at(2*time.Minute), at(2*time.Minute)
		mustCreateAssignment(t, s, f.Alice, toToken)
		before := worldOf(t, s, f.Org.ID)
		toBob := newAssignment("as-bob", f.Perm, f.Bob.ID)
		toBob.CreatedAt, toBob.UpdatedAt = at(time.Minute), at(time.Minute)
		sg := signedWith(f.Action, f.Alice, "uj-1", at(3*time.Minute))
		must(t, "CreateAssignmentSigned to bob", s.CreateAssignmentSigned(t.Context(), sg, toBob))

		got, err := s.ListPermissionAssignments(t.Context(), store.PageQuery{OrgID: f.Org.ID}, f.Perm.ID)
		must(t, "ListPermissionAssignments", err)
		equal(t, "assignments of the permission", got, []store.Assignment{f.Assignment, toBob, toToken})
		for _, a := range []store.Assignment{toBob, toToken} {
			infos, err := s.ListAssignments(t.Context(), a.IdentityID)
			must(t, "ListAssignments of "+a.IdentityID, err)
			equal(t, "assignments of "+a.IdentityID, infos, []store.AssignmentInfo{infoOf(a, f.Perm)})
		}
		action, err := s.GetUserAction(t.Context(), f.Action.ID)
		must(t, "GetUserAction", err)
		equal(t, "action UsedAt", action.UsedAt, ptr(sg.Now))
		equal(t, "audit entries", allAudit(t, s, f.Org.ID), append(before.Audit, sg.Audit))
	}},
	{"assigning a permission the identity already holds is a conflict and leaves the action unused", func(t *testing.T, s store.Store) {
		f := newAdminFixture(t, s)
		before := worldOf(t, s, f.Org.ID, f.Action.ID)
		err := s.CreateAssignmentSigned(t.Context(), signedWith(f.Action, f.Alice, "uj-1", t0),
			newAssignment("as-2", f.Perm, f.Alice.ID))
		wantErr(t, "CreateAssignmentSigned", err, store.ErrConflict)
		equal(t, "state after the conflict", worldOf(t, s, f.Org.ID, f.Action.ID), before)
	}},
	{"assigning a permission of another org, or to an identity outside the org, is not found and leaves the action unused", func(t *testing.T, s store.Store) {
		f := newAdminFixture(t, s)
		o2, carol := otherOrg(t, s)
		theirs := newPermission("pm-9", o2.ID, "Theirs")
		mustCreatePermission(t, s, carol, theirs)
		carols := newAccessToken("to-9", carol)
		mustCreateAccessToken(t, s, carol, carols, newKey(carols, "key-to-9"), nil)
		before := worldOf(t, s, f.Org.ID, f.Action.ID)
		beforeOther := worldOf(t, s, o2.ID)

		theirsToBob := newAssignment("as-2", theirs, f.Bob.ID)
		theirsToBob.OrgID = f.Org.ID // claimed in or-1, but pm-9 is or-2's
		for _, a := range []store.Assignment{
			theirsToBob,
			newAssignment("as-2", f.Perm, carol.ID),
			newAssignment("as-2", f.Perm, carols.ID),
			newAssignment("as-2", f.Perm, "us-unknown"),
			newAssignment("as-2", newPermission("pm-unknown", f.Org.ID, "?"), f.Bob.ID),
		} {
			err := s.CreateAssignmentSigned(t.Context(), signedWith(f.Action, f.Alice, "uj-1", t0), a)
			wantErr(t, "CreateAssignmentSigned of "+a.PermissionID+" to "+a.IdentityID, err, store.ErrNotFound)
		}
		equal(t, "state after the refused assignments", worldOf(t, s, f.Org.ID, f.Action.ID), before)
		equal(t, "other org after the refused assignments", worldOf(t, s, o2.ID), beforeOther)
	}},
	{"list permission assignments pages oldest first", func(t *testing.T, s store.Store) {
		f := newAdminFixture(t, s) // as-1 at t0
		other := newPermission("pm-2", f.Org.ID, "Other")
		mustCreatePermission(t, s, f.Alice, other)
		mustCreateAssignment(t, s, f.Alice, newAssignment("as-other", other, f.Bob.ID))
		var want []store.Assignment
		for i, id := range []string{"us-d", "us-b", "us-c", "us-e"} {
			u := addUserAt(t, s, id, f.Org.ID, t0)
			a := newAssignment("as-"+id[3:], f.Perm, u.ID)
			a.CreatedAt = at(time.Duration(4-i) * time.Minute) // d, b, c, e at 4, 3, 2, 1 minutes
			a.UpdatedAt = a.CreatedAt
			mustCreateAssignment(t, s, f.Alice, a)
			want = append(want, a)
		}
		want = []store.Assignment{f.Assignment, want[3], want[2], want[1], want[0]}

		all, err := s.ListPermissionAssignments(t.Context(), store.PageQuery{OrgID: f.Org.ID, Limit: 10}, f.Perm.ID)
		must(t, "ListPermissionAssignments", err)
		equal(t, "assignments", all, want)
		pages := pageThrough(t, func(after string, limit int) ([]string, error) {
			as, err := s.ListPermissionAssignments(t.Context(), store.PageQuery{OrgID: f.Org.ID, After: after, Limit: limit}, f.Perm.ID)
			return ids(as, assignmentID), err
		})
		equal(t, "pages of 2", pages, [][]string{{"as-1", "as-e"}, {"as-c", "as-b"}, {"as-d"}})
	}},
	{"list permission assignments of another org's or an unknown permission, or after another permission's assignment, is not found", func(t *testing.T, s store.Store) {
		f := newAdminFixture(t, s)
		o2, _ := otherOrg(t, s)
		other := newPermission("pm-2", f.Org.ID, "Other")
		mustCreatePermission(t, s, f.Alice, other)
		mustCreateAssignment(t, s, f.Alice, newAssignment("as-other", other, f.Bob.ID))

		_, err := s.ListPermissionAssignments(t.Context(), store.PageQuery{OrgID: o2.ID}, f.Perm.ID)
		wantErr(t, "ListPermissionAssignments from another org", err, store.ErrNotFound)
		_, err = s.ListPermissionAssignments(t.Context(), store.PageQuery{OrgID: f.Org.ID}, "pm-unknown")
		wantErr(t, "ListPermissionAssignments of an unknown permission", err, store.ErrNotFound)
		for _, after := range []string{"as-other", "as-unknown"} {
			_, err = s.ListPermissionAssignments(t.Context(), store.PageQuery{OrgID: f.Org.ID, After: after}, f.Perm.ID)
			wantErr(t, "ListPermissionAssignments after "+after, err, store.ErrNotFound)
		}
		got, err := s.ListPermissionAssignments(t.Context(), store.PageQuery{OrgID: f.Org.ID, After: "as-1", Limit: 2}, f.Perm.ID)
		must(t, "ListPermissionAssignments after the last one", err)
		if got == nil || len(got) != 0 {
			t.Errorf("ListPermissionAssignments after the last one: got %#v, want an empty non-nil slice", got)
		}
	}},
	{"a signed assignment deletion revokes it", func(t *testing.T, s store.Store) {
		f := newAdminFixture(t, s)
		before := worldOf(t, s, f.Org.ID)
		sg := signedWith(f.Action, f.Alice, "uj-1", at(time.Minute))
		must(t, "DeleteAssignmentSigned", s.DeleteAssignmentSigned(t.Context(), sg, f.Org.ID, f.Perm.ID, f.Assignment.ID))

		infos, err := s.ListAssignments(t.Context(), f.Alice.ID)
		must(t, "ListAssignments", err)
		equal(t, "alice's assignments", infos, []store.AssignmentInfo{})
		as, err := s.ListPermissionAssignments(t.Context(), store.PageQuery{OrgID: f.Org.ID}, f.Perm.ID)
		must(t, "ListPermissionAssignments", err)
		equal(t, "assignments of the permission", as, []store.Assignment{})
		action, err := s.GetUserAction(t.Context(), f.Action.ID)
		must(t, "GetUserAction", err)
		equal(t, "action UsedAt", action.UsedAt, ptr(sg.Now))
		equal(t, "audit entries", allAudit(t, s, f.Org.ID), append(before.Audit, sg.Audit))

		// Once revoked, it can be assigned again.
		mustCreateAssignment(t, s, f.Alice, newAssignment("as-again", f.Perm, f.Alice.ID))
	}},
	{"deleting an immutable assignment is refused and leaves the action unused", func(t *testing.T, s store.Store) {
		f := newAdminFixture(t, s)
		p, a := immutableFixture(t, s, f)
		before := worldOf(t, s, f.Org.ID, f.Action.ID)
		err := s.DeleteAssignmentSigned(t.Context(), signedWith(f.Action, f.Alice, "uj-1", t0), f.Org.ID, p.ID, a.ID)
		wantErr(t, "DeleteAssignmentSigned", err, store.ErrImmutable)
		equal(t, "state after the refusal", worldOf(t, s, f.Org.ID, f.Action.ID), before)
	}},
	{"deleting an assignment under another permission, of another org or unknown is not found and leaves the action unused", func(t *testing.T, s store.Store) {
		f := newAdminFixture(t, s)
		o2, carol := otherOrg(t, s)
		other := newPermission("pm-2", f.Org.ID, "Other")
		mustCreatePermission(t, s, f.Alice, other)
		theirs := newPermission("pm-9", o2.ID, "Theirs")
		mustCreatePermission(t, s, carol, theirs)
		theirsAs := newAssignment("as-9", theirs, carol.ID)
		mustCreateAssignment(t, s, carol, theirsAs)
		before := worldOf(t, s, f.Org.ID, f.Action.ID)
		beforeOther := worldOf(t, s, o2.ID)

		for _, c := range []struct{ org, perm, id string }{
			{f.Org.ID, other.ID, f.Assignment.ID},
			{o2.ID, f.Perm.ID, f.Assignment.ID},
			{f.Org.ID, theirs.ID, theirsAs.ID},
			{f.Org.ID, f.Perm.ID, "as-unknown"},
		} {
			err := s.DeleteAssignmentSigned(t.Context(), signedWith(f.Action, f.Alice, "uj-1", t0), c.org, c.perm, c.id)
			wantErr(t, "DeleteAssignmentSigned of "+c.id+" under "+c.perm+" in "+c.org, err, store.ErrNotFound)
		}
		equal(t, "state after the refusals", worldOf(t, s, f.Org.ID, f.Action.ID), before)
		equal(t, "other org after the refusals", worldOf(t, s, o2.ID), beforeOther)
	}},
}
