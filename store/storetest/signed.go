package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"countersign/store"
)

// signedTests are the signed changes' own behaviours. A change that fails
// for its own reason never burns its action: the caller may fix the
// request and sign again, or retry with the same action.
var signedTests = []test{
	{"a signed credential creation with a taken credential id is a conflict and leaves the action unused", func(t *testing.T, s store.Store) {
		u, _, a := signedFixture(t, s)
		before := stateOf(t, s, u, a.ID)

		err := s.CreateCredentialSigned(t.Context(), signedWith(a, u, "uj-1", t0), newCredential("cr-3", u, "cred-1"))
		wantErr(t, "CreateCredentialSigned", err, store.ErrConflict)
		equal(t, "state after the conflict", stateOf(t, s, u, a.ID), before)

		must(t, "CreateCredentialSigned retried with the same action", s.CreateCredentialSigned(t.Context(),
			signedWith(a, u, "uj-1", t0), newCredential("cr-3", u, "cred-3")))
	}},
	{"a signed change of another user's or an unknown credential is not found and leaves the action unused", func(t *testing.T, s store.Store) {
		u, _, a := signedFixture(t, s)
		other := addUser(t, s, "us-2", u.OrgID, "bob@example.com")
		theirs := newCredential("cr-theirs", other, "cred-theirs")
		mustCreateCredential(t, s, theirs)
		before := stateOf(t, s, u, a.ID)

		for _, credID := range []string{theirs.ID, "cr-unknown"} {
			sg := signedWith(a, u, "uj-1", t0)
			err := s.SetCredentialActive(t.Context(), sg, u.ID, credID, false)
			wantErr(t, "SetCredentialActive of "+credID, err, store.ErrNotFound)
			err = s.RenameCredential(t.Context(), sg, u.ID, credID, "mine now")
			wantErr(t, "RenameCredential of "+credID, err, store.ErrNotFound)
		}
		equal(t, "state after the refused changes", stateOf(t, s, u, a.ID), before)
		got, err := s.GetCredential(t.Context(), theirs.ID)
		must(t, "GetCredential of the other user's credential", err)
		equal(t, "other user's credential", got, theirs)
	}},
	{"deactivating the last active credential is refused and leaves the action unused", func(t *testing.T, s store.Store) {
		u, creds, a := signedFixture(t, s)
		// Another user's active credential does not count for us-1.
		other := addUser(t, s, "us-2", u.OrgID, "bob@example.com")
		mustCreateCredential(t, s, newCredential("cr-theirs", other, "cred-theirs"))
		first := newUserAction("ua-first", u)
		mustCreateUserAction(t, s, first)
		must(t, "deactivating cr-2", s.SetCredentialActive(t.Context(),
			signedWith(first, u, "uj-first", t0), u.ID, creds[1].ID, false))
		before := stateOf(t, s, u, a.ID)

		err := s.SetCredentialActive(t.Context(), signedWith(a, u, "uj-1", t0), u.ID, creds[0].ID, false)
		wantErr(t, "deactivating cr-1, the last active one", err, store.ErrLastCredential)
		equal(t, "state after the refused change", stateOf(t, s, u, a.ID), before)

		// The action is still good for another change.
		must(t, "activating cr-2 with the same action", s.SetCredentialActive(t.Context(),
			signedWith(a, u, "uj-1", t0), u.ID, creds[1].ID, true))
	}},
	{"an access token's key does not count as its user's last active credential", func(t *testing.T, s store.Store) {
		u, creds, a := signedFixture(t, s)
		tk := newAccessToken("to-1", u)
		mustCreateAccessToken(t, s, u, tk, newKey(tk, "key-to-1"), nil)
		first := newUserAction("ua-first", u)
		mustCreateUserAction(t, s, first)
		must(t, "deactivating cr-2", s.SetCredentialActive(t.Context(),
			signedWith(first, u, "uj-first", t0), u.ID, creds[1].ID, false))
		before := stateOf(t, s, u, a.ID)

		err := s.SetCredentialActive(t.Context(), signedWith(a, u, "uj-1", t0), u.ID, creds[0].ID, false)
		wantErr(t, "deactivating cr-1, the last active one but for the token's key", err, store.ErrLastCredential)
		equal(t, "state after the refused change", stateOf(t, s, u, a.ID), before)
	}},
	{"a signed change whose audit entry names another action is refused and changes nothing", func(t *testing.T, s store.Store) {
		u, _, a := signedFixture(t, s)
		before := stateOf(t, s, u, a.ID)

		sg := signedWith(a, u, "uj-1", t0)
		sg.Audit.ActionID = "ua-other"
		if err := s.RenameCredential(t.Context(), sg, u.ID, "cr-1", "renamed"); err == nil {
			t.Errorf("RenameCredential: got nil error, want one for an audit entry of another action")
		}
		equal(t, "state after the refused change", stateOf(t, s, u, a.ID), before)
	}},
	{"a deactivated credential can be activated again, each change audited", func(t *testing.T, s store.Store) {
		u, creds, _ := signedFixture(t, s)
		off, on := newUserAction("ua-off", u), newUserAction("ua-on", u)
		mustCreateUserAction(t, s, off)
		mustCreateUserAction(t, s, on)
		sgOff, sgOn := signedWith(off, u, "uj-off", at(time.Second)), signedWith(on, u, "uj-on", at(2*time.Second))

		must(t, "deactivate", s.SetCredentialActive(t.Context(), sgOff, u.ID, creds[1].ID, false))
		got, err := s.GetCredential(t.Context(), creds[1].ID)
		must(t, "GetCredential after deactivating", err)
		equal(t, "IsActive after deactivating", got.IsActive, false)

		must(t, "activate", s.SetCredentialActive(t.Context(), sgOn, u.ID, creds[1].ID, true))
		got, err = s.GetCredential(t.Context(), creds[1].ID)
		must(t, "GetCredential after activating", err)
		equal(t, "credential after activating", got, creds[1])
		equal(t, "audit entries", allAudit(t, s, u.OrgID), []store.AuditEntry{sgOff.Audit, sgOn.Audit})
	}},
	{"exactly one of many concurrent signed changes with one action succeeds", func(t *testing.T, s store.Store) {
		u, creds, _ := signedFixture(t, s)
		// Several rounds, each with its own action, alternately deactivating
		// and activating cr-2. Every racer writes its own audit entry id, so
		// a second winner would show as a second entry.
		for round := range rounds {
			a := newUserAction(fmt.Sprintf("ua-round-%d", round), u)
			mustCreateUserAction(t, s, a)
			active := round%2 == 1

			start := make(chan struct{})
			errs := make([]error, consumers)
			var wg sync.WaitGroup
			for i := range consumers {
				wg.Go(func() {
					<-start
					sg := signedWith(a, u, fmt.Sprintf("uj-%d-%02d", round, i), t0)
					errs[i] = s.SetCredentialActive(t.Context(), sg, u.ID, creds[1].ID, active)
				})
			}
			close(start)
			wg.Wait()

			won := 0
			for i, err := range errs {
				switch {
				case err == nil:
					won++
				case !errors.Is(err, store.ErrActionUsed):
					t.Errorf("round %d, racer %d: got error %v, want nil or %v", round, i, err, store.ErrActionUsed)
				}
			}
			equal(t, fmt.Sprintf("round %d: racers that made the change", round), won, 1)
			entries := 0
			for _, e := range allAudit(t, s, u.OrgID) {
				if e.ActionID == a.ID {
					entries++
				}
			}
			equal(t, fmt.Sprintf("round %d: audit entries of %s", round, a.ID), entries, 1)
			got, err := s.GetCredential(t.Context(), creds[1].ID)
			must(t, "GetCredential", err)
			equal(t, fmt.Sprintf("round %d: IsActive", round), got.IsActive, active)
		}
	}},
	{"concurrent deactivations never leave a user without an active credential", func(t *testing.T, s store.Store) {
		_, u := seed(t, s)
		// Each racer deactivates a different credential with its own action:
		// all but one must succeed, whatever the order.
		actions := make([]store.UserAction, consumers)
		for i := range consumers {
			mustCreateCredential(t, s, newCredential(fmt.Sprintf("cr-%02d", i), u, fmt.Sprintf("cred-%02d", i)))
			actions[i] = newUserAction(fmt.Sprintf("ua-%02d", i), u)
			mustCreateUserAction(t, s, actions[i])
		}

		start := make(chan struct{})
		errs := make([]error, consumers)
		var wg sync.WaitGroup
		for i := range consumers {
			wg.Go(func() {
				<-start
				sg := signedWith(actions[i], u, fmt.Sprintf("uj-%02d", i), t0)
				errs[i] = s.SetCredentialActive(t.Context(), sg, u.ID, fmt.Sprintf("cr-%02d", i), false)
			})
		}
		close(start)
		wg.Wait()

		refused := 0
		for i, err := range errs {
			switch {
			case errors.Is(err, store.ErrLastCredential):
				refused++
			case err != nil:
				t.Errorf("racer %d: got error %v, want nil or %v", i, err, store.ErrLastCredential)
			}
		}
		equal(t, "refused deactivations", refused, 1)
		creds, err := s.ListCredentials(t.Context(), u.ID)
		must(t, "ListCredentials", err)
		active := 0
		for _, c := range creds {
			if c.IsActive {
				active++
			}
		}
		equal(t, "active credentials", active, 1)
		equal(t, "audit entries", len(allAudit(t, s, u.OrgID)), consumers-1)
	}},
}
