package sqlite

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"countersign/store"
)

func seedOrg(t *testing.T, s *Store) (store.Org, store.User) {
	t.Helper()
	now := time.Now().UTC().Truncate(time.Millisecond)
	org := store.Org{ID: store.NewID("or"), Name: "org", CreatedAt: now}
	u := store.User{ID: store.NewID("us"), OrgID: org.ID, Username: "alice", Kind: store.KindCustomerEmployee, UserHandle: store.NewID("uh"), IsActive: true, CreatedAt: now}
	if err := s.Invite(context.Background(), store.Invitation{Org: &org, User: u, Code: store.RegistrationCode{UserID: u.ID, CodeHash: []byte("h"), ExpiresAt: now.Add(time.Hour)}}); err != nil {
		t.Fatal(err)
	}
	return org, u
}

func TestBackupDuringWritesAndRestore(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	live, err := Open(ctx, filepath.Join(dir, "live.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	org, u := seedOrg(t, live)

	// A writer records tokens until told to stop; acked counts the
	// committed ones.
	var acked atomic.Int64
	stop, going := make(chan struct{}), make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			now := time.Now().UTC()
			if err := live.CreateToken(ctx, store.Token{ID: fmt.Sprintf("to-%06d", i), Kind: store.TokenLogin, OrgID: org.ID, UserID: u.ID, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
				t.Errorf("write %d: %v", i, err)
				return
			}
			if acked.Add(1) == 50 {
				close(going)
			}
		}
	}()
	<-going
	before := acked.Load()
	backup := filepath.Join(dir, "backup.db")
	snap, err := live.Backup(ctx, backup)
	after := acked.Load()
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatalf("Backup: %v", err)
	}
	if fi, err := os.Stat(backup); err != nil || fi.Mode().Perm() != 0o600 || snap.Bytes != fi.Size() {
		t.Fatalf("backup file: %v %v, snapshot %+v", fi, err, snap)
	}

	restored := filepath.Join(dir, "fresh", "countersign.db")
	if _, err := Restore(ctx, backup, restored, false); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	st, err := Open(ctx, restored, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.GetUser(ctx, u.ID); err != nil {
		t.Fatalf("the restored database lost the user: %v", err)
	}
	// Tokens are written in order: the snapshot holds a prefix of them,
	// at least those acknowledged before the backup began.
	n := 0
	for ; ; n++ {
		if _, err := st.GetToken(ctx, fmt.Sprintf("to-%06d", n)); err != nil {
			break
		}
	}
	if int64(n) < before || int64(n) > after {
		t.Fatalf("the backup holds %d tokens; %d were acknowledged before it began, %d when it ended", n, before, after)
	}
	for i := n + 1; i < n+5; i++ {
		if _, err := st.GetToken(ctx, fmt.Sprintf("to-%06d", i)); err == nil {
			t.Fatalf("the backup holds token %d but not %d: not one snapshot", i, n)
		}
	}
}

func TestRestoreRefusesADatabaseInUse(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	src, err := Open(ctx, filepath.Join(dir, "src.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	seedOrg(t, src)
	backup := filepath.Join(dir, "backup.db")
	if _, err := src.Backup(ctx, backup); err != nil {
		t.Fatal(err)
	}
	src.Close()

	target := filepath.Join(dir, "target.db")
	open, err := Open(ctx, target, Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, u := seedOrg(t, open)
	if _, err := Restore(ctx, backup, target, true); !errors.Is(err, ErrInUse) {
		t.Fatalf("Restore over an open database: %v, want ErrInUse", err)
	}
	open.Close()

	t.Run("an existing database is replaced only when asked", func(t *testing.T) {
		if _, err := Restore(ctx, backup, target, false); err == nil || !strings.Contains(err.Error(), "--replace") {
			t.Fatalf("Restore over an existing database without replace: %v", err)
		}
		snap, err := Restore(ctx, backup, target, true)
		if err != nil {
			t.Fatal(err)
		}
		aside, err := Open(ctx, snap.Replaced, Options{SkipMigrations: true})
		if err != nil {
			t.Fatalf("the replaced database was not kept aside: %v", err)
		}
		defer aside.Close()
		if _, err := aside.GetUser(ctx, u.ID); err != nil {
			t.Fatalf("the copy kept aside lost the replaced database's user: %v", err)
		}
	})

	t.Run("nothing opens the database while a restore holds it", func(t *testing.T) {
		l, err := lockExclusive(target)
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		if _, err := Open(ctx, target, Options{}); !errors.Is(err, ErrInUse) {
			t.Fatalf("Open during a restore: %v, want ErrInUse", err)
		}
	})

	t.Run("a file that is not a countersign database is refused", func(t *testing.T) {
		junk := filepath.Join(dir, "junk.db")
		os.WriteFile(junk, []byte("not a database at all"), 0o600)
		if _, err := Restore(ctx, junk, filepath.Join(dir, "other.db"), false); err == nil {
			t.Fatal("a junk file was restored")
		}
		if _, err := os.Stat(filepath.Join(dir, "other.db")); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("a refused restore left a database behind: %v", err)
		}
	})
}
