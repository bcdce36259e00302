package storetest

import (
	"testing"
	"time"

	"countersign/store"
)

// wantUnregistered checks that a failed CompleteRegistration wrote nothing:
// the user is still unregistered, has no credentials and keeps its code.
func wantUnregistered(t *testing.T, s store.Store, u store.User) {
	t.Helper()
	got, err := s.GetUser(t.Context(), u.ID)
	must(t, "GetUser", err)
	equal(t, "IsRegistered", got.IsRegistered, false)
	creds, err := s.ListCredentials(t.Context(), u.ID)
	must(t, "ListCredentials", err)
	equal(t, "credentials", creds, []store.Credential{})
	code, err := s.GetRegistrationCode(t.Context(), u.ID)
	must(t, "GetRegistrationCode", err)
	equal(t, "registration code", code, codeOf(u.ID))
}

var registrationTests = []test{
	{"a renewed registration code replaces the old one", func(t *testing.T, s store.Store) {
		_, u := seed(t, s)
		renewed := store.RegistrationCode{UserID: u.ID, CodeHash: hash("new code"), ExpiresAt: at(48 * time.Hour)}
		must(t, "RenewRegistrationCode", s.RenewRegistrationCode(t.Context(), renewed))
		got, err := s.GetRegistrationCode(t.Context(), u.ID)
		must(t, "GetRegistrationCode", err)
		equal(t, "renewed code", got, renewed)
		err = completeRegistration(t, s, u.ID, hash("code-"+u.ID), at(time.Minute), []store.Credential{newCredential("cr-1", u, "cred-1")})
		wantErr(t, "CompleteRegistration with the old code", err, store.ErrNotFound)
		must(t, "CompleteRegistration with the new code", completeRegistration(t, s, u.ID, hash("new code"), at(time.Minute), []store.Credential{newCredential("cr-1", u, "cred-1")}))
	}},
	{"a registered or unknown user gets no renewed code", func(t *testing.T, s store.Store) {
		_, u := seed(t, s)
		must(t, "CompleteRegistration", completeRegistration(t, s, u.ID, hash("code-"+u.ID), at(time.Minute), []store.Credential{newCredential("cr-1", u, "cred-1")}))
		err := s.RenewRegistrationCode(t.Context(), store.RegistrationCode{UserID: u.ID, CodeHash: hash("again"), ExpiresAt: at(time.Hour)})
		wantErr(t, "RenewRegistrationCode of a registered user", err, store.ErrNotFound)
		_, err = s.GetRegistrationCode(t.Context(), u.ID)
		wantErr(t, "GetRegistrationCode after the refused renewal", err, store.ErrNotFound)
		err = s.RenewRegistrationCode(t.Context(), store.RegistrationCode{UserID: "us-unknown", CodeHash: hash("x"), ExpiresAt: at(time.Hour)})
		wantErr(t, "RenewRegistrationCode of an unknown user", err, store.ErrNotFound)
	}},
	{"a user without a registration code has none to get", func(t *testing.T, s store.Store) {
		_, err := s.GetRegistrationCode(t.Context(), "us-unknown")
		wantErr(t, "GetRegistrationCode", err, store.ErrNotFound)
	}},
	{"complete registration consumes the code, stores the credentials and marks the user registered", func(t *testing.T, s store.Store) {
		_, u := seed(t, s)
		c1 := newCredential("cr-1", u, "cred-1")
		c2 := newCredential("cr-2", u, "cred-2")
		c2.CreatedAt = at(time.Second)
		err := completeRegistration(t, s, u.ID, hash("code-"+u.ID), at(time.Minute), []store.Credential{c1, c2})
		must(t, "CompleteRegistration", err)

		got, err := s.GetUser(t.Context(), u.ID)
		must(t, "GetUser", err)
		want := u
		want.IsRegistered = true
		equal(t, "user", got, want)
		creds, err := s.ListCredentials(t.Context(), u.ID)
		must(t, "ListCredentials", err)
		equal(t, "credentials", creds, []store.Credential{c1, c2})
		_, err = s.GetRegistrationCode(t.Context(), u.ID)
		wantErr(t, "GetRegistrationCode after registration", err, store.ErrNotFound)
	}},
	{"complete registration with a wrong code is not found and writes nothing", func(t *testing.T, s store.Store) {
		_, u := seed(t, s)
		err := completeRegistration(t, s, u.ID, hash("wrong code"), at(time.Minute), []store.Credential{newCredential("cr-1", u, "cred-1")})
		wantErr(t, "CompleteRegistration", err, store.ErrNotFound)
		wantUnregistered(t, s, u)
	}},
	{"complete registration with an expired code is not found and writes nothing", func(t *testing.T, s store.Store) {
		_, u := seed(t, s)
		err := completeRegistration(t, s, u.ID, hash("code-"+u.ID), at(2*time.Hour), []store.Credential{newCredential("cr-1", u, "cred-1")})
		wantErr(t, "CompleteRegistration", err, store.ErrNotFound)
		wantUnregistered(t, s, u)
	}},
	{"complete registration a second time is not found and adds nothing", func(t *testing.T, s store.Store) {
		_, u := seed(t, s)
		first := newCredential("cr-1", u, "cred-1")
		must(t, "first CompleteRegistration", completeRegistration(t, s, u.ID, hash("code-"+u.ID), t0, []store.Credential{first}))
		err := completeRegistration(t, s, u.ID, hash("code-"+u.ID), t0, []store.Credential{newCredential("cr-2", u, "cred-2")})
		wantErr(t, "second CompleteRegistration", err, store.ErrNotFound)

		creds, err := s.ListCredentials(t.Context(), u.ID)
		must(t, "ListCredentials", err)
		equal(t, "credentials", creds, []store.Credential{first})
	}},
	{"complete registration with a taken credential id is a conflict and keeps the code", func(t *testing.T, s store.Store) {
		o, u := seed(t, s)
		other := addUser(t, s, "us-2", o.ID, "bob@example.com")
		mustCreateCredential(t, s, newCredential("cr-other", other, "cred-taken"))

		err := completeRegistration(t, s, u.ID, hash("code-"+u.ID), t0, []store.Credential{
			newCredential("cr-1", u, "cred-new"),
			newCredential("cr-2", u, "cred-taken"),
		})
		wantErr(t, "CompleteRegistration", err, store.ErrConflict)
		wantUnregistered(t, s, u)
		_, err = s.GetCredentialByCredID(t.Context(), "cred-new")
		wantErr(t, "GetCredentialByCredID of the rolled back credential", err, store.ErrNotFound)

		// The code was not spent: registering again with fresh credentials works.
		must(t, "CompleteRegistration retried", completeRegistration(t, s, u.ID, hash("code-"+u.ID), t0, []store.Credential{newCredential("cr-1", u, "cred-new")}))
	}},
	{"complete registration for an unknown user is not found", func(t *testing.T, s store.Store) {
		_, u := seed(t, s)
		stranger := u
		stranger.ID = "us-unknown"
		err := completeRegistration(t, s, "us-unknown", hash("code-us-unknown"), t0, []store.Credential{newCredential("cr-1", stranger, "cred-1")})
		wantErr(t, "CompleteRegistration", err, store.ErrNotFound)
	}},
}

// completeRegistration completes u's registration as a ceremony would: its
// result recorded under a fresh ceremony id, kept for an hour.
func completeRegistration(t *testing.T, s store.Store, userID string, codeHash []byte, now time.Time, creds []store.Credential) error {
	t.Helper()
	return s.CompleteRegistration(t.Context(), store.Registration{
		UserID: userID, CodeHash: codeHash, Now: now, Credentials: creds,
		CeremonyID: store.NewID("ch"), RequestHash: hash("request of " + userID), ResultUntil: now.Add(time.Hour),
	})
}
