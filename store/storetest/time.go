package storetest

import (
	"testing"
	"time"

	"countersign/store"
)

// wantInstant reports unless got is in UTC and is want truncated to the
// millisecond or to the microsecond (the precisions backends may keep).
func wantInstant(t *testing.T, what string, got, want time.Time) {
	t.Helper()
	if got.Location() != time.UTC {
		t.Errorf("%s: got location %s, want UTC", what, got.Location())
	}
	if !got.Equal(want.Truncate(time.Millisecond)) && !got.Equal(want.Truncate(time.Microsecond)) {
		t.Errorf("%s: got %s, want %s truncated to ms or µs", what, got, want.UTC())
	}
}

var timeTests = []test{
	{"times in another zone come back in UTC, truncated at most to the millisecond", func(t *testing.T, s store.Store) {
		zone := time.FixedZone("UTC+05:30", 5*3600+30*60)
		local := func(d time.Duration) time.Time {
			return time.Date(2030, time.March, 14, 20, 39, 26, 123_456_789, zone).Add(d)
		}
		o := store.Org{ID: "or-1", Name: "Org", CreatedAt: local(0)}
		u := newUser("us-1", o.ID, "alice@example.com")
		u.CreatedAt = local(time.Second)
		in := invitation(&o, u)
		in.Code.ExpiresAt = local(time.Hour)
		mustInvite(t, s, in)

		gotOrg, err := s.GetOrg(t.Context(), o.ID)
		must(t, "GetOrg", err)
		wantInstant(t, "org CreatedAt", gotOrg.CreatedAt, o.CreatedAt)
		gotUser, err := s.GetUser(t.Context(), u.ID)
		must(t, "GetUser", err)
		wantInstant(t, "user CreatedAt", gotUser.CreatedAt, u.CreatedAt)
		code, err := s.GetRegistrationCode(t.Context(), u.ID)
		must(t, "GetRegistrationCode", err)
		wantInstant(t, "code ExpiresAt", code.ExpiresAt, in.Code.ExpiresAt)

		c := newCredential("cr-1", u, "cred-1")
		c.CreatedAt = local(2 * time.Second)
		mustCreateCredential(t, s, c)
		must(t, "RecordCredentialUse", s.RecordCredentialUse(t.Context(), c.ID,
			store.CredentialUse{Purpose: store.UseLogin, SignCount: 2, At: local(3 * time.Second)}))
		gotCred, err := s.GetCredentialByCredID(t.Context(), c.CredID)
		must(t, "GetCredentialByCredID", err)
		wantInstant(t, "credential CreatedAt", gotCred.CreatedAt, c.CreatedAt)
		if gotCred.LastLoginAt == nil {
			t.Fatalf("credential LastLoginAt: got nil, want %s", local(3*time.Second))
		}
		wantInstant(t, "credential LastLoginAt", *gotCred.LastLoginAt, local(3*time.Second))

		tk := newToken("tk-1", u)
		tk.CreatedAt, tk.ExpiresAt = local(4*time.Second), local(time.Hour)
		mustCreateToken(t, s, tk)
		must(t, "RevokeToken", s.RevokeToken(t.Context(), tk.ID, local(5*time.Second)))
		gotToken, err := s.GetToken(t.Context(), tk.ID)
		must(t, "GetToken", err)
		wantInstant(t, "token CreatedAt", gotToken.CreatedAt, tk.CreatedAt)
		wantInstant(t, "token ExpiresAt", gotToken.ExpiresAt, tk.ExpiresAt)
		if gotToken.RevokedAt == nil {
			t.Fatalf("token RevokedAt: got nil, want %s", local(5*time.Second))
		}
		wantInstant(t, "token RevokedAt", *gotToken.RevokedAt, local(5*time.Second))

		ch := newChallenge("ch-1", u)
		ch.CreatedAt, ch.ExpiresAt = local(6*time.Second), local(time.Minute)
		mustCreateChallenge(t, s, ch)
		gotCh, err := s.ConsumeChallenge(t.Context(), ch.ID, local(7*time.Second))
		must(t, "ConsumeChallenge", err)
		wantInstant(t, "challenge CreatedAt", gotCh.CreatedAt, ch.CreatedAt)
		wantInstant(t, "challenge ExpiresAt", gotCh.ExpiresAt, ch.ExpiresAt)
	}},
	{"user action and audit times in another zone come back in UTC, truncated at most to the millisecond", func(t *testing.T, s store.Store) {
		zone := time.FixedZone("UTC-03:00", -3*3600)
		local := func(d time.Duration) time.Time {
			return time.Date(2030, time.March, 14, 12, 9, 26, 123_456_789, zone).Add(d)
		}
		_, u := seed(t, s)
		mustCreateCredential(t, s, newCredential("cr-1", u, "cred-1"))
		a := newUserAction("ua-1", u)
		a.CreatedAt, a.ExpiresAt = local(0), local(5*time.Minute)
		mustCreateUserAction(t, s, a)
		sg := signedWith(a, u, "uj-1", local(time.Minute))
		must(t, "RenameCredential", s.RenameCredential(t.Context(), sg, u.ID, "cr-1", "renamed"))

		gotAction, err := s.GetUserAction(t.Context(), a.ID)
		must(t, "GetUserAction", err)
		wantInstant(t, "user action CreatedAt", gotAction.CreatedAt, a.CreatedAt)
		wantInstant(t, "user action ExpiresAt", gotAction.ExpiresAt, a.ExpiresAt)
		if gotAction.UsedAt == nil {
			t.Fatalf("user action UsedAt: got nil, want %s", sg.Now)
		}
		wantInstant(t, "user action UsedAt", *gotAction.UsedAt, sg.Now)
		entry, err := s.GetAuditEntry(t.Context(), u.OrgID, sg.Audit.ID)
		must(t, "GetAuditEntry", err)
		wantInstant(t, "audit entry CreatedAt", entry.CreatedAt, sg.Audit.CreatedAt)
	}},
}

var expiryTests = []test{
	{"delete expired removes only expired challenges, codes and tokens", func(t *testing.T, s store.Store) {
		o, _ := seed(t, s) // us-1's code expires at t0+1h
		late := newUser("us-2", o.ID, "bob@example.com")
		in := invitation(nil, late)
		in.Code.ExpiresAt = at(3 * time.Hour)
		mustInvite(t, s, in)

		u := late
		oldCh, liveCh := newChallenge("ch-old", u), newChallenge("ch-live", u)
		oldCh.ExpiresAt, liveCh.ExpiresAt = at(time.Minute), at(3*time.Hour)
		mustCreateChallenge(t, s, oldCh)
		mustCreateChallenge(t, s, liveCh)
		oldTk, liveTk := newToken("tk-old", u), newToken("tk-live", u)
		oldTk.ExpiresAt, liveTk.ExpiresAt = at(time.Minute), at(3*time.Hour)
		mustCreateToken(t, s, oldTk)
		mustCreateToken(t, s, liveTk)
		// Revoked but not expired: must stay so that the revocation holds.
		must(t, "RevokeToken", s.RevokeToken(t.Context(), liveTk.ID, t0))

		now := at(2 * time.Hour)
		n, err := s.DeleteExpired(t.Context(), now)
		must(t, "DeleteExpired", err)
		equal(t, "rows deleted", n, 3)

		_, err = s.GetRegistrationCode(t.Context(), "us-1")
		wantErr(t, "GetRegistrationCode of the expired code", err, store.ErrNotFound)
		_, err = s.GetUser(t.Context(), "us-1")
		must(t, "GetUser of the user whose code expired", err)
		_, err = s.GetRegistrationCode(t.Context(), late.ID)
		must(t, "GetRegistrationCode of the live code", err)
		_, err = s.GetToken(t.Context(), oldTk.ID)
		wantErr(t, "GetToken of the expired token", err, store.ErrNotFound)
		_, err = s.GetToken(t.Context(), liveTk.ID)
		must(t, "GetToken of the live revoked token", err)
		_, err = s.ConsumeChallenge(t.Context(), liveCh.ID, now)
		must(t, "ConsumeChallenge of the live challenge", err)

		n, err = s.DeleteExpired(t.Context(), now)
		must(t, "second DeleteExpired", err)
		equal(t, "rows deleted by the second sweep", n, 0)
	}},
	{"delete expired removes expired user actions, used or not, and keeps audit entries", func(t *testing.T, s store.Store) {
		u, _, _ := signedFixture(t, s) // ua-1 expires at t0+5m; us-1's code at t0+1h
		actions := map[string]store.UserAction{}
		for _, id := range []string{"ua-old-unused", "ua-old-used", "ua-live-unused", "ua-live-used"} {
			a := newUserAction(id, u)
			if id == "ua-live-unused" || id == "ua-live-used" {
				a.ExpiresAt = at(time.Hour)
			}
			mustCreateUserAction(t, s, a)
			actions[id] = a
		}
		var entries []store.AuditEntry
		for i, id := range []string{"ua-old-used", "ua-live-used"} {
			sg := signedWith(actions[id], u, "uj-"+id, at(time.Duration(i)*time.Second))
			must(t, "RenameCredential with "+id, s.RenameCredential(t.Context(), sg, u.ID, "cr-1", id))
			entries = append(entries, sg.Audit)
		}

		// After the old actions (and ua-1) expired, before the code does.
		now := at(30 * time.Minute)
		n, err := s.DeleteExpired(t.Context(), now)
		must(t, "DeleteExpired", err)
		equal(t, "rows deleted", n, 3)

		for _, id := range []string{"ua-1", "ua-old-unused", "ua-old-used"} {
			_, err := s.GetUserAction(t.Context(), id)
			wantErr(t, "GetUserAction of the expired "+id, err, store.ErrNotFound)
		}
		for _, id := range []string{"ua-live-unused", "ua-live-used"} {
			_, err := s.GetUserAction(t.Context(), id)
			must(t, "GetUserAction of the live "+id, err)
		}
		equal(t, "audit entries", allAudit(t, s, u.OrgID), entries)
		_, err = s.GetRegistrationCode(t.Context(), u.ID)
		must(t, "GetRegistrationCode of the live code", err)

		n, err = s.DeleteExpired(t.Context(), at(24*time.Hour))
		must(t, "DeleteExpired a day later", err)
		equal(t, "rows deleted a day later", n, 3) // the code and both live actions
		equal(t, "audit entries a day later", allAudit(t, s, u.OrgID), entries)
	}},
}
