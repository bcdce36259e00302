package storetest

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"countersign/store"
)

// consoleTests are the behaviours the console needs beyond the API's.
var consoleTests = []test{
	{"a signed renewal replaces a pending invitation's code", func(t *testing.T, s store.Store) {
		f := newAdminFixture(t, s)
		code := store.RegistrationCode{UserID: f.Bob.ID, CodeHash: hash("renewed"), ExpiresAt: at(48 * time.Hour)}
		must(t, "renew", s.RenewRegistrationCodeSigned(t.Context(), signedNew(t, s, f.Alice, "renew", t0), code))
		got, err := s.GetRegistrationCode(t.Context(), f.Bob.ID)
		must(t, "get code", err)
		if string(got.CodeHash) != string(code.CodeHash) || !got.ExpiresAt.Equal(code.ExpiresAt) {
			t.Errorf("code = %+v, want %+v", got, code)
		}
	}},
	{"a cancelled (archived) invitation is not renewed, and the action stays unused", func(t *testing.T, s store.Store) {
		f := newAdminFixture(t, s)
		must(t, "archive bob", s.UpdateUserSigned(t.Context(), signedNew(t, s, f.Alice, "archive", t0), f.Org.ID, f.Bob.ID, store.UserPatch{IsArchived: ptr(true)}))
		sg := signedNew(t, s, f.Alice, "renew", t0)
		err := s.RenewRegistrationCodeSigned(t.Context(), sg, store.RegistrationCode{UserID: f.Bob.ID, CodeHash: hash("x"), ExpiresAt: at(time.Hour)})
		wantErr(t, "renew an archived user's code", err, store.ErrNotFound)
		a, err := s.GetUserAction(t.Context(), sg.ActionID)
		must(t, "get action", err)
		if a.UsedAt != nil {
			t.Errorf("the failed renewal used its action")
		}
	}},
}

func signIn(id string, u store.User, outcome string, at time.Time) store.SignInEvent {
	return store.SignInEvent{
		ID: id, OrgID: u.OrgID, UserID: u.ID, Username: u.Username, CredentialID: "cr-" + id, Outcome: outcome,
		Via: store.ViaConsole, Reason: "reason " + id, ClientIP: "192.0.2.1", UserAgent: "agent " + id, CreatedAt: at,
	}
}

func loginToken(id string, u store.User, created, expires time.Time) store.Token {
	return store.Token{ID: id, Kind: store.TokenLogin, OrgID: u.OrgID, UserID: u.ID, CreatedAt: created, ExpiresAt: expires}
}

var signInTests = []test{
	{"sign-ins are listed newest first, by user and outcome, within the range", func(t *testing.T, s store.Store) {
		f := newAdminFixture(t, s)
		_, carol := otherOrg(t, s)
		events := []store.SignInEvent{
			signIn("si-1", f.Alice, store.SignInSucceeded, at(time.Minute)),
			signIn("si-2", f.Bob, store.SignInFailed, at(2*time.Minute)),
			signIn("si-3", f.Alice, store.SignInFailed, at(3*time.Minute)),
			signIn("si-4", carol, store.SignInSucceeded, at(4*time.Minute)),
		}
		events[0].TokenID = "to-login"
		for _, e := range events {
			must(t, "record "+e.ID, s.RecordSignIn(t.Context(), e))
		}
		all := store.SignInQuery{OrgID: f.Org.ID, Start: t0, End: at(time.Hour)}
		ids := func(q store.SignInQuery) []string {
			got, err := s.ListSignInEvents(t.Context(), q)
			must(t, "list", err)
			out := []string{}
			for _, e := range got {
				out = append(out, e.ID)
			}
			return out
		}
		for name, tc := range map[string]struct {
			q    store.SignInQuery
			want []string
		}{
			"the org's, newest first": {all, []string{"si-3", "si-2", "si-1"}},
			"alice's":                 {withUser(all, f.Alice.ID), []string{"si-3", "si-1"}},
			"the failures":            {withOutcome(all, store.SignInFailed), []string{"si-3", "si-2"}},
			"within the range":        {withRange(all, at(2*time.Minute), at(3*time.Minute)), []string{"si-2"}},
			"at most the limit":       {withLimit(all, 1), []string{"si-3"}},
		} {
			if got := ids(tc.q); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("%s: got %v, want %v", name, got, tc.want)
			}
		}
		got, err := s.GetSignInByToken(t.Context(), "to-login")
		must(t, "get by token", err)
		if !reflect.DeepEqual(got, events[0]) {
			t.Errorf("by token = %+v, want %+v", got, events[0])
		}
		_, err = s.GetSignInByToken(t.Context(), "to-none")
		wantErr(t, "get by an unknown token", err, store.ErrNotFound)
	}},
	{"failed sign-ins are capped per organisation, the oldest dropped first", func(t *testing.T, s store.Store) {
		f := newAdminFixture(t, s)
		must(t, "a success", s.RecordSignIn(t.Context(), signIn("si-ok", f.Alice, store.SignInSucceeded, t0)))
		n := store.MaxFailedSignInsKept + 3*(store.SignInTrimSlack+1) + 3
		for i := range n {
			must(t, "record", s.RecordSignIn(t.Context(), signIn(fmt.Sprintf("si-%05d", i), f.Bob, store.SignInFailed, at(time.Duration(i)*time.Millisecond))))
		}
		failed, err := s.ListSignInEvents(t.Context(), store.SignInQuery{OrgID: f.Org.ID, Outcome: store.SignInFailed, Start: t0, End: at(time.Hour), Limit: n})
		must(t, "list failures", err)
		if len(failed) < store.MaxFailedSignInsKept || len(failed) > store.MaxFailedSignInsKept+store.SignInTrimSlack {
			t.Fatalf("kept %d failures, want %d to %d", len(failed), store.MaxFailedSignInsKept, store.MaxFailedSignInsKept+store.SignInTrimSlack)
		}
		// The newest are all kept, and exactly the oldest were dropped.
		if newest := failed[0].ID; newest != fmt.Sprintf("si-%05d", n-1) {
			t.Errorf("newest kept failure = %s, want si-%05d", newest, n-1)
		}
		if oldest, want := failed[len(failed)-1].ID, fmt.Sprintf("si-%05d", n-len(failed)); oldest != want {
			t.Errorf("oldest kept failure = %s, want %s (the %d oldest dropped)", oldest, want, n-len(failed))
		}
		ok, err := s.ListSignInEvents(t.Context(), store.SignInQuery{OrgID: f.Org.ID, Outcome: store.SignInSucceeded, Start: t0, End: at(time.Hour)})
		must(t, "list successes", err)
		if len(ok) != 1 {
			t.Errorf("failures pushed out the successes: %d left", len(ok))
		}
	}},
	{"active tokens are a user's unrevoked, unexpired tokens of a kind, newest first", func(t *testing.T, s store.Store) {
		f := newAdminFixture(t, s)
		for _, tk := range []store.Token{
			loginToken("to-a", f.Alice, t0, at(time.Hour)),
			loginToken("to-b", f.Alice, at(time.Minute), at(time.Hour)),
			loginToken("to-expired", f.Alice, t0, at(time.Second)),
			loginToken("to-revoked", f.Alice, t0, at(time.Hour)),
			loginToken("to-bob", f.Bob, t0, at(time.Hour)),
		} {
			must(t, "create "+tk.ID, s.CreateToken(t.Context(), tk))
		}
		must(t, "revoke", s.RevokeToken(t.Context(), "to-revoked", t0))
		got, err := s.ListActiveTokens(t.Context(), f.Alice.ID, store.TokenLogin, at(time.Minute))
		must(t, "list", err)
		var ids []string
		for _, tk := range got {
			ids = append(ids, tk.ID)
		}
		if !reflect.DeepEqual(ids, []string{"to-b", "to-a"}) {
			t.Errorf("active tokens = %v, want [to-b to-a]", ids)
		}
	}},
	{"a signed revocation ends only the user's own active login tokens", func(t *testing.T, s store.Store) {
		f := newAdminFixture(t, s)
		for _, tk := range []store.Token{
			loginToken("to-a", f.Alice, t0, at(time.Hour)),
			loginToken("to-b", f.Alice, t0, at(time.Hour)),
			loginToken("to-bob", f.Bob, t0, at(time.Hour)),
		} {
			must(t, "create "+tk.ID, s.CreateToken(t.Context(), tk))
		}
		n, err := s.RevokeTokensSigned(t.Context(), signedNew(t, s, f.Alice, "revoke", at(time.Minute)), f.Alice.ID, []string{"to-a", "to-bob", f.Token.ID, "to-none"})
		must(t, "revoke", err)
		if n != 1 {
			t.Errorf("revoked %d tokens, want only to-a (bob's, a PAT and an unknown one stay)", n)
		}
		for id, revoked := range map[string]bool{"to-a": true, "to-b": false, "to-bob": false} {
			tk, err := s.GetToken(t.Context(), id)
			must(t, "get "+id, err)
			if (tk.RevokedAt != nil) != revoked {
				t.Errorf("%s revoked = %v, want %v", id, tk.RevokedAt != nil, revoked)
			}
		}
		sg := signedNew(t, s, f.Alice, "again", at(time.Minute))
		_, err = s.RevokeTokensSigned(t.Context(), sg, f.Alice.ID, []string{"to-b"})
		must(t, "revoke again", err)
		_, err = s.RevokeTokensSigned(t.Context(), sg, f.Alice.ID, []string{"to-b"})
		wantErr(t, "the same action twice", err, store.ErrActionUsed)
	}},
}

func withUser(q store.SignInQuery, id string) store.SignInQuery   { q.UserID = id; return q }
func withOutcome(q store.SignInQuery, o string) store.SignInQuery { q.Outcome = o; return q }
func withLimit(q store.SignInQuery, n int) store.SignInQuery      { q.Limit = n; return q }
func withRange(q store.SignInQuery, a, b time.Time) store.SignInQuery {
	q.Start, q.End = a, b
	return q
}
