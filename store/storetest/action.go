package storetest

import (
	"context"
	"testing"
	"time"

	"countersign/store"
)

var userActionTests = []test{
	{"a user action round-trips every field and starts unused", func(t *testing.T, s store.Store) {
		_, u := seed(t, s)
		a := newUserAction("ua-1", u)
		a.IdentityID = "tk-pat" // signed under a PAT: the identity is the token
		mustCreateUserAction(t, s, a)

		got, err := s.GetUserAction(t.Context(), a.ID)
		must(t, "GetUserAction", err)
		equal(t, "user action", got, a)
		if got.UsedAt != nil {
			t.Errorf("UsedAt: got %s, want nil", got.UsedAt)
		}
	}},
	{"an unknown user action is not found", func(t *testing.T, s store.Store) {
		_, err := s.GetUserAction(t.Context(), "ua-unknown")
		wantErr(t, "GetUserAction", err, store.ErrNotFound)
	}},
	{"a user action reads with the credential that signed it", func(t *testing.T, s store.Store) {
		_, creds, a := signedFixture(t, s)
		gotAction, gotCred, err := s.GetUserActionCredential(t.Context(), a.ID)
		must(t, "GetUserActionCredential", err)
		equal(t, "user action", gotAction, a)
		for _, c := range creds {
			if c.ID == a.CredentialID {
				equal(t, "credential", gotCred, c)
			}
		}
		if gotCred.ID != a.CredentialID {
			t.Errorf("credential %s, want the signer %s", gotCred.ID, a.CredentialID)
		}
		_, _, err = s.GetUserActionCredential(t.Context(), "ua-unknown")
		wantErr(t, "GetUserActionCredential of an unknown action", err, store.ErrNotFound)
	}},
	{"a taken user action id is a conflict", func(t *testing.T, s store.Store) {
		_, u := seed(t, s)
		mustCreateUserAction(t, s, newUserAction("ua-1", u))
		err := s.CreateUserAction(t.Context(), newUserAction("ua-1", u))
		wantErr(t, "CreateUserAction", err, store.ErrConflict)
	}},
}

// signedFixture seeds user us-1 with two active credentials, cr-1 and cr-2
// (so that either may be deactivated), and an unused action ua-1 expiring
// at t0+5m.
func signedFixture(t *testing.T, s store.Store) (store.User, []store.Credential, store.UserAction) {
	t.Helper()
	_, u := seed(t, s)
	creds := []store.Credential{newCredential("cr-1", u, "cred-1"), newCredential("cr-2", u, "cred-2")}
	for _, c := range creds {
		mustCreateCredential(t, s, c)
	}
	a := newUserAction("ua-1", u)
	mustCreateUserAction(t, s, a)
	return u, creds, a
}

// signedState is everything a signed change may write: the user's
// credentials, the org's audit entries, and the fixture's action.
type signedState struct {
	Credentials []store.Credential
	Audit       []store.AuditEntry
	Action      store.UserAction
}

func stateOf(t *testing.T, s store.Store, u store.User, actionID string) signedState {
	t.Helper()
	creds, err := s.ListCredentials(t.Context(), u.ID)
	must(t, "ListCredentials", err)
	a, err := s.GetUserAction(t.Context(), actionID)
	must(t, "GetUserAction", err)
	return signedState{Credentials: creds, Audit: allAudit(t, s, u.OrgID), Action: a}
}

// signedChange is one kind of change a user action authorises, applied to
// signedFixture's user.
type signedChange struct {
	name  string // a noun phrase the subtest names start with
	apply func(ctx context.Context, s store.Store, sg store.Signed, u store.User) error
	// want is the user's credentials after a successful apply.
	want func(u store.User, before []store.Credential) []store.Credential
}

var signedChanges = []signedChange{
	{
		name: "a signed credential creation",
		apply: func(ctx context.Context, s store.Store, sg store.Signed, u store.User) error {
			return s.CreateCredentialSigned(ctx, sg, newCredential("cr-3", u, "cred-3"))
		},
		want: func(u store.User, before []store.Credential) []store.Credential {
			return append(before, newCredential("cr-3", u, "cred-3"))
		},
	},
	{
		name: "a signed deactivation",
		apply: func(ctx context.Context, s store.Store, sg store.Signed, u store.User) error {
			return s.SetCredentialActive(ctx, sg, u.ID, "cr-2", false)
		},
		want: func(_ store.User, before []store.Credential) []store.Credential {
			before[1].IsActive = false
			return before
		},
	},
	{
		name: "a signed rename",
		apply: func(ctx context.Context, s store.Store, sg store.Signed, u store.User) error {
			return s.RenameCredential(ctx, sg, u.ID, "cr-1", "Work laptop")
		},
		want: func(_ store.User, before []store.Credential) []store.Credential {
			before[0].Name = "Work laptop"
			return before
		},
	},
}

// signedChangeTests are the same behaviours for every signed change: it is
// made together with the use of its action and its audit entry, or, when
// the action is used, expired or unknown, nothing is written at all.
var signedChangeTests = signedChangeTestsFor(signedChanges)

func signedChangeTestsFor(changes []signedChange) []test {
	var tests []test
	for i, ch := range changes {
		// other burns the action in the reuse test: a different change,
		// so that a second write would show.
		other := changes[(i+1)%len(changes)]
		tests = append(tests,
			test{ch.name + " writes the change, uses the action and records the audit entry", func(t *testing.T, s store.Store) {
				u, creds, a := signedFixture(t, s)
				now := at(time.Minute)
				sg := signedWith(a, u, "uj-1", now)
				must(t, "signed change", ch.apply(t.Context(), s, sg, u))

				got := stateOf(t, s, u, a.ID)
				equal(t, "credentials", got.Credentials, ch.want(u, creds))
				wantAction := a
				wantAction.UsedAt = ptr(now)
				equal(t, "user action", got.Action, wantAction)
				equal(t, "audit entries", got.Audit, []store.AuditEntry{sg.Audit})
				entry, err := s.GetAuditEntry(t.Context(), u.OrgID, sg.Audit.ID)
				must(t, "GetAuditEntry", err)
				equal(t, "audit entry", entry, sg.Audit)
			}},
			test{ch.name + " with a used action is refused and changes nothing", func(t *testing.T, s store.Store) {
				u, _, a := signedFixture(t, s)
				must(t, "first signed change", other.apply(t.Context(), s, signedWith(a, u, "uj-1", t0), u))
				before := stateOf(t, s, u, a.ID)

				err := ch.apply(t.Context(), s, signedWith(a, u, "uj-2", at(time.Minute)), u)
				wantErr(t, "second signed change", err, store.ErrActionUsed)
				equal(t, "state after the refused change", stateOf(t, s, u, a.ID), before)
			}},
			test{ch.name + " with an expired action is refused and changes nothing", func(t *testing.T, s store.Store) {
				u, _, a := signedFixture(t, s)
				before := stateOf(t, s, u, a.ID)

				// The action expires at this very instant: expired.
				err := ch.apply(t.Context(), s, signedWith(a, u, "uj-1", a.ExpiresAt), u)
				wantErr(t, "signed change", err, store.ErrActionUsed)
				equal(t, "state after the refused change", stateOf(t, s, u, a.ID), before)
			}},
			test{ch.name + " with an unknown action is refused and changes nothing", func(t *testing.T, s store.Store) {
				u, _, a := signedFixture(t, s)
				before := stateOf(t, s, u, a.ID)

				unknown := a
				unknown.ID = "ua-unknown"
				err := ch.apply(t.Context(), s, signedWith(unknown, u, "uj-1", t0), u)
				wantErr(t, "signed change", err, store.ErrActionUsed)
				equal(t, "state after the refused change", stateOf(t, s, u, a.ID), before)
			}},
		)
	}
	return tests
}
