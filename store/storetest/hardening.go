package storetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"countersign/store"
)

// The behaviours issue 8's attacks rely on the store for: one first
// organisation, capped challenges, spent mismatched actions, an atomic sign
// counter, sessions gone with their user, and the write probe.
var hardeningTests = []test{
	{"a first organisation is created once; later and concurrent first invitations conflict and write nothing", func(t *testing.T, s store.Store) {
		const starts = 16
		errs := make([]error, starts)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range starts {
			wg.Go(func() {
				<-start
				o := newOrg(fmt.Sprintf("or-%d", i))
				in := invitation(&o, newUser(fmt.Sprintf("us-%d", i), o.ID, "admin"))
				in.FirstOrg = true
				errs[i] = s.Invite(t.Context(), in)
			})
		}
		close(start)
		wg.Wait()
		won := 0
		for i, err := range errs {
			if err == nil {
				won++
				continue
			}
			wantErr(t, fmt.Sprintf("first invitation %d", i), err, store.ErrConflict)
			_, gerr := s.GetUser(t.Context(), fmt.Sprintf("us-%d", i))
			wantErr(t, fmt.Sprintf("user of the refused first invitation %d", i), gerr, store.ErrNotFound)
		}
		orgs, err := s.ListOrgs(t.Context())
		must(t, "ListOrgs", err)
		if won != 1 || len(orgs) != 1 {
			t.Fatalf("%d first invitations succeeded and %d organisations exist, want 1 and 1", won, len(orgs))
		}
		// Without FirstOrg an invitation may create another organisation.
		o := newOrg("or-other")
		mustInvite(t, s, invitation(&o, newUser("us-other", o.ID, "x")))
	}},
	{"a capped challenge evicts the identity's oldest beyond the cap, and nobody else's", func(t *testing.T, s store.Store) {
		o, u := seed(t, s)
		bob := addUser(t, s, "us-2", o.ID, "bob@example.com")
		other := newChallenge("ch-bob", bob)
		other.Purpose = store.PurposeAction
		must(t, "CreateChallengeCapped of bob", s.CreateChallengeCapped(t.Context(), other, 2))
		for i := range 5 {
			c := newChallenge(fmt.Sprintf("ch-%d", i), u)
			c.Purpose, c.CreatedAt = store.PurposeAction, at(time.Duration(i)*time.Second)
			must(t, "CreateChallengeCapped", s.CreateChallengeCapped(t.Context(), c, 2))
		}
		loginOfAlice := newChallenge("ch-login", u) // another purpose: not counted
		mustCreateChallenge(t, s, loginOfAlice)
		for id, want := range map[string]bool{"ch-0": false, "ch-1": false, "ch-2": false, "ch-3": true, "ch-4": true, "ch-bob": true, "ch-login": true} {
			_, err := s.ConsumeChallenge(t.Context(), id, t0)
			if got := err == nil; got != want {
				t.Errorf("challenge %s kept = %v, want %v (err %v)", id, got, want, err)
			}
		}
	}},
	{"a mismatched use counts, and the limit-th spends the action", func(t *testing.T, s store.Store) {
		_, u := seed(t, s)
		a := newUserAction("ua-1", u)
		mustCreateUserAction(t, s, a)
		for i := 1; i <= 3; i++ {
			spent, err := s.RecordUserActionMismatch(t.Context(), a.ID, at(time.Minute), 3)
			must(t, "RecordUserActionMismatch", err)
			if spent != (i == 3) {
				t.Fatalf("mismatch %d: spent = %v", i, spent)
			}
		}
		got, err := s.GetUserAction(t.Context(), a.ID)
		must(t, "GetUserAction", err)
		equal(t, "UsedAt of the spent action", got.UsedAt, ptr(at(time.Minute)))
		err = s.RenameCredential(t.Context(), signedWith(a, u, "uj-1", at(time.Minute)), u.ID, "cr-1", "x")
		wantErr(t, "a signed change with the spent action", err, store.ErrActionUsed)
		spent, err := s.RecordUserActionMismatch(t.Context(), "ua-unknown", t0, 3)
		if err != nil || !spent {
			t.Fatalf("mismatch of an unknown action: spent %v, %v; want true, nil", spent, err)
		}
	}},
	{"concurrent mismatches never exceed the limit unspent", func(t *testing.T, s store.Store) {
		_, u := seed(t, s)
		a := newUserAction("ua-1", u)
		mustCreateUserAction(t, s, a)
		const tries = 10
		var wg sync.WaitGroup
		for range tries {
			wg.Go(func() {
				if _, err := s.RecordUserActionMismatch(t.Context(), a.ID, at(time.Minute), 3); err != nil {
					t.Errorf("RecordUserActionMismatch: %v", err)
				}
			})
		}
		wg.Wait()
		got, err := s.GetUserAction(t.Context(), a.ID)
		must(t, "GetUserAction", err)
		if got.UsedAt == nil {
			t.Fatal("the action survived ten concurrent mismatches")
		}
	}},
	{"a recorded sign count must grow, unless both are 0, and only on an active credential", func(t *testing.T, s store.Store) {
		_, u := seed(t, s)
		c := newCredential("cr-1", u, "cred-1") // counter 1
		mustCreateCredential(t, s, c)
		use := func(n uint32) error {
			return s.RecordCredentialUse(t.Context(), c.ID, store.CredentialUse{Purpose: store.UseLogin, SignCount: n, At: at(time.Minute)})
		}
		wantErr(t, "the same counter again", use(1), store.ErrSignCount)
		wantErr(t, "a lower counter", use(0), store.ErrSignCount)
		must(t, "a higher counter", use(7))
		wantErr(t, "the counter just recorded", use(7), store.ErrSignCount)

		synced := newCredential("cr-2", u, "cred-2")
		synced.SignCount = 0
		mustCreateCredential(t, s, synced)
		for range 2 {
			must(t, "a synced passkey's 0 after 0", s.RecordCredentialUse(t.Context(), synced.ID,
				store.CredentialUse{Purpose: store.UseSign, SignCount: 0, At: at(time.Minute)}))
		}
		must(t, "SetCredentialActive", s.SetCredentialActive(t.Context(), signedNew(t, s, u, "off", t0), u.ID, synced.ID, false))
		err := s.RecordCredentialUse(t.Context(), synced.ID, store.CredentialUse{Purpose: store.UseSign, SignCount: 0, At: at(time.Minute)})
		wantErr(t, "a use of an inactive credential", err, store.ErrNotFound)
	}},
	{"of concurrent uses with one counter value exactly one is recorded", func(t *testing.T, s store.Store) {
		_, u := seed(t, s)
		c := newCredential("cr-1", u, "cred-1")
		mustCreateCredential(t, s, c)
		const racers = 10
		errs := make([]error, racers)
		var wg sync.WaitGroup
		for i := range racers {
			wg.Go(func() {
				errs[i] = s.RecordCredentialUse(t.Context(), c.ID, store.CredentialUse{Purpose: store.UseLogin, SignCount: 2, At: t0})
			})
		}
		wg.Wait()
		ok := 0
		for _, err := range errs {
			if err == nil {
				ok++
			} else {
				wantErr(t, "a racing use", err, store.ErrSignCount)
			}
		}
		if ok != 1 {
			t.Fatalf("%d of %d racing uses with counter 2 were recorded, want 1", ok, racers)
		}
	}},
	{"deactivating or archiving a user revokes its login tokens and no others", func(t *testing.T, s store.Store) {
		f := newAdminFixture(t, s)
		for i, p := range []store.UserPatch{{IsActive: ptr(false)}, {IsArchived: ptr(true)}} {
			login := newToken(fmt.Sprintf("tk-bob-%d", i), f.Bob)
			mustCreateToken(t, s, login)
			aliceLogin := newToken(fmt.Sprintf("tk-alice-%d", i), f.Alice)
			mustCreateToken(t, s, aliceLogin)
			now := at(time.Duration(i+1) * time.Minute)
			must(t, "UpdateUserSigned", s.UpdateUserSigned(t.Context(), signedNew(t, s, f.Alice, fmt.Sprintf("p%d", i), now), f.Org.ID, f.Bob.ID, p))
			got, err := s.GetToken(t.Context(), login.ID)
			must(t, "GetToken of bob", err)
			equal(t, "RevokedAt of bob's login token", got.RevokedAt, ptr(now))
			other, err := s.GetToken(t.Context(), aliceLogin.ID)
			must(t, "GetToken of alice", err)
			equal(t, "RevokedAt of alice's login token", other.RevokedAt, (*time.Time)(nil))
			if i == 0 {
				must(t, "reactivate bob", s.UpdateUserSigned(t.Context(), signedNew(t, s, f.Alice, "on", now), f.Org.ID, f.Bob.ID, store.UserPatch{IsActive: ptr(true)}))
				again, err := s.GetToken(t.Context(), login.ID)
				must(t, "GetToken after reactivation", err)
				equal(t, "RevokedAt after reactivation", again.RevokedAt, ptr(now))
			}
		}
	}},
	{"ListPermissionHolders lists every identity a permission is assigned to", func(t *testing.T, s store.Store) {
		f := newAdminFixture(t, s)
		holders, err := s.ListPermissionHolders(t.Context(), f.Org.ID, f.Perm.ID)
		must(t, "ListPermissionHolders", err)
		before := len(holders)
		a := newAssignment("as-bob", f.Perm, f.Bob.ID)
		a.CreatedAt = at(time.Hour)
		mustCreateAssignment(t, s, f.Alice, a)
		holders, err = s.ListPermissionHolders(t.Context(), f.Org.ID, f.Perm.ID)
		must(t, "ListPermissionHolders", err)
		if len(holders) != before+1 || holders[len(holders)-1] != f.Bob.ID {
			t.Fatalf("holders = %v, want %d ending with %s", holders, before+1, f.Bob.ID)
		}
		none, err := s.ListPermissionHolders(t.Context(), "or-other", f.Perm.ID)
		must(t, "ListPermissionHolders of another org", err)
		equal(t, "holders in another org", none, []string{})
	}},
	{"an assignment is found in its org only", func(t *testing.T, s store.Store) {
		f := newAdminFixture(t, s)
		got, err := s.GetAssignment(t.Context(), f.Org.ID, f.Assignment.ID)
		must(t, "GetAssignment", err)
		equal(t, "assignment", got, f.Assignment)
		_, err = s.GetAssignment(t.Context(), "or-other", f.Assignment.ID)
		wantErr(t, "GetAssignment in another org", err, store.ErrNotFound)
		_, err = s.GetAssignment(t.Context(), f.Org.ID, "as-unknown")
		wantErr(t, "GetAssignment of an unknown id", err, store.ErrNotFound)
	}},
	{"a registration result is kept until it expires", func(t *testing.T, s store.Store) {
		_, u := seed(t, s)
		c := newCredential("cr-1", u, "cred-1")
		r := store.Registration{UserID: u.ID, CodeHash: hash("code-" + u.ID), Now: t0, Credentials: []store.Credential{c},
			CeremonyID: "ch-reg", RequestHash: hash("request"), ResultUntil: at(5 * time.Minute)}
		must(t, "CompleteRegistration", s.CompleteRegistration(t.Context(), r))
		got, err := s.GetRegistrationResult(t.Context(), "ch-reg", at(time.Minute))
		must(t, "GetRegistrationResult", err)
		equal(t, "registration result", got, store.RegistrationResult{
			CeremonyID: "ch-reg", UserID: u.ID, CredentialID: c.ID, RequestHash: hash("request"), ExpiresAt: at(5 * time.Minute)})
		_, err = s.GetRegistrationResult(t.Context(), "ch-reg", at(5*time.Minute))
		wantErr(t, "GetRegistrationResult once expired", err, store.ErrNotFound)
		_, err = s.GetRegistrationResult(t.Context(), "ch-unknown", t0)
		wantErr(t, "GetRegistrationResult of an unknown ceremony", err, store.ErrNotFound)
	}},
	{"an access token keeps the scope it was created with", func(t *testing.T, s store.Store) {
		f := newAdminFixture(t, s)
		for i, scope := range []string{store.ScopeAllUserOperations, store.ScopeAssignedOnly, ""} {
			tk := newAccessToken(fmt.Sprintf("to-s%d", i), f.Alice)
			tk.Scope = scope
			err := s.CreateAccessTokenSigned(t.Context(), signedNew(t, s, f.Alice, tk.ID, t0), tk, newKey(tk, "key-"+tk.ID), nil)
			if scope == "" {
				if err == nil {
					t.Fatal("a token without a scope was created")
				}
				wantNoToken(t, s, tk.ID)
				continue
			}
			must(t, "CreateAccessTokenSigned", err)
			got, err := s.GetAccessToken(t.Context(), tk.ID)
			must(t, "GetAccessToken", err)
			equal(t, "Scope", got.Scope, scope)
		}
	}},
	{"Ping writes and succeeds on a healthy store", func(t *testing.T, s store.Store) {
		for range 2 {
			must(t, "Ping", s.Ping(t.Context()))
		}
	}},
}
