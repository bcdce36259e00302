package storetest

import (
	"testing"
	"time"

	"countersign/store"
)

// withCredential gives u a credential, cr-<user id>, that mustAudit renames.
func withCredential(t *testing.T, s store.Store, u store.User) store.User {
	t.Helper()
	mustCreateCredential(t, s, newCredential("cr-"+u.ID, u, "cred-"+u.ID))
	return u
}

// mustAudit writes the audit entry id of u at when, the only way entries
// are written: a signed change (a rename) with a fresh action.
func mustAudit(t *testing.T, s store.Store, u store.User, id string, when time.Time) store.AuditEntry {
	t.Helper()
	a := newUserAction("ua-"+id, u)
	a.CreatedAt, a.ExpiresAt = when, when.Add(5*time.Minute)
	mustCreateUserAction(t, s, a)
	sg := signedWith(a, u, id, when)
	if err := s.RenameCredential(t.Context(), sg, u.ID, "cr-"+u.ID, "renamed by "+id); err != nil {
		t.Fatalf("RenameCredential for audit entry %s: %v", id, err)
	}
	return sg.Audit
}

var auditTests = []test{
	{"audit entries of an org are listed oldest first", func(t *testing.T, s store.Store) {
		o, alice := seed(t, s)
		withCredential(t, s, alice)
		bob := withCredential(t, s, addUser(t, s, "us-2", o.ID, "bob@example.com"))
		o2 := newOrg("or-2")
		carol := newUser("us-3", o2.ID, "carol@example.com")
		mustInvite(t, s, invitation(&o2, carol))
		withCredential(t, s, carol)

		c := mustAudit(t, s, bob, "uj-c", at(3*time.Second))
		a := mustAudit(t, s, alice, "uj-a", at(time.Second))
		mustAudit(t, s, carol, "uj-x", at(2*time.Second))
		b := mustAudit(t, s, alice, "uj-b", at(2*time.Second))

		got, err := s.ListAuditEntries(t.Context(), store.AuditQuery{OrgID: o.ID, Start: t0, End: at(time.Hour), Limit: 10})
		must(t, "ListAuditEntries", err)
		equal(t, "audit entries of "+o.ID, got, []store.AuditEntry{listed(a), listed(b), listed(c)})
	}},
	{"audit entries are filtered by user", func(t *testing.T, s store.Store) {
		o, alice := seed(t, s)
		withCredential(t, s, alice)
		bob := withCredential(t, s, addUser(t, s, "us-2", o.ID, "bob@example.com"))
		a := mustAudit(t, s, alice, "uj-a", at(time.Second))
		mustAudit(t, s, bob, "uj-b", at(2*time.Second))
		c := mustAudit(t, s, alice, "uj-c", at(3*time.Second))

		q := store.AuditQuery{OrgID: o.ID, UserID: alice.ID, Start: t0, End: at(time.Hour), Limit: 10}
		got, err := s.ListAuditEntries(t.Context(), q)
		must(t, "ListAuditEntries of alice", err)
		equal(t, "audit entries of alice", got, []store.AuditEntry{listed(a), listed(c)})

		q.OrgID = "or-other"
		got, err = s.ListAuditEntries(t.Context(), q)
		must(t, "ListAuditEntries of alice in another org", err)
		equal(t, "audit entries of alice in another org", got, []store.AuditEntry{})
	}},
	{"audit entries are listed from the start included to the end excluded", func(t *testing.T, s store.Store) {
		o, u := seed(t, s)
		withCredential(t, s, u)
		start, end := at(time.Minute), at(2*time.Minute)
		mustAudit(t, s, u, "uj-before", start.Add(-time.Millisecond))
		first := mustAudit(t, s, u, "uj-start", start)
		last := mustAudit(t, s, u, "uj-last", end.Add(-time.Millisecond))
		mustAudit(t, s, u, "uj-end", end)

		got, err := s.ListAuditEntries(t.Context(), store.AuditQuery{OrgID: o.ID, Start: start, End: end, Limit: 10})
		must(t, "ListAuditEntries", err)
		equal(t, "audit entries in [start, end)", got, []store.AuditEntry{listed(first), listed(last)})
	}},
	{"list audit entries returns at most the limit, oldest first", func(t *testing.T, s store.Store) {
		o, u := seed(t, s)
		withCredential(t, s, u)
		c := mustAudit(t, s, u, "uj-c", at(3*time.Second))
		a := mustAudit(t, s, u, "uj-a", at(time.Second))
		b := mustAudit(t, s, u, "uj-b", at(2*time.Second))

		q := store.AuditQuery{OrgID: o.ID, Start: t0, End: at(time.Hour), Limit: 2}
		got, err := s.ListAuditEntries(t.Context(), q)
		must(t, "ListAuditEntries with limit 2", err)
		equal(t, "audit entries with limit 2", got, []store.AuditEntry{listed(a), listed(b)})

		// A limit of zero (or less) is no limit: the zero AuditQuery.Limit
		// must not silently list nothing.
		q.Limit = 0
		got, err = s.ListAuditEntries(t.Context(), q)
		must(t, "ListAuditEntries without a limit", err)
		equal(t, "audit entries without a limit", got, []store.AuditEntry{listed(a), listed(b), listed(c)})
	}},
	{"list audit entries newest first keeps the most recent within the limit", func(t *testing.T, s store.Store) {
		o, u := seed(t, s)
		withCredential(t, s, u)
		mustAudit(t, s, u, "uj-a", at(time.Second)) // the oldest: left out by the limit
		b := mustAudit(t, s, u, "uj-b", at(2*time.Second))
		c := mustAudit(t, s, u, "uj-c", at(2*time.Second)) // same millisecond: insertion order decides
		q := store.AuditQuery{OrgID: o.ID, Start: t0, End: at(time.Hour), Limit: 2, NewestFirst: true}
		got, err := s.ListAuditEntries(t.Context(), q)
		must(t, "ListAuditEntries newest first", err)
		equal(t, "audit entries newest first", got, []store.AuditEntry{listed(c), listed(b)})
	}},
	{"list audit entries is empty and not nil when none match", func(t *testing.T, s store.Store) {
		o, _ := seed(t, s)
		got, err := s.ListAuditEntries(t.Context(), store.AuditQuery{OrgID: o.ID, Start: t0, End: at(time.Hour), Limit: 10})
		must(t, "ListAuditEntries", err)
		if got == nil || len(got) != 0 {
			t.Errorf("ListAuditEntries: got %#v, want an empty non-nil slice", got)
		}
	}},
	{"an audit entry of another org or an unknown id is not found", func(t *testing.T, s store.Store) {
		o, u := seed(t, s)
		withCredential(t, s, u)
		e := mustAudit(t, s, u, "uj-1", t0)
		mustInvite(t, s, invitation(ptr(newOrg("or-2")), newUser("us-2", "or-2", "bob@example.com")))

		got, err := s.GetAuditEntry(t.Context(), o.ID, e.ID)
		must(t, "GetAuditEntry in its org", err)
		equal(t, "audit entry", got, e)
		_, err = s.GetAuditEntry(t.Context(), "or-2", e.ID)
		wantErr(t, "GetAuditEntry from another org", err, store.ErrNotFound)
		_, err = s.GetAuditEntry(t.Context(), o.ID, "uj-unknown")
		wantErr(t, "GetAuditEntry of an unknown id", err, store.ErrNotFound)
	}},
}
