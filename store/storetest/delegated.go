package storetest

import (
	"testing"
	"time"

	"countersign/store"
)

// delegatedLogin is a login token for u issued at now by delegation of
// by, and its sign-in event.
func delegatedLogin(id string, u, by store.User, now time.Time) (store.Token, store.SignInEvent) {
	tk := store.Token{ID: id, Kind: store.TokenLogin, OrgID: u.OrgID, UserID: u.ID, CreatedAt: now, ExpiresAt: now.Add(time.Hour), DelegatedBy: by.ID}
	e := store.SignInEvent{
		ID: "si-" + id, OrgID: u.OrgID, UserID: u.ID, Username: u.Username, TokenID: id,
		Outcome: store.SignInSucceeded, Via: store.ViaDelegated, ClientIP: "192.0.2.1", UserAgent: "test", CreatedAt: now,
	}
	return tk, e
}

// registeredEndUser invites and registers an end user of orgID.
func registeredEndUser(t *testing.T, s store.Store, id, orgID string) store.User {
	t.Helper()
	u := newUser(id, orgID, id+"@example.com")
	u.Kind = store.KindEndUser
	mustInvite(t, s, invitation(nil, u))
	must(t, "register "+id, completeRegistration(t, s, u.ID, codeOf(u.ID).CodeHash, t0, []store.Credential{newCredential("cr-"+id, u, "cred-"+id)}))
	u.IsRegistered = true
	return u
}

func signInsOf(t *testing.T, s store.Store, orgID string) []store.SignInEvent {
	t.Helper()
	es, err := s.ListSignInEvents(t.Context(), store.SignInQuery{OrgID: orgID, Start: at(-24 * time.Hour), End: at(24 * time.Hour)})
	must(t, "ListSignInEvents", err)
	return es
}

// Delegated login (spec §4.1): a service account's signed request issues
// a login token for an end user; the token, its sign-in event and the
// signed change's use and audit entry are written together or not at all.
var delegatedTests = []test{
	{"a delegated login records the token, its sign-in, the action's use and the audit entry together", func(t *testing.T, s store.Store) {
		o, alice := seed(t, s)
		eu := registeredEndUser(t, s, "us-eu", o.ID)
		now := at(time.Minute)
		sg := signedNew(t, s, alice, "delegate", now)
		tk, e := delegatedLogin("tk-eu", eu, alice, now)
		must(t, "IssueTokenSigned", s.IssueTokenSigned(t.Context(), sg, tk, e))
		got, err := s.GetToken(t.Context(), tk.ID)
		must(t, "GetToken", err)
		equal(t, "token", got, tk)
		equal(t, "sign-ins", signInsOf(t, s, o.ID), []store.SignInEvent{e})
		equal(t, "audit", allAudit(t, s, o.ID), []store.AuditEntry{sg.Audit})
		a, err := s.GetUserAction(t.Context(), sg.ActionID)
		must(t, "GetUserAction", err)
		equal(t, "UsedAt", a.UsedAt, ptr(now))

		again, e2 := delegatedLogin("tk-eu-2", eu, alice, now)
		wantErr(t, "IssueTokenSigned with the spent action", s.IssueTokenSigned(t.Context(), sg, again, e2), store.ErrActionUsed)
		_, err = s.GetToken(t.Context(), again.ID)
		wantErr(t, "GetToken of the refused token", err, store.ErrNotFound)
	}},
	{"deactivating or archiving the delegating identity revokes the tokens it asked for, and only those", func(t *testing.T, s store.Store) {
		o, alice := seed(t, s)
		bob := addUser(t, s, "us-bob", o.ID, "bob@example.com")
		off := addUser(t, s, "us-off", o.ID, "off@example.com")    // deactivated below
		gone := addUser(t, s, "us-gone", o.ID, "gone@example.com") // archived below
		eu := registeredEndUser(t, s, "us-eu", o.ID)
		now := at(time.Minute)
		tokens := map[string]store.Token{}
		for _, by := range []store.User{off, gone, bob} {
			tk, e := delegatedLogin("tk-by-"+by.ID, eu, by, now)
			must(t, "IssueTokenSigned by "+by.ID, s.IssueTokenSigned(t.Context(), signedNew(t, s, alice, "by-"+by.ID, now), tk, e))
			tokens[by.ID] = tk
		}
		own, _ := delegatedLogin("tk-own", eu, store.User{}, now)
		must(t, "CreateToken", s.CreateToken(t.Context(), own))

		later := at(2 * time.Minute)
		must(t, "deactivate", s.UpdateUserSigned(t.Context(), signedNew(t, s, alice, "off", later), o.ID, off.ID, store.UserPatch{IsActive: ptr(false)}))
		must(t, "archive", s.UpdateUserSigned(t.Context(), signedNew(t, s, alice, "gone", later), o.ID, gone.ID, store.UserPatch{IsArchived: ptr(true)}))
		for id, want := range map[string]*time.Time{
			tokens[off.ID].ID: ptr(later), tokens[gone.ID].ID: ptr(later), tokens[bob.ID].ID: nil, own.ID: nil,
		} {
			got, err := s.GetToken(t.Context(), id)
			must(t, "GetToken "+id, err)
			equal(t, "RevokedAt of "+id, got.RevokedAt, want)
		}
	}},
	{"a delegated login by an identity deactivated, archived or of another organisation writes nothing", func(t *testing.T, s store.Store) {
		o, alice := seed(t, s)
		eu := registeredEndUser(t, s, "us-eu", o.ID)
		off := addUser(t, s, "us-off", o.ID, "off@example.com")
		gone := addUser(t, s, "us-gone", o.ID, "gone@example.com")
		now := at(time.Minute)
		must(t, "deactivate", s.UpdateUserSigned(t.Context(), signedNew(t, s, alice, "off", now), o.ID, off.ID, store.UserPatch{IsActive: ptr(false)}))
		must(t, "archive", s.UpdateUserSigned(t.Context(), signedNew(t, s, alice, "gone", now), o.ID, gone.ID, store.UserPatch{IsArchived: ptr(true)}))
		_, carol := otherOrg(t, s)
		for _, by := range []store.User{off, gone, carol, {ID: "us-nobody"}} {
			before := allAudit(t, s, o.ID)
			sg := signedNew(t, s, alice, "by-"+by.ID, now)
			tk, e := delegatedLogin("tk-by-"+by.ID, eu, by, now)
			wantErr(t, "IssueTokenSigned by "+by.ID, s.IssueTokenSigned(t.Context(), sg, tk, e), store.ErrNotFound)
			_, err := s.GetToken(t.Context(), tk.ID)
			wantErr(t, "GetToken by "+by.ID, err, store.ErrNotFound)
			equal(t, "audit after the refusal by "+by.ID, allAudit(t, s, o.ID), before)
		}
		equal(t, "sign-ins", signInsOf(t, s, o.ID), []store.SignInEvent{})
	}},
	{"a delegated login for a user who cannot sign in writes nothing", func(t *testing.T, s store.Store) {
		o, alice := seed(t, s)
		unregistered := addUser(t, s, "us-2", o.ID, "bob@example.com")
		inactive := registeredEndUser(t, s, "us-off", o.ID)
		now := at(time.Minute)
		must(t, "deactivate", s.UpdateUserSigned(t.Context(), signedNew(t, s, alice, "off", now), o.ID, inactive.ID, store.UserPatch{IsActive: ptr(false)}))
		_, stranger := otherOrg(t, s)
		nobody := inactive
		nobody.ID = "us-nobody" // no such user
		otherOrgUser := stranger
		otherOrgUser.OrgID = o.ID // carol is of or-2: a token of or-1 cannot name her
		for _, u := range []store.User{unregistered, inactive, nobody, otherOrgUser} {
			before := allAudit(t, s, o.ID)
			sg := signedNew(t, s, alice, "for-"+u.ID, now)
			tk, e := delegatedLogin("tk-"+u.ID, u, alice, now)
			wantErr(t, "IssueTokenSigned for "+u.ID, s.IssueTokenSigned(t.Context(), sg, tk, e), store.ErrNotFound)
			_, err := s.GetToken(t.Context(), tk.ID)
			wantErr(t, "GetToken for "+u.ID, err, store.ErrNotFound)
			equal(t, "audit after the refusal for "+u.ID, allAudit(t, s, o.ID), before)
			a, err := s.GetUserAction(t.Context(), sg.ActionID)
			must(t, "GetUserAction", err)
			equal(t, "UsedAt after the refusal for "+u.ID, a.UsedAt, (*time.Time)(nil))
		}
		equal(t, "sign-ins", signInsOf(t, s, o.ID), []store.SignInEvent{})
	}},
}
