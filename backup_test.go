package main

import (
	"net/http"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
)

// TestBackupWhileServingThenRestoreAndSignIn backs up the database of a
// running server in the middle of a burst of signed writes, restores the
// copy into a fresh data directory, serves from it and signs in with the
// same passkey.
func TestBackupWhileServingThenRestoreAndSignIn(t *testing.T) {
	live := t.TempDir()
	inv := inviteOwner(t, live)
	p := startServer(t, live)
	c := newClient(t, p.url)
	passkey := &signer{passkey: c.registerPasskey(inv)}
	tok := c.login(inv, passkey)

	var acked atomic.Int64
	going, stop := make(chan struct{}), make(chan struct{})
	results := burst(c, tok, passkey, "burst", 2, &acked, 10, going, stop)
	awaitBurst(t, going, results)
	before := acked.Load()
	file := filepath.Join(t.TempDir(), "countersign-backup.db")
	out, err := runBinary(t, "backup", file, "--data-dir", live)
	after := acked.Load()
	if err != nil {
		t.Fatalf("backup while the server writes: %v\n%s", err, out)
	}
	close(stop)
	attempts := results()
	// Writes after the copy: none of them may be in the backup.
	for i := range 3 {
		if a, sent := c.signed(tok, passkey, "POST", "/permissions", permissionBody("after-"+strconv.Itoa(i))); !sent || a.status != http.StatusOK {
			t.Fatalf("a write after the backup: %+v", a)
		}
	}
	if !strings.Contains(out, "Backed up") {
		t.Fatalf("backup output: %s", out)
	}

	t.Run("restore refuses the database of the running server", func(t *testing.T) {
		out, err := runBinary(t, "restore", file, "--data-dir", live, "--replace")
		var exit *exec.ExitError
		if err == nil || !asExit(err, &exit) || !strings.Contains(out, "in use") {
			t.Fatalf("restore over a database in use: %v\n%s", err, out)
		}
	})

	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := p.wait(); err != nil {
		t.Fatalf("the first server did not stop cleanly: %v", err)
	}
	c.checkNoSecretInLog(p.logText())

	fresh := filepath.Join(t.TempDir(), "restored")
	if out, err := runBinary(t, "restore", file, "--data-dir", fresh); err != nil || !strings.Contains(out, "Restored") {
		t.Fatalf("restore into a fresh data dir: %v\n%s", err, out)
	}
	p2 := startServer(t, fresh)
	c2 := newClient(t, p2.url)
	c2.must(http.StatusOK, "GET", "/readyz", nil)
	tok2 := c2.login(inv, passkey) // the same passkey, on the restored server
	c2.must(http.StatusOK, "GET", "/auth/credentials", nil, "Authorization", "Bearer "+tok2)

	// The copy is one snapshot: every permission it has comes with its
	// audit entry and consumed user action, and it has at least what was
	// acknowledged before the backup began and nothing written after it.
	if err := p2.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := p2.wait(); err != nil {
		t.Fatal(err)
	}
	state, done := readState(t, filepath.Join(fresh, "countersign.db"), inv.OrgID)
	defer done()
	for name := range state.permissions {
		if strings.HasPrefix(name, "after-") {
			t.Errorf("permission %s, written after the backup, is in it", name)
		}
	}
	n := 0
	for _, a := range attempts {
		perm, audit, used := state.permissions[a.name], state.audited[a.actionID], state.used(a.actionID)
		if perm != audit || audit != used {
			t.Errorf("%s in the backup: permission %v, audit entry %v, action used %v: not one snapshot", a.name, perm, audit, used)
		}
		if perm {
			n++
		}
	}
	if int64(n) < before || int64(n) > after {
		t.Fatalf("the backup holds %d of the burst's permissions; %d were acknowledged before it began, %d when it ended", n, before, after)
	}
	c2.checkNoSecretInLog(p2.logText())
}

func asExit(err error, target **exec.ExitError) bool {
	e, ok := err.(*exec.ExitError)
	*target = e
	return ok
}
