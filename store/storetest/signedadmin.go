package storetest

import (
	"context"
	"reflect"
	"testing"
	"time"

	"countersign/store"
)

// adminChange is one signed change of machine identities, users or
// permissions, applied to newAdminFixture's org. Each one succeeds on a
// fresh fixture, whichever other change was made before it.
type adminChange struct {
	name  string // a noun phrase the subtest names start with
	apply func(ctx context.Context, s store.Store, sg store.Signed, f adminFixture) error
}

var adminChanges = []adminChange{
	{"a signed access token creation", func(ctx context.Context, s store.Store, sg store.Signed, f adminFixture) error {
		tk := newAccessToken("to-new", f.Bob)
		a := newAssignment("as-to-new", f.Perm, tk.ID)
		return s.CreateAccessTokenSigned(ctx, sg, tk, newKey(tk, "key-to-new"), &a)
	}},
	{"a signed service account creation", func(ctx context.Context, s store.Store, sg store.Signed, f adminFixture) error {
		sa := newServiceAccount("us-sa", f.Org.ID, "Deployer")
		tk := newAccessToken("to-sa", sa)
		tk.Kind = store.TokenServiceAccount
		a := newAssignment("as-sa", f.Perm, sa.ID)
		return s.CreateServiceAccountSigned(ctx, sg, sa, tk, newKey(tk, "key-to-sa"), &a)
	}},
	{"a signed access token update", func(ctx context.Context, s store.Store, sg store.Signed, f adminFixture) error {
		return s.UpdateAccessTokenSigned(ctx, sg, f.Org.ID, f.Token.ID, store.AccessTokenPatch{Name: ptr("renamed")})
	}},
	{"a signed user creation", func(ctx context.Context, s store.Store, sg store.Signed, f adminFixture) error {
		in := invitation(nil, newUser("us-new", f.Org.ID, "new@example.com"))
		a := newAssignment("as-new", f.Perm, "us-new")
		in.Assignment = &a
		return s.CreateUserSigned(ctx, sg, in)
	}},
	{"a signed renewal of an invitation", func(ctx context.Context, s store.Store, sg store.Signed, f adminFixture) error {
		return s.RenewRegistrationCodeSigned(ctx, sg, store.RegistrationCode{UserID: f.Bob.ID, CodeHash: hash("renewed"), ExpiresAt: at(48 * time.Hour)})
	}},
	{"a signed user update", func(ctx context.Context, s store.Store, sg store.Signed, f adminFixture) error {
		return s.UpdateUserSigned(ctx, sg, f.Org.ID, f.Bob.ID, store.UserPatch{IsArchived: ptr(true)})
	}},
	{"a signed permission creation", func(ctx context.Context, s store.Store, sg store.Signed, f adminFixture) error {
		return s.CreatePermissionSigned(ctx, sg, newPermission("pm-new", f.Org.ID, "New"))
	}},
	{"a signed permission update", func(ctx context.Context, s store.Store, sg store.Signed, f adminFixture) error {
		return s.UpdatePermissionSigned(ctx, sg, f.Org.ID, f.Perm.ID, store.PermissionPatch{Operations: ptr([]string{"Auth:Logs:Read"})})
	}},
	{"a signed assignment creation", func(ctx context.Context, s store.Store, sg store.Signed, f adminFixture) error {
		return s.CreateAssignmentSigned(ctx, sg, newAssignment("as-bob", f.Perm, f.Bob.ID))
	}},
	{"a signed assignment deletion", func(ctx context.Context, s store.Store, sg store.Signed, f adminFixture) error {
		return s.DeleteAssignmentSigned(ctx, sg, f.Org.ID, f.Perm.ID, f.Assignment.ID)
	}},
}

// adminChangeTests are, for each adminChange, the behaviours every signed
// change shares: made with the use of its action and its audit entry, or,
// when the action is used, expired or unknown, nothing is written at all.
var adminChangeTests = adminChangeTestsFor(adminChanges)

func adminChangeTestsFor(changes []adminChange) []test {
	var tests []test
	for i, ch := range changes {
		// other burns the action in the reuse test: a different change,
		// so that a second write would show.
		other := changes[(i+1)%len(changes)]
		tests = append(tests,
			test{ch.name + " changes the org, uses the action and records the audit entry", func(t *testing.T, s store.Store) {
				f := newAdminFixture(t, s)
				before := worldOf(t, s, f.Org.ID, f.Action.ID)
				now := at(time.Minute)
				sg := signedWith(f.Action, f.Alice, "uj-1", now)
				must(t, "signed change", ch.apply(t.Context(), s, sg, f))

				after := worldOf(t, s, f.Org.ID, f.Action.ID)
				wantAction := f.Action
				wantAction.UsedAt = ptr(now)
				equal(t, "user action", after.Actions, []store.UserAction{wantAction})
				equal(t, "audit entries", after.Audit, append(before.Audit, sg.Audit))
				// Everything else changed somehow (each change's own tests say how).
				after.Actions, after.Audit = before.Actions, before.Audit
				if equalWorlds(after, before) {
					t.Errorf("the org is as it was before the change")
				}
			}},
			test{ch.name + " with a used action is refused and changes nothing", func(t *testing.T, s store.Store) {
				f := newAdminFixture(t, s)
				must(t, "first signed change", other.apply(t.Context(), s, signedWith(f.Action, f.Alice, "uj-1", t0), f))
				before := worldOf(t, s, f.Org.ID, f.Action.ID)

				err := ch.apply(t.Context(), s, signedWith(f.Action, f.Alice, "uj-2", at(time.Minute)), f)
				wantErr(t, "second signed change", err, store.ErrActionUsed)
				equal(t, "state after the refused change", worldOf(t, s, f.Org.ID, f.Action.ID), before)
			}},
			test{ch.name + " with an expired or unknown action is refused and changes nothing", func(t *testing.T, s store.Store) {
				f := newAdminFixture(t, s)
				before := worldOf(t, s, f.Org.ID, f.Action.ID)

				// The action expires at this very instant: expired.
				err := ch.apply(t.Context(), s, signedWith(f.Action, f.Alice, "uj-1", f.Action.ExpiresAt), f)
				wantErr(t, "signed change with an expired action", err, store.ErrActionUsed)
				unknown := f.Action
				unknown.ID = "ua-unknown"
				err = ch.apply(t.Context(), s, signedWith(unknown, f.Alice, "uj-1", t0), f)
				wantErr(t, "signed change with an unknown action", err, store.ErrActionUsed)
				equal(t, "state after the refused changes", worldOf(t, s, f.Org.ID, f.Action.ID), before)
			}},
		)
	}
	return tests
}

// equalWorlds reports whether two snapshots are the same, without
// reporting anything.
func equalWorlds(a, b world) bool {
	return reflect.DeepEqual(canon(reflect.ValueOf(a)).Interface(), canon(reflect.ValueOf(b)).Interface())
}
