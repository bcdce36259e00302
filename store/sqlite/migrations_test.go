package sqlite

import (
	"database/sql"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
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
