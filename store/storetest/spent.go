package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"countersign/store"
)

// loginRecord is the record of a verified login by u's credential cr-1
// with sealed challenge id, counter 2.
func loginRecord(id string, u store.User) store.AssertionRecord {
	tk := newToken("to-"+id, u)
	return store.AssertionRecord{
		Challenge:    store.SpentChallenge{ID: id, ExpiresAt: at(5 * time.Minute)},
		CredentialID: "cr-1",
		Use:          store.CredentialUse{Purpose: store.UseLogin, SignCount: 2, UserVerified: true, BackupState: true, At: at(time.Minute)},
		Token:        &tk,
	}
}

var spentChallengeTests = []test{
	{"a challenge is spent once", func(t *testing.T, s store.Store) {
		c := store.SpentChallenge{ID: "sc-1", ExpiresAt: at(5 * time.Minute)}
		must(t, "first SpendChallenge", s.SpendChallenge(t.Context(), c))
		wantErr(t, "second SpendChallenge", s.SpendChallenge(t.Context(), c), store.ErrConflict)
	}},
	{"exactly one of many concurrent spenders spends a challenge", func(t *testing.T, s store.Store) {
		for round := range rounds {
			c := store.SpentChallenge{ID: fmt.Sprintf("sc-%d", round), ExpiresAt: at(5 * time.Minute)}
			start := make(chan struct{})
			errs := make([]error, consumers)
			var wg sync.WaitGroup
			for i := range consumers {
				wg.Go(func() {
					<-start
					errs[i] = s.SpendChallenge(t.Context(), c)
				})
			}
			close(start)
			wg.Wait()
			won := 0
			for i, err := range errs {
				switch {
				case err == nil:
					won++
				case !errors.Is(err, store.ErrConflict):
					t.Errorf("round %d, spender %d: got error %v, want nil or %v", round, i, err, store.ErrConflict)
				}
			}
			equal(t, fmt.Sprintf("round %d: spenders that won", round), won, 1)
		}
	}},
	{"a spent challenge is swept once it has expired", func(t *testing.T, s store.Store) {
		must(t, "SpendChallenge", s.SpendChallenge(t.Context(), store.SpentChallenge{ID: "sc-1", ExpiresAt: at(time.Minute)}))
		must(t, "SpendChallenge", s.SpendChallenge(t.Context(), store.SpentChallenge{ID: "sc-2", ExpiresAt: at(time.Hour)}))
		n, err := s.DeleteExpired(t.Context(), at(2*time.Minute))
		must(t, "DeleteExpired", err)
		equal(t, "rows swept", n, int64(1))
		// The unexpired one is still spent; the swept one could be spent
		// again, but it has expired, and an expired challenge is refused
		// before it is spent.
		wantErr(t, "SpendChallenge of the unexpired one", s.SpendChallenge(t.Context(), store.SpentChallenge{ID: "sc-2", ExpiresAt: at(time.Hour)}), store.ErrConflict)
	}},
	{"a login assertion spends its challenge, records the use and the token in one transaction", func(t *testing.T, s store.Store) {
		_, u := seed(t, s)
		mustCreateCredential(t, s, newCredential("cr-1", u, "cred-1"))
		r := loginRecord("sc-1", u)
		must(t, "RecordAssertion", s.RecordAssertion(t.Context(), r))

		c, err := s.GetCredential(t.Context(), "cr-1")
		must(t, "GetCredential", err)
		if c.SignCount != 2 || !c.UserVerified || !c.BackupState || c.LastLoginAt == nil || !c.LastLoginAt.Equal(r.Use.At) {
			t.Errorf("credential after the login: counter %d, uv %t, bs %t, last login %v", c.SignCount, c.UserVerified, c.BackupState, c.LastLoginAt)
		}
		tk, err := s.GetToken(t.Context(), r.Token.ID)
		must(t, "GetToken", err)
		equal(t, "token", tk, *r.Token)
		wantErr(t, "SpendChallenge after the login", s.SpendChallenge(t.Context(), r.Challenge), store.ErrConflict)
	}},
	{"an action assertion writes its user action and the access token's use", func(t *testing.T, s store.Store) {
		f := newAdminFixture(t, s)
		mustCreateCredential(t, s, newCredential("cr-1", f.Alice, "cred-1"))
		ua := newUserAction("ua-2", f.Alice)
		r := store.AssertionRecord{
			Challenge:    store.SpentChallenge{ID: "sc-1", ExpiresAt: at(5 * time.Minute)},
			CredentialID: "cr-1",
			Use:          store.CredentialUse{Purpose: store.UseSign, SignCount: 2, At: at(time.Minute)},
			Action:       &ua,
			TokenUse:     &store.TokenUse{TokenID: f.Token.ID, At: at(time.Minute), Purpose: store.UseSign},
		}
		must(t, "RecordAssertion", s.RecordAssertion(t.Context(), r))
		got, err := s.GetUserAction(t.Context(), ua.ID)
		must(t, "GetUserAction", err)
		equal(t, "user action", got, ua)
		at2, err := s.GetAccessToken(t.Context(), f.Token.ID)
		must(t, "GetAccessToken", err)
		if at2.LastUsedAt == nil || !at2.LastUsedAt.Equal(at(time.Minute)) || at2.LastUsedFor != store.UseSign {
			t.Errorf("token use: got %v %q, want %v sign", at2.LastUsedAt, at2.LastUsedFor, at(time.Minute))
		}
	}},
	{"a login assertion records its sign-in event with the token", func(t *testing.T, s store.Store) {
		_, u := seed(t, s)
		mustCreateCredential(t, s, newCredential("cr-1", u, "cred-1"))
		r := loginRecord("sc-1", u)
		e := store.SignInEvent{ID: "si-1", OrgID: u.OrgID, UserID: u.ID, Username: u.Username, CredentialID: "cr-1",
			TokenID: r.Token.ID, Outcome: store.SignInSucceeded, Via: store.ViaAPI, CreatedAt: at(time.Minute)}
		r.SignIn = &e
		must(t, "RecordAssertion", s.RecordAssertion(t.Context(), r))
		got, err := s.GetSignInByToken(t.Context(), r.Token.ID)
		must(t, "GetSignInByToken", err)
		equal(t, "sign-in event", got, e)
	}},
	{"a replayed login writes no sign-in event", func(t *testing.T, s store.Store) {
		_, u := seed(t, s)
		mustCreateCredential(t, s, newCredential("cr-1", u, "cred-1"))
		must(t, "SpendChallenge", s.SpendChallenge(t.Context(), store.SpentChallenge{ID: "sc-1", ExpiresAt: at(5 * time.Minute)}))
		r := loginRecord("sc-1", u)
		r.SignIn = &store.SignInEvent{ID: "si-1", OrgID: u.OrgID, UserID: u.ID, TokenID: r.Token.ID, Outcome: store.SignInSucceeded, Via: store.ViaAPI, CreatedAt: t0}
		wantErr(t, "RecordAssertion of a spent challenge", s.RecordAssertion(t.Context(), r), store.ErrConflict)
		_, err := s.GetSignInByToken(t.Context(), r.Token.ID)
		wantErr(t, "GetSignInByToken", err, store.ErrNotFound)
	}},
	{"a replayed assertion writes nothing", func(t *testing.T, s store.Store) {
		_, u := seed(t, s)
		mustCreateCredential(t, s, newCredential("cr-1", u, "cred-1"))
		must(t, "SpendChallenge", s.SpendChallenge(t.Context(), store.SpentChallenge{ID: "sc-1", ExpiresAt: at(5 * time.Minute)}))
		r := loginRecord("sc-1", u)
		wantErr(t, "RecordAssertion of a spent challenge", s.RecordAssertion(t.Context(), r), store.ErrConflict)
		_, err := s.GetToken(t.Context(), r.Token.ID)
		wantErr(t, "GetToken of the replay's token", err, store.ErrNotFound)
		c, err := s.GetCredential(t.Context(), "cr-1")
		must(t, "GetCredential", err)
		if c.SignCount != 1 || c.LastLoginAt != nil {
			t.Errorf("the replay recorded a use: counter %d, last login %v", c.SignCount, c.LastLoginAt)
		}
	}},
	{"an assertion whose counter lost the race spends its challenge and writes nothing else", func(t *testing.T, s store.Store) {
		_, u := seed(t, s)
		cred := newCredential("cr-1", u, "cred-1")
		cred.SignCount = 5
		mustCreateCredential(t, s, cred)
		r := loginRecord("sc-1", u) // counter 2 < 5
		wantErr(t, "RecordAssertion with a stale counter", s.RecordAssertion(t.Context(), r), store.ErrSignCount)
		_, err := s.GetToken(t.Context(), r.Token.ID)
		wantErr(t, "GetToken", err, store.ErrNotFound)
		wantErr(t, "SpendChallenge after the refusal", s.SpendChallenge(t.Context(), r.Challenge), store.ErrConflict)
	}},
	{"an assertion by a deactivated credential spends its challenge and is not found", func(t *testing.T, s store.Store) {
		_, u := seed(t, s)
		cred := newCredential("cr-1", u, "cred-1")
		cred.IsActive = false
		mustCreateCredential(t, s, cred)
		r := loginRecord("sc-1", u)
		wantErr(t, "RecordAssertion by an inactive credential", s.RecordAssertion(t.Context(), r), store.ErrNotFound)
		_, err := s.GetToken(t.Context(), r.Token.ID)
		wantErr(t, "GetToken", err, store.ErrNotFound)
		wantErr(t, "SpendChallenge after the refusal", s.SpendChallenge(t.Context(), r.Challenge), store.ErrConflict)
	}},
	{"no login token is issued to a user deactivated before the assertion is recorded", func(t *testing.T, s store.Store) {
		o, _ := seed(t, s)
		u := newUser("us-2", o.ID, "bob@example.com")
		u.IsActive = false // deactivated after its assertion was verified
		mustInvite(t, s, invitation(nil, u))
		mustCreateCredential(t, s, newCredential("cr-1", u, "cred-1"))
		before, err := s.GetCredential(t.Context(), "cr-1")
		must(t, "GetCredential", err)
		r := loginRecord("sc-1", u)
		wantErr(t, "RecordAssertion for a deactivated user", s.RecordAssertion(t.Context(), r), store.ErrNotFound)
		_, err = s.GetToken(t.Context(), r.Token.ID)
		wantErr(t, "GetToken", err, store.ErrNotFound)
		after, err := s.GetCredential(t.Context(), "cr-1")
		must(t, "GetCredential", err)
		equal(t, "credential (its use not recorded)", after, before)
		wantErr(t, "SpendChallenge after the refusal", s.SpendChallenge(t.Context(), r.Challenge), store.ErrConflict)
	}},
	{"a failed write rolls the whole assertion back, the spending included", func(t *testing.T, s store.Store) {
		_, u := seed(t, s)
		mustCreateCredential(t, s, newCredential("cr-1", u, "cred-1"))
		mustCreateToken(t, s, newToken("to-taken", u))
		r := loginRecord("sc-1", u)
		r.Token.ID = "to-taken" // the insert conflicts
		wantErr(t, "RecordAssertion with a taken token id", s.RecordAssertion(t.Context(), r), store.ErrConflict)
		c, err := s.GetCredential(t.Context(), "cr-1")
		must(t, "GetCredential", err)
		if c.SignCount != 1 {
			t.Errorf("counter: got %d, want the rolled back 1", c.SignCount)
		}
		must(t, "SpendChallenge after the rollback", s.SpendChallenge(t.Context(), r.Challenge))
	}},
	{"of concurrent assertions of one challenge exactly one is recorded", func(t *testing.T, s store.Store) {
		_, u := seed(t, s)
		mustCreateCredential(t, s, newCredential("cr-1", u, "cred-1"))
		start := make(chan struct{})
		errs := make([]error, consumers)
		var wg sync.WaitGroup
		for i := range consumers {
			wg.Go(func() {
				<-start
				r := loginRecord("sc-1", u)
				r.Token.ID = fmt.Sprintf("to-%d", i)
				r.Use.SignCount = uint32(2 + i) // every counter would be accepted alone
				errs[i] = s.RecordAssertion(t.Context(), r)
			})
		}
		close(start)
		wg.Wait()
		won := 0
		for i, err := range errs {
			switch {
			case err == nil:
				won++
			case !errors.Is(err, store.ErrConflict):
				t.Errorf("attempt %d: got error %v, want nil or %v", i, err, store.ErrConflict)
			}
		}
		equal(t, "assertions recorded", won, 1)
	}},
	{"many more concurrent assertions than connections all finish", func(t *testing.T, s store.Store) {
		// 64 is four times the PostgreSQL pool: every unit of work holds
		// one connection at a time, so none waits for another's.
		_, u := seed(t, s)
		cred := newCredential("cr-1", u, "cred-1")
		cred.SignCount = 0 // counters of 0 are always accepted: no race to lose
		mustCreateCredential(t, s, cred)
		const n = 64
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				r := loginRecord(fmt.Sprintf("sc-%d", i), u)
				r.Token.ID = fmt.Sprintf("to-%d", i)
				r.Use.SignCount = 0
				errs[i] = s.RecordAssertion(t.Context(), r)
			})
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("assertion %d: %v", i, err)
			}
		}
	}},
	{"a bearer is its token, its user and its access token", func(t *testing.T, s store.Store) {
		f := newAdminFixture(t, s)
		login := newToken("to-login", f.Alice)
		mustCreateToken(t, s, login)
		b, err := s.GetBearer(t.Context(), login.ID, store.TokenLogin)
		must(t, "GetBearer of a login token", err)
		equal(t, "login bearer", b, store.Bearer{Token: login, User: f.Alice})
		b, err = s.GetBearer(t.Context(), login.ID, store.TokenPAT)
		must(t, "GetBearer of a login token said to be a PAT", err)
		equal(t, "login bearer read as a machine's", b, store.Bearer{Token: login, User: f.Alice})

		tokenRow, err := s.GetToken(t.Context(), f.Token.ID)
		must(t, "GetToken", err)
		b, err = s.GetBearer(t.Context(), f.Token.ID, tokenRow.Kind)
		must(t, "GetBearer of a PAT", err)
		access, err := s.GetAccessToken(t.Context(), f.Token.ID)
		must(t, "GetAccessToken", err)
		equal(t, "PAT bearer", b, store.Bearer{Token: tokenRow, User: f.Alice, Access: &access})
		// Claims that called it a login token get its stored kind back,
		// which the caller refuses as a mismatch.
		b, err = s.GetBearer(t.Context(), f.Token.ID, store.TokenLogin)
		must(t, "GetBearer of a PAT said to be a login token", err)
		if b.Token.Kind != tokenRow.Kind {
			t.Errorf("GetBearer of a PAT said to be a login token: kind %q, want the stored %q", b.Token.Kind, tokenRow.Kind)
		}

		must(t, "RevokeToken", s.RevokeToken(t.Context(), login.ID, t0))
		b, err = s.GetBearer(t.Context(), login.ID, store.TokenLogin)
		must(t, "GetBearer of a revoked token", err)
		if b.Token.RevokedAt == nil {
			t.Errorf("GetBearer of a revoked token: RevokedAt is nil")
		}
		for _, kind := range []string{store.TokenLogin, store.TokenPAT} {
			_, err = s.GetBearer(t.Context(), "to-unknown", kind)
			wantErr(t, "GetBearer of an unknown token", err, store.ErrNotFound)
		}
	}},
}
