package sqlite

import (
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"countersign/store"
)

func openTest(t *testing.T) *Store {
	t.Helper()
	s, err := Open(t.Context(), filepath.Join(t.TempDir(), "countersign.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// holdWriter runs a unit that blocks the writer until release is called,
// so that the writes started meanwhile queue behind it.
func holdWriter(t *testing.T, s *Store) (release func()) {
	t.Helper()
	started, stop := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- s.writer.Write(t.Context(), func(tx *sql.Tx) error {
			close(started)
			<-stop
			_, err := tx.Exec(`INSERT INTO spent_challenge (id, expires_at) VALUES ('held', 1)`)
			return err
		})
	}()
	<-started
	return func() {
		close(stop)
		if err := <-done; err != nil {
			t.Errorf("the holding unit: %v", err)
		}
	}
}

// waitQueued returns once n units wait for the writer.
func waitQueued(s *Store, n int) {
	for len(s.writer.jobs) < n {
		runtime.Gosched()
	}
}

func spend(s *Store, id string) error {
	return s.SpendChallenge(context.Background(), store.SpentChallenge{ID: id, ExpiresAt: time.Now().Add(time.Hour)})
}

func TestWritesArrivingDuringACommitAreCommittedTogether(t *testing.T) {
	s := openTest(t)
	tx0, units0 := s.WriterStats()
	commits0 := s.Commits()
	release := holdWriter(t, s)
	const n = 10
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { errs[i] = spend(s, fmt.Sprint("sc-", i)) })
	}
	waitQueued(s, n)
	release()
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("write %d: %v", i, err)
		}
	}
	tx, units := s.WriterStats()
	if tx-tx0 != 2 || units-units0 != n+1 {
		t.Errorf("the holder and %d queued writes took %d transactions for %d units, want 2 for %d", n, tx-tx0, units-units0, n+1)
	}
	if c := s.Commits() - commits0; c != 2 {
		t.Errorf("SQLite committed %d times, want 2", c)
	}
	for i := range n {
		if err := spend(s, fmt.Sprint("sc-", i)); !errors.Is(err, store.ErrConflict) {
			t.Errorf("write %d is not there: spending it again gave %v, want a conflict", i, err)
		}
	}
}

func TestAFailingWriteInABatchRollsBackAlone(t *testing.T) {
	s := openTest(t)
	if err := spend(s, "taken"); err != nil {
		t.Fatal(err)
	}
	release := holdWriter(t, s)
	ids := []string{"sc-1", "taken", "sc-2"}
	errs := make([]error, len(ids))
	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Go(func() { errs[i] = spend(s, id) })
	}
	waitQueued(s, len(ids))
	release()
	wg.Wait()
	for i, id := range ids {
		want := error(nil)
		if id == "taken" {
			want = store.ErrConflict
		}
		if !errors.Is(errs[i], want) && errs[i] != want {
			t.Errorf("write of %s: got %v, want %v", id, errs[i], want)
		}
	}
	for _, id := range []string{"sc-1", "sc-2"} {
		if err := spend(s, id); !errors.Is(err, store.ErrConflict) {
			t.Errorf("%s was rolled back with the failing write: spending it again gave %v", id, err)
		}
	}
}

func TestAWriteWhoseCallerGaveUpBeforeItRanIsNotMade(t *testing.T) {
	s := openTest(t)
	release := holdWriter(t, s)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- s.SpendChallenge(ctx, store.SpentChallenge{ID: "sc-1", ExpiresAt: time.Now().Add(time.Hour)})
	}()
	waitQueued(s, 1)
	cancel()
	release()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled write: got %v, want context.Canceled", err)
	}
	if err := spend(s, "sc-1"); err != nil {
		t.Fatalf("the cancelled write was made: %v", err)
	}
}

func TestWritesWaitingWhenTheStoreClosesFailUnavailable(t *testing.T) {
	s, err := Open(t.Context(), filepath.Join(t.TempDir(), "countersign.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	release := holdWriter(t, s)
	done := make(chan error, 1)
	go func() { done <- spend(s, "sc-1") }()
	waitQueued(s, 1)
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	release()
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	// Queued before the close, the write either ran or never will: it is
	// answered either way, and a refusal says the store is unavailable.
	if err := <-done; err != nil && !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("queued write at close: got %v, want nil or ErrUnavailable", err)
	}
	if err := spend(s, "sc-2"); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("write after close: got %v, want ErrUnavailable", err)
	}
}

// TestTheWALStaysBoundedUnderSteadyLoad writes one commit after another
// while a reader keeps reading, as a loaded server does. The checkpointer
// alone (PASSIVE) copies the WAL into the database but never gets it
// restarted, so the WAL would hold every frame ever committed; the writer
// restarts it between two transactions once a checkpoint has run.
func TestTheWALStaysBoundedUnderSteadyLoad(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "countersign.db")
	s, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	stop := make(chan struct{})
	var readers sync.WaitGroup
	readers.Add(1)
	go func() {
		defer readers.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			var n int
			if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM spent_challenge`).Scan(&n); err != nil {
				t.Errorf("read: %v", err)
				return
			}
		}
	}()
	const commits = 5 * checkpointEvery
	before, _ := s.WriterStats()
	for i := range commits {
		if err := spend(s, fmt.Sprintf("c%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	readers.Wait()
	after, _ := s.WriterStats()
	if after-before != commits {
		t.Fatalf("%d transactions for %d sequential writes", after-before, commits)
	}
	// The WAL header's checkpoint sequence number (bytes 12 to 15, big
	// endian) counts the restarts: SQLite increments it each time it
	// writes the WAL again from its start.
	wal, err := os.ReadFile(path + "-wal")
	if err != nil {
		t.Fatal(err)
	}
	if len(wal) < 32 {
		t.Fatalf("the WAL is %d bytes, shorter than its header", len(wal))
	}
	if restarts := binary.BigEndian.Uint32(wal[12:16]); restarts < 2 {
		t.Fatalf("the WAL was restarted %d times in %d commits (%d bytes now): it only grows", restarts, commits, len(wal))
	}
}
