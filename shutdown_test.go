package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"countersign/store"
	"countersign/store/sqlite"
)

// permissionBody is a signed change that leaves a row of its own: a
// permission named name.
func permissionBody(name string) []byte {
	return []byte(`{"name":"` + name + `","operations":["Auth:Users:Read"]}`)
}

// attempt is one signed POST /permissions of the burst.
type attempt struct {
	name string
	signedAttempt
}

// dbState is what the database holds of the signed changes.
type dbState struct {
	permissions map[string]bool // by name
	audited     map[string]bool // by user action id
	used        func(actionID string) bool
}

func readState(t *testing.T, dbPath, orgID string) (dbState, func()) {
	t.Helper()
	st, err := sqlite.Open(ctx(), dbPath, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s := dbState{permissions: map[string]bool{}, audited: map[string]bool{}}
	perms, err := st.ListPermissions(ctx(), store.PageQuery{OrgID: orgID, Limit: 100_000})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range perms {
		s.permissions[p.Name] = true
	}
	entries, err := st.ListAuditEntries(ctx(), store.AuditQuery{OrgID: orgID, Start: time.Unix(0, 0), End: time.Now().Add(time.Hour), Limit: 100_000})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		s.audited[e.ActionID] = true
	}
	s.used = func(id string) bool {
		ua, err := st.GetUserAction(ctx(), id)
		if errors.Is(err, store.ErrNotFound) {
			return false // a backup taken before the action was approved
		}
		if err != nil {
			t.Fatalf("user action %s: %v", store.Ref(id), err)
		}
		return ua.UsedAt != nil
	}
	return s, func() { st.Close() }
}

// burst runs workers that create permissions through signed requests until
// stop is closed or the server stops answering. When threshold actions
// have been acknowledged it closes reached. The function it returns waits
// for the workers and returns every attempt whose real request was sent.
func burst(c *client, tok string, s *signer, prefix string, workers int, acked *atomic.Int64, threshold int64, reached chan<- struct{}, stop <-chan struct{}) func() []attempt {
	var mu sync.Mutex
	var all []attempt
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				name := fmt.Sprintf("%s-%d-%d", prefix, w, i)
				a, sent := c.signed(tok, s, "POST", "/permissions", permissionBody(name))
				if !sent {
					return // the server no longer answers: shut down
				}
				mu.Lock()
				all = append(all, attempt{name: name, signedAttempt: a})
				mu.Unlock()
				if a.err != nil {
					return
				}
				if a.status == http.StatusOK && acked.Add(1) == threshold {
					close(reached)
				}
			}
		})
	}
	return func() []attempt {
		wg.Wait()
		return all
	}
}

// awaitBurst waits until the burst has had its threshold of acknowledged
// actions, failing t if its workers all stopped before.
func awaitBurst(t *testing.T, reached <-chan struct{}, results func() []attempt) {
	t.Helper()
	ended := make(chan []attempt, 1)
	go func() { ended <- results() }()
	select {
	case <-reached:
	case all := <-ended:
		select {
		case <-reached:
			return
		default:
		}
		last := "none"
		if len(all) > 0 {
			last = fmt.Sprintf("%+v", all[len(all)-1])
		}
		t.Fatalf("the burst stopped after %d attempts before enough were acknowledged; last: %s", len(all), last)
	}
}

// TestSIGTERMFinishesRequestsInFlight stops a real server with SIGTERM in
// the middle of a burst of signed actions. Every acknowledged action must
// be in the database, whole (permission, audit entry, consumed user
// action); every unacknowledged one either whole or not at all.
func TestSIGTERMFinishesRequestsInFlight(t *testing.T) {
	data := t.TempDir()
	inv := inviteOwner(t, data)
	p := startServer(t, data, "--shutdown-timeout", "30s")
	c := newClient(t, p.url)
	s := &signer{key: c.registerKey(inv)}
	tok := c.login(inv, s)

	// One request is held in flight: its headers and half its body are
	// sent before SIGTERM, the rest after the server says it is shutting
	// down. It must still be served.
	slowBody := permissionBody("in-flight")
	slowAction := c.approve(tok, s, "POST", "/permissions", slowBody)
	conn, err := net.Dial("tcp", strings.TrimPrefix(p.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /permissions HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nAuthorization: Bearer %s\r\nX-DFNS-USERACTION: %s\r\nContent-Length: %d\r\n\r\n%s",
		tok, slowAction, len(slowBody), slowBody[:10])

	// SIGTERM once the burst has had some acknowledged actions.
	var acked atomic.Int64
	enough := make(chan struct{})
	results := burst(c, tok, s, "burst", 4, &acked, 20, enough, nil)
	awaitBurst(t, enough, results)
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	p.waitLog(t, "shutting down")
	if _, err := conn.Write(slowBody[10:]); err != nil {
		t.Fatalf("the request in flight lost its connection: %v", err)
	}
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("the request in flight got no answer: %v", err)
	}
	io.Copy(io.Discard, res.Body)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("the request in flight answered %d, want 200", res.StatusCode)
	}
	attempts := results()
	if err := p.wait(); err != nil {
		t.Fatalf("countersign exited with %v after SIGTERM, want a clean exit", err)
	}
	if !strings.Contains(p.logText(), `"msg":"stopped"`) {
		t.Fatalf("no clean stop in the log:\n%s", p.logText())
	}

	state, done := readState(t, filepath.Join(data, "countersign.db"), inv.OrgID)
	defer done()
	attempts = append(attempts, attempt{name: "in-flight", signedAttempt: signedAttempt{actionID: slowAction, status: http.StatusOK}})
	var ackedN, appliedUnacked, droppedUnacked int
	for _, a := range attempts {
		perm, audit, used := state.permissions[a.name], state.audited[a.actionID], state.used(a.actionID)
		switch {
		case a.status == http.StatusOK:
			ackedN++
			if !perm || !audit || !used {
				t.Errorf("acknowledged %s: permission %v, audit entry %v, action used %v; want all three", a.name, perm, audit, used)
			}
		case perm != audit || audit != used:
			t.Errorf("unacknowledged %s (status %d, %v) is half applied: permission %v, audit entry %v, action used %v", a.name, a.status, a.err, perm, audit, used)
		case perm:
			appliedUnacked++
		default:
			droppedUnacked++
		}
	}
	if ackedN < 21 {
		t.Fatalf("only %d actions were acknowledged: the burst did not run", ackedN)
	}
	t.Logf("%d acknowledged, %d unacknowledged but applied, %d unacknowledged and not applied", ackedN, appliedUnacked, droppedUnacked)
	c.checkNoSecretInLog(p.logText())
}
