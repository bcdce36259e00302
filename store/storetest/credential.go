package storetest

import (
	"testing"
	"time"

	"countersign/store"
)

var credentialTests = []test{
	{"a credential round-trips every field", func(t *testing.T, s store.Store) {
		_, u := seed(t, s)
		c := newCredential("cr-1", u, "Y3JlZC0x")
		c.SignCount = 1<<32 - 1
		c.LastLoginAt = ptr(at(time.Minute))
		c.LastSignAt = ptr(at(2 * time.Minute))
		mustCreateCredential(t, s, c)

		got, err := s.GetCredentialByCredID(t.Context(), c.CredID)
		must(t, "GetCredentialByCredID", err)
		equal(t, "credential", got, c)
	}},
	{"a token's key credential round-trips its token id through create, get and list", func(t *testing.T, s store.Store) {
		_, u := seed(t, s)
		fido := newCredential("cr-1", u, "cred-1")
		key := newCredential("cr-2", u, "cred-2")
		key.Kind, key.PublicKey, key.TokenID = store.CredentialKey, []byte(pem), "to-1"
		key.CreatedAt = at(time.Second)
		mustCreateCredential(t, s, fido)
		mustCreateCredential(t, s, key)

		got, err := s.GetCredential(t.Context(), key.ID)
		must(t, "GetCredential", err)
		equal(t, "GetCredential", got, key)
		got, err = s.GetCredentialByCredID(t.Context(), key.CredID)
		must(t, "GetCredentialByCredID", err)
		equal(t, "GetCredentialByCredID", got, key)
		list, err := s.ListCredentials(t.Context(), u.ID)
		must(t, "ListCredentials", err)
		equal(t, "ListCredentials", list, []store.Credential{fido, key})
		equal(t, "TokenID of a user's own credential", list[0].TokenID, "")
	}},
	{"credential flags round-trip independently", func(t *testing.T, s store.Store) {
		_, u := seed(t, s)
		a := newCredential("cr-a", u, "cred-a")
		a.UserPresent, a.UserVerified, a.BackupEligible, a.BackupState, a.IsActive = true, false, true, false, true
		b := newCredential("cr-b", u, "cred-b")
		b.UserPresent, b.UserVerified, b.BackupEligible, b.BackupState, b.IsActive = false, true, false, true, false
		for _, c := range []store.Credential{a, b} {
			mustCreateCredential(t, s, c)
			got, err := s.GetCredentialByCredID(t.Context(), c.CredID)
			must(t, "GetCredentialByCredID", err)
			equal(t, "credential "+c.ID, got, c)
		}
	}},
	{"a key credential without optional fields round-trips", func(t *testing.T, s store.Store) {
		_, u := seed(t, s)
		c := store.Credential{
			ID:        "cr-key",
			OrgID:     u.OrgID,
			UserID:    u.ID,
			Kind:      store.CredentialKey,
			CredID:    "key-cred",
			Name:      "api key",
			PublicKey: []byte("-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----\n"),
			CreatedAt: t0,
		}
		mustCreateCredential(t, s, c)
		got, err := s.GetCredentialByCredID(t.Context(), c.CredID)
		must(t, "GetCredentialByCredID", err)
		equal(t, "credential", got, c)
		if got.LastLoginAt != nil || got.LastSignAt != nil {
			t.Errorf("LastLoginAt, LastSignAt: got %v, %v, want nil, nil", got.LastLoginAt, got.LastSignAt)
		}
	}},
	{"a credential id taken by another user is a conflict", func(t *testing.T, s store.Store) {
		o, u := seed(t, s)
		other := addUser(t, s, "us-2", o.ID, "bob@example.com")
		first := newCredential("cr-1", u, "cred-1")
		mustCreateCredential(t, s, first)

		err := s.CreateCredential(t.Context(), newCredential("cr-2", other, "cred-1"))
		wantErr(t, "CreateCredential", err, store.ErrConflict)
		got, err := s.GetCredentialByCredID(t.Context(), "cred-1")
		must(t, "GetCredentialByCredID", err)
		equal(t, "credential", got, first)
	}},
	{"an unknown credential id is not found", func(t *testing.T, s store.Store) {
		_, err := s.GetCredentialByCredID(t.Context(), "cred-unknown")
		wantErr(t, "GetCredentialByCredID", err, store.ErrNotFound)
	}},
	{"a credential is found by its id", func(t *testing.T, s store.Store) {
		_, u := seed(t, s)
		c := newCredential("cr-1", u, "cred-1")
		c.LastSignAt = ptr(at(time.Minute))
		mustCreateCredential(t, s, c)
		mustCreateCredential(t, s, newCredential("cr-2", u, "cred-2"))

		got, err := s.GetCredential(t.Context(), c.ID)
		must(t, "GetCredential", err)
		equal(t, "credential", got, c)
	}},
	{"get credential of an unknown id is not found", func(t *testing.T, s store.Store) {
		_, u := seed(t, s)
		mustCreateCredential(t, s, newCredential("cr-1", u, "cred-1"))
		_, err := s.GetCredential(t.Context(), "cr-unknown")
		wantErr(t, "GetCredential", err, store.ErrNotFound)
		// The wire credId is not the id.
		_, err = s.GetCredential(t.Context(), "cred-1")
		wantErr(t, "GetCredential by credId", err, store.ErrNotFound)
	}},
	{"list credentials is empty and not nil for a user without any", func(t *testing.T, s store.Store) {
		_, u := seed(t, s)
		creds, err := s.ListCredentials(t.Context(), u.ID)
		must(t, "ListCredentials", err)
		if creds == nil || len(creds) != 0 {
			t.Errorf("ListCredentials: got %#v, want an empty non-nil slice", creds)
		}
	}},
	{"list credentials returns only the user's, oldest first", func(t *testing.T, s store.Store) {
		o, u := seed(t, s)
		other := addUser(t, s, "us-2", o.ID, "bob@example.com")
		newer := newCredential("cr-a", u, "cred-a")
		newer.CreatedAt = at(time.Hour)
		older := newCredential("cr-b", u, "cred-b")
		mustCreateCredential(t, s, newer)
		mustCreateCredential(t, s, newCredential("cr-other", other, "cred-other"))
		mustCreateCredential(t, s, older)

		got, err := s.ListCredentials(t.Context(), u.ID)
		must(t, "ListCredentials", err)
		equal(t, "credentials", got, []store.Credential{older, newer})
	}},
	{"recording a login updates the counter, the flags and the last login only", func(t *testing.T, s store.Store) {
		_, u := seed(t, s)
		c := newCredential("cr-1", u, "cred-1")
		mustCreateCredential(t, s, c)

		use := store.CredentialUse{Purpose: store.UseLogin, SignCount: 7, UserVerified: true, BackupState: true, At: at(5 * time.Minute)}
		must(t, "RecordCredentialUse", s.RecordCredentialUse(t.Context(), c.ID, use))
		got, err := s.GetCredentialByCredID(t.Context(), c.CredID)
		must(t, "GetCredentialByCredID", err)
		want := c
		want.SignCount, want.UserVerified, want.BackupState = 7, true, true
		want.LastLoginAt = ptr(use.At)
		equal(t, "credential", got, want)
	}},
	{"recording a signature updates the counter, the flags and the last signature only", func(t *testing.T, s store.Store) {
		_, u := seed(t, s)
		c := newCredential("cr-1", u, "cred-1")
		c.UserVerified, c.BackupState = true, true
		c.LastLoginAt = ptr(at(time.Minute))
		mustCreateCredential(t, s, c)

		use := store.CredentialUse{Purpose: store.UseSign, SignCount: 9, UserVerified: false, BackupState: false, At: at(5 * time.Minute)}
		must(t, "RecordCredentialUse", s.RecordCredentialUse(t.Context(), c.ID, use))
		got, err := s.GetCredentialByCredID(t.Context(), c.CredID)
		must(t, "GetCredentialByCredID", err)
		want := c
		want.SignCount, want.UserVerified, want.BackupState = 9, false, false
		want.LastSignAt = ptr(use.At)
		equal(t, "credential", got, want)
	}},
	{"recording the use of an unknown credential is not found", func(t *testing.T, s store.Store) {
		err := s.RecordCredentialUse(t.Context(), "cr-unknown",
			store.CredentialUse{Purpose: store.UseLogin, SignCount: 1, At: t0})
		wantErr(t, "RecordCredentialUse", err, store.ErrNotFound)
	}},
}
