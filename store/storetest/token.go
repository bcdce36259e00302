package storetest

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"countersign/store"
)

var tokenTests = []test{
	{"a created token is returned by get", func(t *testing.T, s store.Store) {
		_, u := seed(t, s)
		tk := newToken("tk-1", u)
		tk.Kind = store.TokenPAT
		mustCreateToken(t, s, tk)

		got, err := s.GetToken(t.Context(), tk.ID)
		must(t, "GetToken", err)
		equal(t, "token", got, tk)
	}},
	{"a revoked token says when it was revoked", func(t *testing.T, s store.Store) {
		_, u := seed(t, s)
		tk := newToken("tk-1", u)
		mustCreateToken(t, s, tk)

		must(t, "RevokeToken", s.RevokeToken(t.Context(), tk.ID, at(time.Minute)))
		got, err := s.GetToken(t.Context(), tk.ID)
		must(t, "GetToken", err)
		want := tk
		want.RevokedAt = ptr(at(time.Minute))
		equal(t, "token", got, want)
	}},
	{"unknown tokens are not found", func(t *testing.T, s store.Store) {
		_, err := s.GetToken(t.Context(), "tk-unknown")
		wantErr(t, "GetToken", err, store.ErrNotFound)
		err = s.RevokeToken(t.Context(), "tk-unknown", t0)
		wantErr(t, "RevokeToken", err, store.ErrNotFound)
	}},
	{"a taken token id is a conflict", func(t *testing.T, s store.Store) {
		_, u := seed(t, s)
		mustCreateToken(t, s, newToken("tk-1", u))
		err := s.CreateToken(t.Context(), newToken("tk-1", u))
		wantErr(t, "CreateToken", err, store.ErrConflict)
	}},
}

var assignmentTests = []test{
	{"an invited owner lists the assigned permission with its operations", func(t *testing.T, s store.Store) {
		o, u := newOrg("or-1"), newUser("us-1", "or-1", "alice@example.com")
		in := invitation(&o, u)
		in.Permission = &store.Permission{
			ID: "pm-1", OrgID: o.ID, Name: "Full admin",
			Operations:  []string{"Auth:Users:Read", "Auth:Users:Create", "Auth:Creds:Update"},
			IsImmutable: true, CreatedAt: t0, UpdatedAt: t0,
		}
		in.Assignment = &store.Assignment{
			ID: "as-1", OrgID: o.ID, PermissionID: "pm-1", IdentityID: u.ID,
			IsImmutable: true, CreatedAt: t0, UpdatedAt: t0,
		}
		mustInvite(t, s, in)

		got, err := s.ListAssignments(t.Context(), u.ID)
		must(t, "ListAssignments", err)
		equal(t, "assignments", got, []store.AssignmentInfo{{
			AssignmentID:   "as-1",
			PermissionID:   "pm-1",
			PermissionName: "Full admin",
			Operations:     []string{"Auth:Users:Read", "Auth:Users:Create", "Auth:Creds:Update"},
		}})
	}},
	{"archived permissions are not listed", func(t *testing.T, s store.Store) {
		o, u := seed(t, s)
		in := invitation(nil, newUser("us-2", o.ID, "bob@example.com"))
		in.Permission = &store.Permission{ID: "pm-old", OrgID: o.ID, Name: "old", Operations: []string{"A"},
			IsArchived: true, CreatedAt: t0, UpdatedAt: t0}
		in.Assignment = &store.Assignment{ID: "as-old", OrgID: o.ID, PermissionID: "pm-old", IdentityID: u.ID,
			CreatedAt: t0, UpdatedAt: t0}
		mustInvite(t, s, in)

		got, err := s.ListAssignments(t.Context(), u.ID)
		must(t, "ListAssignments", err)
		equal(t, "assignments", got, []store.AssignmentInfo{})
	}},
	{"list assignments is empty and not nil for an identity without any", func(t *testing.T, s store.Store) {
		got, err := s.ListAssignments(t.Context(), "us-unknown")
		must(t, "ListAssignments", err)
		if got == nil || len(got) != 0 {
			t.Errorf("ListAssignments: got %#v, want an empty non-nil slice", got)
		}
	}},
}

var secretTests = []test{
	{"update secret replaces the value in one step and returns it", func(t *testing.T, s store.Store) {
		_, err := s.EnsureSecret(t.Context(), "ring", []byte("one"))
		must(t, "EnsureSecret", err)
		got, err := s.UpdateSecret(t.Context(), "ring", func(cur []byte) ([]byte, error) {
			return append([]byte("two,"), cur...), nil
		})
		must(t, "UpdateSecret", err)
		equal(t, "UpdateSecret", got, []byte("two,one"))
		again, err := s.EnsureSecret(t.Context(), "ring", []byte("ignored"))
		must(t, "EnsureSecret after update", err)
		equal(t, "EnsureSecret after update", again, []byte("two,one"))
	}},
	{"update secret of an unknown name is not found", func(t *testing.T, s store.Store) {
		_, err := s.UpdateSecret(t.Context(), "nope", func(cur []byte) ([]byte, error) { return cur, nil })
		if !errors.Is(err, store.ErrNotFound) {
			t.Errorf("UpdateSecret: got %v, want ErrNotFound", err)
		}
	}},
	{"an update that fails changes nothing", func(t *testing.T, s store.Store) {
		_, err := s.EnsureSecret(t.Context(), "ring", []byte("one"))
		must(t, "EnsureSecret", err)
		boom := errors.New("boom")
		if _, err := s.UpdateSecret(t.Context(), "ring", func([]byte) ([]byte, error) { return nil, boom }); !errors.Is(err, boom) {
			t.Errorf("UpdateSecret: got %v, want the update's error", err)
		}
		got, err := s.EnsureSecret(t.Context(), "ring", []byte("ignored"))
		must(t, "EnsureSecret", err)
		equal(t, "value after failed update", got, []byte("one"))
	}},
	{"ensure secret keeps the first value and returns it on later calls", func(t *testing.T, s store.Store) {
		first := []byte{0x00, 0x01, 0xfe, 0xff}
		got, err := s.EnsureSecret(t.Context(), "jwt", first)
		must(t, "first EnsureSecret", err)
		equal(t, "first EnsureSecret", got, first)
		got, err = s.EnsureSecret(t.Context(), "jwt", []byte("second"))
		must(t, "second EnsureSecret", err)
		if !bytes.Equal(got, first) {
			t.Errorf("second EnsureSecret: got %x, want the first value %x", got, first)
		}
	}},
	{"secrets under different names are independent", func(t *testing.T, s store.Store) {
		a, err := s.EnsureSecret(t.Context(), "a", []byte("value a"))
		must(t, "EnsureSecret a", err)
		b, err := s.EnsureSecret(t.Context(), "b", []byte("value b"))
		must(t, "EnsureSecret b", err)
		equal(t, "secret a", string(a), "value a")
		equal(t, "secret b", string(b), "value b")
	}},
}
