package postgres_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"countersign/store"
	"countersign/store/postgres"
	"countersign/store/sqlite"
	"countersign/store/storetest"
)

// dsnEnv names the variable holding the DSN of a database the tests may
// create and drop schemas in (scripts/test-postgres.sh start prints one).
const dsnEnv = "COUNTERSIGN_TEST_POSTGRES"

// testCluster is what the tests pass as Options.AllowUnsafeDurability:
// scripts/test-postgres.sh runs its throwaway cluster with fsync=off, for
// speed, which Open refuses unless told (TestUnsafeDurabilityIsRefused).
const testCluster = true

// baseDSN returns the test database's DSN, or skips the test saying why.
func baseDSN(t *testing.T) string {
	t.Helper()
	dsn := os.Getenv(dsnEnv)
	if dsn == "" {
		t.Skip(dsnEnv + " is not set: no PostgreSQL to test against " +
			`(eval "$(bash scripts/test-postgres.sh start)" starts a throwaway one)`)
	}
	return dsn
}

// freshSchema creates an empty schema t_<random> in the test database and
// returns a DSN whose search_path is that schema; the schema is dropped
// when the test ends (after the stores opened on it are closed: cleanups
// run last-registered first).
func freshSchema(t *testing.T) string {
	t.Helper()
	base := baseDSN(t)
	cfg, err := pgx.ParseConfig(base)
	if err != nil {
		t.Fatalf("%s does not parse: %v", dsnEnv, err)
	}
	admin := stdlib.OpenDB(*cfg)
	var b [8]byte
	rand.Read(b[:])
	schema := "t_" + hex.EncodeToString(b[:])
	if _, err := admin.ExecContext(t.Context(), `CREATE SCHEMA `+schema); err != nil {
		admin.Close()
		t.Fatalf("create schema %s: %v", schema, err)
	}
	t.Cleanup(func() {
		defer admin.Close()
		// t.Context() is done by now.
		if _, err := admin.ExecContext(context.Background(), `DROP SCHEMA `+schema+` CASCADE`); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	return withSearchPath(t, base, schema)
}

// withSearchPath returns dsn with the search_path run-time parameter set,
// for a URL or a key=value DSN.
func withSearchPath(t *testing.T, dsn, schema string) string {
	t.Helper()
	if !strings.HasPrefix(dsn, "postgres://") && !strings.HasPrefix(dsn, "postgresql://") {
		return dsn + " search_path=" + schema
	}
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatalf("%s does not parse as a URL: %v", dsnEnv, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// open opens (and migrates) a store on dsn and closes it when the test ends.
func open(t *testing.T, dsn string) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(t.Context(), dsn, postgres.Options{AllowUnsafeDurability: testCluster})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	baseDSN(t)
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := postgres.Open(t.Context(), freshSchema(t), postgres.Options{AllowUnsafeDurability: testCluster})
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		return s
	})
}

// Both dialects must list the same migration versions (STYLE.md, Storage):
// a version in one only would leave the other's schema behind.
func TestMigrationVersionsMatchSQLite(t *testing.T) {
	pg, err := postgres.MigrationVersions()
	if err != nil {
		t.Fatalf("postgres.MigrationVersions: %v", err)
	}
	lite, err := sqlite.MigrationVersions()
	if err != nil {
		t.Fatalf("sqlite.MigrationVersions: %v", err)
	}
	if len(pg) == 0 {
		t.Fatal("postgres.MigrationVersions: no migrations")
	}
	if !slices.Equal(pg, lite) {
		t.Errorf("migration versions: got postgres %v, want sqlite's %v", pg, lite)
	}
}

// seqTables are the tables with a seq column, PostgreSQL's stand-in for
// SQLite's rowid; it is the only column one dialect has and the other not.
var seqTables = []string{"access_token", "assignment", "audit_entry", "challenge", "credential", "permission", "user_account"}

// The migrated schemas name the same tables and columns in both dialects,
// but for seq.
func TestSchemaMatchesSQLite(t *testing.T) {
	dsn := freshSchema(t)
	open(t, dsn)
	pgCols := columns(t, "pgx", dsn, `SELECT table_name, column_name FROM information_schema.columns
		WHERE table_schema = current_schema() AND table_name <> 'goose_db_version'`)

	path := filepath.Join(t.TempDir(), "countersign.db")
	lite, err := sqlite.Open(t.Context(), path, sqlite.Options{})
	if err != nil {
		t.Fatalf("sqlite.Open: %v", err)
	}
	lite.Close()
	liteCols := columns(t, "sqlite", path, `SELECT m.name, c.name FROM sqlite_master m, pragma_table_info(m.name) c
		WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite%' AND m.name <> 'goose_db_version'`)
	for _, table := range seqTables {
		liteCols = append(liteCols, table+".seq")
	}
	slices.Sort(liteCols)

	if !slices.Equal(pgCols, liteCols) {
		t.Errorf("columns (table.column):\n got postgres %v\nwant sqlite's (and seq) %v", pgCols, liteCols)
	}
}

// columns runs query (table, column rows) on a database and returns
// "table.column", sorted.
func columns(t *testing.T, driver, dsn, query string) []string {
	t.Helper()
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatalf("sql.Open(%s): %v", driver, err)
	}
	defer db.Close()
	rows, err := db.QueryContext(t.Context(), query)
	if err != nil {
		t.Fatalf("%s: list columns: %v", driver, err)
	}
	defer rows.Close()
	var cols []string
	for rows.Next() {
		var table, column string
		if err := rows.Scan(&table, &column); err != nil {
			t.Fatalf("%s: list columns: %v", driver, err)
		}
		cols = append(cols, table+"."+column)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("%s: list columns: %v", driver, err)
	}
	slices.Sort(cols)
	return cols
}

func TestOpenRejectsABadDSNWithoutQuotingIt(t *testing.T) {
	_, err := postgres.Open(t.Context(), "postgres://u:s3cret@host:notaport/db", postgres.Options{})
	if err == nil {
		t.Fatal("Open: got nil error, want one for a DSN that does not parse")
	}
	if strings.Contains(err.Error(), "s3cret") {
		t.Errorf("Open: error %q quotes the password", err)
	}
}

func TestOpenWithSkipMigrationsLeavesTheSchemaAlone(t *testing.T) {
	dsn := freshSchema(t)
	s, err := postgres.Open(t.Context(), dsn, postgres.Options{SkipMigrations: true, AllowUnsafeDurability: testCluster})
	if err != nil {
		t.Fatalf("Open(SkipMigrations): %v", err)
	}
	_, err = s.GetOrg(t.Context(), "or-1")
	if err == nil || errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetOrg on an unmigrated schema: got %v, want a missing-table error", err)
	}
	s.Close()

	s = open(t, dsn)
	_, err = s.GetOrg(t.Context(), "or-1")
	if !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetOrg after migrating: got %v, want %v", err, store.ErrNotFound)
	}
}

// Replicas starting together on a new schema must all end up with a
// migrated store that sees the others' writes: the migration lock makes
// them migrate one after the other.
func TestReplicasMigratingOneNewSchemaTogetherAllWork(t *testing.T) {
	dsn := freshSchema(t)
	const replicas = 4
	stores := make([]*postgres.Store, replicas)
	errs := make([]error, replicas)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range stores {
		wg.Go(func() {
			<-start
			stores[i], errs[i] = postgres.Open(t.Context(), dsn, postgres.Options{AllowUnsafeDurability: testCluster})
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("Open %d: %v", i, err)
		}
		t.Cleanup(func() { stores[i].Close() })
	}

	want, err := stores[0].EnsureSecret(t.Context(), "k", []byte("from 0"))
	if err != nil {
		t.Fatalf("EnsureSecret on store 0: %v", err)
	}
	for i, s := range stores[1:] {
		got, err := s.EnsureSecret(t.Context(), "k", []byte(fmt.Sprint("from ", i+1)))
		if err != nil {
			t.Fatalf("EnsureSecret on store %d: %v", i+1, err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("EnsureSecret on store %d: got %q, want store 0's %q", i+1, got, want)
		}
	}
}

// Replicas starting together agree on one secret: the first writer's.
func TestConcurrentEnsureSecretAgreesOnOneValue(t *testing.T) {
	dsn := freshSchema(t)
	a, b := open(t, dsn), open(t, dsn)
	const callers = 20
	got := make([][]byte, callers)
	errs := make([]error, callers)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range callers {
		s := a
		if i%2 == 1 {
			s = b
		}
		wg.Go(func() {
			<-start
			got[i], errs[i] = s.EnsureSecret(t.Context(), "k", []byte(fmt.Sprint("value ", i)))
		})
	}
	close(start)
	wg.Wait()
	for i := range callers {
		if errs[i] != nil {
			t.Fatalf("caller %d: EnsureSecret: %v", i, errs[i])
		}
		if !bytes.Equal(got[i], got[0]) {
			t.Errorf("caller %d: got %q, want caller 0's %q", i, got[i], got[0])
		}
	}
}

// Concurrent rotations from two replicas never lose one: each update sees
// the value the previous one wrote.
func TestConcurrentUpdateSecretLosesNoUpdate(t *testing.T) {
	dsn := freshSchema(t)
	a, b := open(t, dsn), open(t, dsn)
	if _, err := a.EnsureSecret(t.Context(), "counter", nil); err != nil {
		t.Fatalf("EnsureSecret: %v", err)
	}
	const callers = 20
	errs := make([]error, callers)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range callers {
		s := a
		if i%2 == 1 {
			s = b
		}
		wg.Go(func() {
			<-start
			_, errs[i] = s.UpdateSecret(t.Context(), "counter", func(cur []byte) ([]byte, error) {
				return append(cur, 'x'), nil
			})
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("caller %d: UpdateSecret: %v", i, err)
		}
	}
	got, err := a.EnsureSecret(t.Context(), "counter", []byte("unused"))
	if err != nil {
		t.Fatalf("EnsureSecret: %v", err)
	}
	if len(got) != callers {
		t.Errorf("secret after %d appends: got %d bytes (%q), want %d", callers, len(got), got, callers)
	}
}

// A schema newer than this binary knows (a later release already migrated
// it) must not stop it from opening: replicas upgrade one by one.
func TestOpenAcceptsANewerSchema(t *testing.T) {
	dsn := freshSchema(t)
	s := open(t, dsn)
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatalf("sql.Open: %v", err)
	}
	defer db.Close()
	if _, err := db.ExecContext(t.Context(),
		`INSERT INTO goose_db_version (version_id, is_applied) VALUES (9999, TRUE)`); err != nil {
		t.Fatalf("record future migration: %v", err)
	}
	s.Close()

	s = open(t, dsn)
	if _, err := s.EnsureSecret(t.Context(), "k", []byte("v")); err != nil {
		t.Errorf("EnsureSecret on the newer schema: %v", err)
	}
}

// Two replicas on one schema: a challenge begun on one is consumed on the
// other exactly once (DESIGN.md: stateless replicas).
func TestChallengeBegunOnOneReplicaIsConsumedOnAnotherOnce(t *testing.T) {
	dsn := freshSchema(t)
	a, b := open(t, dsn), open(t, dsn)
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	ch := store.Challenge{ID: "ch-1", Purpose: store.PurposeLogin, Challenge: "c", Data: []byte("{}"),
		CreatedAt: now, ExpiresAt: now.Add(time.Minute)}
	if err := a.CreateChallenge(t.Context(), ch); err != nil {
		t.Fatalf("CreateChallenge: %v", err)
	}
	if _, err := b.ConsumeChallenge(t.Context(), ch.ID, now); err != nil {
		t.Fatalf("ConsumeChallenge on the other replica: %v", err)
	}
	if _, err := a.ConsumeChallenge(t.Context(), ch.ID, now); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("ConsumeChallenge again on the first replica: got %v, want %v", err, store.ErrNotFound)
	}
}

func TestUnsafeDurabilityIsRefused(t *testing.T) {
	dsn := freshSchema(t)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Skipf("the test DSN is not a URL: %v", err) // key=value DSNs take options differently
	}
	q := u.Query()
	q.Set("options", "-c synchronous_commit=off")
	u.RawQuery = strings.ReplaceAll(q.Encode(), "+", "%20") // pgx reads + literally
	s, err := postgres.Open(t.Context(), u.String(), postgres.Options{})
	if err == nil {
		s.Close()
		t.Fatal("Open accepted a server with synchronous_commit=off")
	}
	if !strings.Contains(err.Error(), "synchronous_commit=off") {
		t.Fatalf("Open's refusal does not name the setting: %v", err)
	}
}
