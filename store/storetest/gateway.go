package storetest

import (
	"sync"
	"testing"
	"time"

	"countersign/store"
)

// The gateway's records: a forwarded request is spent and audited before
// it leaves, and its audit entry learns what the upstream answered.
var gatewayTests = []test{
	{"a signed request is recorded once: the action spent and its audit entry written together", func(t *testing.T, s store.Store) {
		o, u := seed(t, s)
		a := newUserAction("ua-1", u)
		a.Method, a.Path, a.Payload = "POST", "/api/orders", []byte(`{"amount":1}`)
		mustCreateUserAction(t, s, a)
		sg := signedWith(a, u, "uj-1", at(time.Minute))
		sg.Audit.Upstream = "orders"
		must(t, "RecordSignedRequest", s.RecordSignedRequest(t.Context(), sg))
		got, err := s.GetUserAction(t.Context(), a.ID)
		must(t, "GetUserAction", err)
		equal(t, "UsedAt", got.UsedAt, ptr(at(time.Minute)))
		equal(t, "audit", allAudit(t, s, o.ID), []store.AuditEntry{sg.Audit})

		again := signedWith(a, u, "uj-2", at(2*time.Minute))
		wantErr(t, "RecordSignedRequest with the spent action", s.RecordSignedRequest(t.Context(), again), store.ErrActionUsed)
		equal(t, "audit after the refusal", allAudit(t, s, o.ID), []store.AuditEntry{sg.Audit})
	}},
	{"of concurrent records of one action exactly one succeeds", func(t *testing.T, s store.Store) {
		o, u := seed(t, s)
		a := newUserAction("ua-1", u)
		mustCreateUserAction(t, s, a)
		const n = 10
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				sg := signedWith(a, u, "uj-"+string(rune('a'+i)), at(time.Minute))
				sg.Audit.Upstream = "orders"
				errs[i] = s.RecordSignedRequest(t.Context(), sg)
			})
		}
		wg.Wait()
		ok := 0
		for _, err := range errs {
			if err == nil {
				ok++
			} else {
				wantErr(t, "a losing record", err, store.ErrActionUsed)
			}
		}
		if ok != 1 || len(allAudit(t, s, o.ID)) != 1 {
			t.Fatalf("%d records succeeded, %d audit entries; want 1 and 1", ok, len(allAudit(t, s, o.ID)))
		}
	}},
	{"the upstream's answer is added to its audit entry, and only to one of an upstream in the org", func(t *testing.T, s store.Store) {
		o, u := seed(t, s)
		a := newUserAction("ua-1", u)
		mustCreateUserAction(t, s, a)
		sg := signedWith(a, u, "uj-1", at(time.Minute))
		sg.Audit.Upstream = "orders"
		must(t, "RecordSignedRequest", s.RecordSignedRequest(t.Context(), sg))
		must(t, "SetAuditUpstreamStatus", s.SetAuditUpstreamStatus(t.Context(), o.ID, "uj-1", "201"))
		got, err := s.GetAuditEntry(t.Context(), o.ID, "uj-1")
		must(t, "GetAuditEntry", err)
		equal(t, "UpstreamStatus", got.UpstreamStatus, "201")
		wantErr(t, "SetAuditUpstreamStatus in another org", s.SetAuditUpstreamStatus(t.Context(), "or-x", "uj-1", "500"), store.ErrNotFound)

		withCredential(t, s, u)
		own := mustAudit(t, s, u, "uj-own", at(time.Minute))
		wantErr(t, "SetAuditUpstreamStatus of an entry of countersign's own", s.SetAuditUpstreamStatus(t.Context(), o.ID, own.ID, "200"), store.ErrNotFound)
	}},
}
