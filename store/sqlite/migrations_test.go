package sqlite

import (
	"database/sql"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"countersign/store"
)

// TestMigrationsListVersions pins the migration files to 0001_*.sql,
// 0002_*.sql, ... with no gap; the PostgreSQL dialect must list the same
// versions (MigrationVersions).
func TestMigrationsListVersions(t *testing.T) {
	entries, err := fs.ReadDir(migrationFS, "migrations")
	if err != nil {
		t.Fatalf("ReadDir: %v", err)
	}
	if len(entries) == 0 {
		t.Fatal("no embedded migrations")
	}
	for i, e := range entries {
		prefix := fmt.Sprintf("%04d_", i+1)
		if !strings.HasPrefix(e.Name(), prefix) || !strings.HasSuffix(e.Name(), ".sql") {
			t.Errorf("migration %d: got %s, want %s*.sql", i+1, e.Name(), prefix)
		}
	}

	versions, err := MigrationVersions()
	if err != nil {
		t.Fatalf("MigrationVersions: %v", err)
	}
	for i, v := range versions {
		if v != int64(i+1) {
			t.Errorf("version %d: got %d, want %d", i, v, i+1)
		}
	}
	if len(versions) != len(entries) {
		t.Errorf("MigrationVersions: got %d versions, want %d", len(versions), len(entries))
	}
}

func TestEveryConnectionHasThePragmas(t *testing.T) {
	s, err := Open(t.Context(), filepath.Join(t.TempDir(), "countersign.db"), Options{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer s.Close()

	want := map[string]string{
		"journal_mode": "wal",
		"synchronous":  "2", // FULL
		"busy_timeout": "10000",
		"foreign_keys": "1",
	}
	// Hold several connections at once so the pool has to open new ones.
	conns := make([]*sql.Conn, maxOpenConns)
	for i := range conns {
		c, err := s.db.Conn(t.Context())
		if err != nil {
			t.Fatalf("Conn %d: %v", i, err)
		}
		defer c.Close()
		conns[i] = c
	}
	for i, c := range conns {
		for pragma, w := range want {
			var got string
			if err := c.QueryRowContext(t.Context(), "PRAGMA "+pragma).Scan(&got); err != nil {
				t.Fatalf("connection %d: PRAGMA %s: %v", i, pragma, err)
			}
			if got != w {
				t.Errorf("connection %d: PRAGMA %s: got %s, want %s", i, pragma, got, w)
			}
		}
	}
}

// TestMigration3KeepsRowsAndPreviousWrites migrates a file to 0002 with
// rows written as the previous release writes them, then to the newest
// schema: the rows read back with the new fields at their zero values, and
// the previous release's INSERTs, which name no new column, still work
// (replicas upgrade one by one).
func TestMigration3KeepsRowsAndPreviousWrites(t *testing.T) {
	path := filepath.Join(t.TempDir(), "countersign.db")
	old, err := Open(t.Context(), path, Options{SkipMigrations: true})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer old.Close()
	p, err := newProvider(old.db)
	if err != nil {
		t.Fatalf("newProvider: %v", err)
	}
	if _, err := p.UpTo(t.Context(), 2); err != nil {
		t.Fatalf("migrate to 0002: %v", err)
	}
	// The previous release's statements, columns as 0001 and 0002 name them.
	previous := func(n int) {
		t.Helper()
		for _, q := range []string{
			fmt.Sprintf(`INSERT INTO user_account (id, org_id, username, username_key, name, kind, user_handle,
				is_active, is_registered, is_service_account, created_at)
				VALUES ('us-%d', 'or-1', 'u%d', 'u%d', 'U', 'CustomerEmployee', 'uh-%d', 1, 1, 0, 1)`, n, n, n, n),
			fmt.Sprintf(`INSERT INTO credential (id, org_id, user_id, kind, cred_id, name, public_key,
				attestation_type, aaguid, transports, sign_count, user_present, user_verified,
				backup_eligible, backup_state, origin, rp_id, is_active, created_at,
				last_login_at, last_sign_at)
				VALUES ('cr-%d', 'or-1', 'us-%d', 'Fido2', 'cred-%d', 'k', x'01', 'none', x'', '[]', 0, 1, 1, 0, 0, 'o', 'r', 1, 1, NULL, NULL)`, n, n, n),
		} {
			if _, err := old.db.ExecContext(t.Context(), q); err != nil {
				t.Fatalf("previous release's insert %d: %v", n, err)
			}
		}
	}
	if _, err := old.db.ExecContext(t.Context(), `INSERT INTO org (id, name, created_at) VALUES ('or-1', 'Org', 1)`); err != nil {
		t.Fatalf("insert org: %v", err)
	}
	previous(1)

	s, err := Open(t.Context(), path, Options{})
	if err != nil {
		t.Fatalf("Open migrating to the newest schema: %v", err)
	}
	defer s.Close()
	previous(2)
	for _, id := range []string{"1", "2"} {
		u, err := s.GetUser(t.Context(), "us-"+id)
		if err != nil {
			t.Fatalf("GetUser us-%s: %v", id, err)
		}
		if u.IsArchived || u.IsSSORequired || u.ExternalID != "" || !u.IsActive {
			t.Errorf("user us-%s: got %+v, want active, unarchived, no SSO, no external id", id, u)
		}
		c, err := s.GetCredential(t.Context(), "cr-"+id)
		if err != nil {
			t.Fatalf("GetCredential cr-%s: %v", id, err)
		}
		if c.TokenID != "" {
			t.Errorf("credential cr-%s: got TokenID %q, want none", id, c.TokenID)
		}
	}
}

// TestSignInEventsOfThePreviousBinaryAreTrimmed: a binary from before
// migration 0009, running on its schema beside this one, records sign-in
// events numbered 0, which the numbered trim never reaches once the
// numbers have moved past its window. After it has stopped, those older
// than the oldest event kept go with the next trim; one newer than that
// (it may still be running) stays.
func TestSignInEventsOfThePreviousBinaryAreTrimmed(t *testing.T) {
	ctx := t.Context()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "countersign.db"), Options{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer s.Close()
	if _, err := s.db.ExecContext(ctx, `INSERT INTO org (id, name, created_at) VALUES ('or-1', 'Org', 1)`); err != nil {
		t.Fatalf("insert org: %v", err)
	}
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	next := 0
	record := func(count int) {
		t.Helper()
		for range count {
			e := store.SignInEvent{ID: fmt.Sprintf("si-%05d", next), OrgID: "or-1", UserID: "us-1", Username: "u",
				Outcome: store.SignInFailed, Via: "Key", Reason: "bad signature", CreatedAt: base.Add(time.Duration(next) * time.Millisecond)}
			if err := s.RecordSignIn(ctx, e); err != nil {
				t.Fatalf("RecordSignIn %d: %v", next, err)
			}
			next++
		}
	}
	// This binary's log is full and has been trimmed a few times.
	record(store.MaxFailedSignInsKept + 5*(store.SignInTrimSlack+1))
	// The previous binary's INSERT names no ordinal: three events now,
	// and one an hour later (it is still running then).
	now := base.Add(time.Duration(next) * time.Millisecond)
	for i, at := range []time.Time{now, now, now, base.Add(time.Hour)} {
		if _, err := s.db.ExecContext(ctx, `INSERT INTO sign_in_event (id, org_id, user_id, username, credential_id,
			token_id, outcome, via, reason, client_ip, user_agent, created_at)
			VALUES (?, 'or-1', 'us-1', 'u', '', '', ?, 'Key', 'bad signature', '', '', ?)`,
			fmt.Sprintf("si-old-%d", i), store.SignInFailed, at.UnixMilli()); err != nil {
			t.Fatalf("previous binary's insert %d: %v", i, err)
		}
	}
	// A full log later, the three are older than every event kept.
	record(store.MaxFailedSignInsKept + 2*(store.SignInTrimSlack+1))

	rows, err := s.db.QueryContext(ctx, `SELECT id FROM sign_in_event WHERE ordinal = 0 ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var left []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		left = append(left, id)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(left) != 1 || left[0] != "si-old-3" {
		t.Fatalf("events numbered 0 left: %v, want only si-old-3, newer than every event kept", left)
	}
}
