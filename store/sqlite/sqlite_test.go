package sqlite_test

import (
	"bufio"
	"bytes"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"countersign/store"
	"countersign/store/sqlite"
	"countersign/store/storetest"
)

// openFile opens (and migrates) the store at path and closes it when the
// test ends.
func openFile(t *testing.T, path string) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(t.Context(), path, sqlite.Options{})
	if err != nil {
		t.Fatalf("Open(%s): %v", path, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "countersign.db"), sqlite.Options{})
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		return s
	})
}

func TestOpenCreatesTheParentDirectory(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a", "b", "countersign.db")
	openFile(t, path)
	if _, err := os.Stat(path); err != nil {
		t.Errorf("Stat(%s): got %v, want the database file", path, err)
	}
}

func TestOpenRejectsAPathWithDriverParameters(t *testing.T) {
	_, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "x.db?_pragma=foo"), sqlite.Options{})
	if err == nil {
		t.Errorf("Open: got nil error, want one for a path with '?'")
	}
}

func TestOpenWithSkipMigrationsLeavesTheSchemaAlone(t *testing.T) {
	path := filepath.Join(t.TempDir(), "countersign.db")
	s, err := sqlite.Open(t.Context(), path, sqlite.Options{SkipMigrations: true})
	if err != nil {
		t.Fatalf("Open(SkipMigrations): %v", err)
	}
	_, err = s.GetOrg(t.Context(), "or-1")
	if err == nil || errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetOrg on an unmigrated file: got %v, want a missing-table error", err)
	}
	s.Close()

	s = openFile(t, path)
	_, err = s.GetOrg(t.Context(), "or-1")
	if !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetOrg after migrating: got %v, want %v", err, store.ErrNotFound)
	}
}

// Two processes (say the server and a CLI invocation) opening a new file at
// once must both end up with a migrated store that sees the other's writes.
func TestTwoHandlesOpeningOneNewFileBothWork(t *testing.T) {
	path := filepath.Join(t.TempDir(), "countersign.db")
	stores := make([]*sqlite.Store, 2)
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i := range stores {
		wg.Go(func() { stores[i], errs[i] = sqlite.Open(t.Context(), path, sqlite.Options{}) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("Open %d: %v", i, err)
		}
		t.Cleanup(func() { stores[i].Close() })
	}

	got, err := stores[0].EnsureSecret(t.Context(), "k", []byte("from 0"))
	if err != nil {
		t.Fatalf("EnsureSecret on store 0: %v", err)
	}
	other, err := stores[1].EnsureSecret(t.Context(), "k", []byte("from 1"))
	if err != nil {
		t.Fatalf("EnsureSecret on store 1: %v", err)
	}
	if !bytes.Equal(other, got) {
		t.Errorf("EnsureSecret on store 1: got %q, want store 0's %q", other, got)
	}
}

// Write transactions from two handles on one file queue on the lock
// (BEGIN IMMEDIATE, busy_timeout) instead of failing with SQLITE_BUSY.
func TestConcurrentTransactionsOnTwoHandlesAllSucceed(t *testing.T) {
	path := filepath.Join(t.TempDir(), "countersign.db")
	a, b := openFile(t, path), openFile(t, path)
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	org := store.Org{ID: "or-1", Name: "Org", CreatedAt: now}
	err := a.Invite(t.Context(), store.Invitation{
		Org:  &org,
		User: store.User{ID: "us-0", OrgID: org.ID, Username: "u0", UserHandle: "uh-0", CreatedAt: now},
		Code: store.RegistrationCode{CodeHash: []byte("h"), ExpiresAt: now.Add(time.Hour)},
	})
	if err != nil {
		t.Fatalf("Invite: %v", err)
	}

	const writers = 20
	errs := make([]error, writers)
	var wg sync.WaitGroup
	for i := range writers {
		s := a
		if i%2 == 1 {
			s = b
		}
		wg.Go(func() {
			id := fmt.Sprint(i + 1)
			errs[i] = s.Invite(t.Context(), store.Invitation{
				User: store.User{ID: "us-" + id, OrgID: org.ID, Username: "u" + id, UserHandle: "uh-" + id, CreatedAt: now},
				Code: store.RegistrationCode{CodeHash: []byte("h" + id), ExpiresAt: now.Add(time.Hour)},
			})
			if errs[i] == nil {
				errs[i] = s.CompleteRegistration(t.Context(), store.Registration{
					UserID: "us-" + id, CodeHash: []byte("h" + id), Now: now, CeremonyID: "ch-" + id, ResultUntil: now.Add(time.Hour),
					Credentials: []store.Credential{{ID: "cr-" + id, OrgID: org.ID, UserID: "us-" + id, Kind: store.CredentialKey,
						CredID: "cred-" + id, PublicKey: []byte("key"), IsActive: true, CreatedAt: now}},
				})
			}
			if errs[i] == nil {
				_, errs[i] = s.DeleteExpired(t.Context(), now)
			}
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("writer %d: got error %v, want nil", i, err)
		}
	}
}

// A schema newer than this binary knows (a later release already migrated
// the file) must not stop it from opening: replicas upgrade one by one.
func TestOpenAcceptsANewerSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "countersign.db")
	s, err := sqlite.Open(t.Context(), path, sqlite.Options{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	s.Close()
	addFutureMigration(t, path)

	s = openFile(t, path)
	if _, err := s.EnsureSecret(t.Context(), "k", []byte("v")); err != nil {
		t.Errorf("EnsureSecret on the newer schema: %v", err)
	}
}

// addFutureMigration records a migration version this binary does not have,
// as a later release would.
func addFutureMigration(t *testing.T, path string) {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatalf("sql.Open: %v", err)
	}
	defer db.Close()
	if _, err := db.ExecContext(t.Context(),
		`INSERT INTO goose_db_version (version_id, is_applied) VALUES (9999, 1)`); err != nil {
		t.Fatalf("record future migration: %v", err)
	}
}

const helperEnv = "COUNTERSIGN_SQLITE_HELPER_DB"

// TestHelperProcess is not a test: run by TestAcknowledgedWriteSurvivesKill
// as another process, it writes a secret, reports it, and waits to be killed.
func TestHelperProcess(t *testing.T) {
	path := os.Getenv(helperEnv)
	if path == "" {
		t.Skip("helper process for TestAcknowledgedWriteSurvivesKill")
	}
	s, err := sqlite.Open(t.Context(), path, sqlite.Options{})
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	if _, err := s.EnsureSecret(t.Context(), "from-child", []byte("written")); err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	fmt.Println("written")
	os.Stdin.Read(make([]byte, 1)) // until killed
	os.Exit(0)
}

// Another process writes to the file this process has open, and is killed
// (SIGKILL on Unix) right after the write returned: the write is there.
func TestAcknowledgedWriteSurvivesKill(t *testing.T) {
	path := filepath.Join(t.TempDir(), "countersign.db")
	parent := openFile(t, path)

	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestHelperProcess$")
	cmd.Env = append(os.Environ(), helperEnv+"="+path)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatalf("StdinPipe: %v", err)
	}
	defer stdin.Close()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatalf("StdoutPipe: %v", err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start helper: %v", err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || line != "written\n" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("helper said %q (%v), want %q", line, err, "written\n")
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatalf("kill helper: %v", err)
	}
	cmd.Wait()

	for name, s := range map[string]*sqlite.Store{"open store": parent, "new store": openFile(t, path)} {
		got, err := s.EnsureSecret(t.Context(), "from-child", []byte("parent"))
		if err != nil {
			t.Fatalf("%s: EnsureSecret: %v", name, err)
		}
		if string(got) != "written" {
			t.Errorf("%s: got %q, want the killed process's %q", name, got, "written")
		}
	}
}

const groupHelperEnv = "COUNTERSIGN_SQLITE_GROUP_HELPER_DB"

// TestGroupCommitHelperProcess is not a test: run by
// TestGroupCommittedWritesSurviveKill as another process, it spends
// challenges from many goroutines at once, so that the writer commits
// them in groups, and prints the id of each as soon as its write returns,
// until it is killed.
func TestGroupCommitHelperProcess(t *testing.T) {
	path := os.Getenv(groupHelperEnv)
	if path == "" {
		t.Skip("helper process for TestGroupCommittedWritesSurviveKill")
	}
	s, err := sqlite.Open(t.Context(), path, sqlite.Options{})
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Go(func() {
			for i := 0; ; i++ {
				id := fmt.Sprintf("sc-%d-%d", g, i)
				if err := s.SpendChallenge(t.Context(), store.SpentChallenge{ID: id, ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
					fmt.Println("error:", err)
					os.Exit(1)
				}
				fmt.Println(id)
			}
		})
	}
	wg.Wait()
}

// Many writers commit in groups in another process, which is killed
// (SIGKILL) while they go on: every write it acknowledged is there.
func TestGroupCommittedWritesSurviveKill(t *testing.T) {
	path := filepath.Join(t.TempDir(), "countersign.db")
	openFile(t, path) // migrated before the helper starts

	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestGroupCommitHelperProcess$")
	cmd.Env = append(os.Environ(), groupHelperEnv+"="+path)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatalf("StdoutPipe: %v", err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start helper: %v", err)
	}
	const enough = 400
	var acked []string
	lines := bufio.NewScanner(stdout)
	for len(acked) < enough && lines.Scan() {
		line := lines.Text()
		if strings.HasPrefix(line, "error:") {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("helper: %s", line)
		}
		if strings.HasPrefix(line, "sc-") {
			acked = append(acked, line)
		}
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatalf("kill helper: %v", err)
	}
	// What it printed before the kill was acknowledged too.
	for lines.Scan() {
		if line := lines.Text(); strings.HasPrefix(line, "sc-") {
			acked = append(acked, line)
		}
	}
	cmd.Wait()
	if len(acked) < enough {
		t.Fatalf("the helper acknowledged %d writes before it stopped, want at least %d", len(acked), enough)
	}

	s := openFile(t, path)
	missing := 0
	for _, id := range acked {
		err := s.SpendChallenge(t.Context(), store.SpentChallenge{ID: id, ExpiresAt: time.Now().Add(time.Hour)})
		if !errors.Is(err, store.ErrConflict) {
			missing++
		}
	}
	if missing > 0 {
		t.Fatalf("%d of %d acknowledged writes are missing after the kill", missing, len(acked))
	}
}
