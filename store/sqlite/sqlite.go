package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gofrs/flock"
	"github.com/pressly/goose/v3"
	msqlite "modernc.org/sqlite"
	sqlitelib "modernc.org/sqlite/lib"

	"countersign/store"
	"countersign/store/sqlstore"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// Options tunes Open.
type Options struct {
	// SkipMigrations opens the file without migrating its schema, for a
	// deployment that migrates in a separate step.
	SkipMigrations bool
}

// Store is the SQLite implementation of store.Store: the shared SQL of
// store/sqlstore on an SQLite database. It is safe for concurrent use.
type Store struct {
	*sqlstore.Store
	db      *sql.DB
	writer  *writer
	lock    *flock.Flock  // shared: this process has the database open
	commits *atomic.Int64 // SQLite's commit hook, on every connection of db
}

var _ store.Store = (*Store)(nil)

// maxOpenConns bounds the pool. Writes go through the one writer
// (writer.go), which keeps one connection for itself; the others serve
// reads, which WAL lets run beside it.
const maxOpenConns = 8

// Open opens (creating it and its parent directory if missing) the SQLite
// database at path and, unless opts.SkipMigrations, migrates it to the
// newest embedded schema.
func Open(ctx context.Context, path string, opts Options) (*Store, error) {
	if path == "" || strings.Contains(path, "?") || strings.HasPrefix(path, "file:") {
		// The driver reads everything after '?' as its parameters, and a
		// "file:" name as a URI.
		return nil, fmt.Errorf("open sqlite: path %q must be a plain file name without '?'", path)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	lock, err := lockShared(path) // released by Close (lock.go)
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	st, err := open(ctx, path, opts)
	if err != nil {
		lock.Close()
		return nil, err
	}
	st.lock = lock
	return st, nil
}

func open(ctx context.Context, path string, opts Options) (*Store, error) {
	if err := enableWAL(ctx, path); err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	commits := new(atomic.Int64)
	db := sql.OpenDB(connector{drv: countingDriver(commits), dsn: dsn(path)})
	db.SetMaxOpenConns(maxOpenConns)
	db.SetMaxIdleConns(maxOpenConns)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	if !opts.SkipMigrations {
		if err := migrate(ctx, db); err != nil {
			db.Close()
			return nil, fmt.Errorf("open sqlite %s: %w", path, err)
		}
	}
	w := newWriter(db)
	d := dialect
	d.Write = w.Write
	return &Store{Store: sqlstore.New(db, d), db: db, writer: w, commits: commits}, nil
}

// Commits returns how many transactions this store's connections have
// committed that wrote to the database (SQLite's commit hook: reads commit
// nothing): each is one fsync of the WAL. Tests hold operations to a
// budget of them.
func (s *Store) Commits() int64 { return s.commits.Load() }

// WriterStats returns how many transactions the writer committed and how
// many units of work they held: with group commit, more units than
// transactions.
func (s *Store) WriterStats() (transactions, units int64) {
	return s.writer.batches.Load(), s.writer.units.Load()
}

// countingDriver is a driver of its own for one store, whose connections
// count their commits in n.
func countingDriver(n *atomic.Int64) *msqlite.Driver {
	drv := &msqlite.Driver{}
	drv.RegisterConnectionHook(func(c msqlite.ExecQuerierContext, _ string) error {
		hooks, ok := c.(msqlite.HookRegisterer)
		if !ok {
			return fmt.Errorf("sqlite connection %T has no commit hook", c)
		}
		hooks.RegisterCommitHook(func() int32 {
			n.Add(1)
			return 0 // 0: go on with the commit
		})
		return nil
	})
	return drv
}

// connector opens connections of drv on dsn (database/sql's OpenDB).
type connector struct {
	drv *msqlite.Driver
	dsn string
}

func (c connector) Connect(context.Context) (driver.Conn, error) { return c.drv.Open(c.dsn) }
func (c connector) Driver() driver.Driver                        { return c.drv }

// dialect is what the shared SQL needs to know of SQLite.
var dialect = sqlstore.Dialect{
	NumberedPlaceholders: false,
	// rowid is the insertion order (no table here is WITHOUT ROWID).
	OrderColumn: "rowid",
	// SQLite's default collation, BINARY, already compares bytes.
	ByteOrder: "",
	// No row locks: a write transaction holds the database's write lock
	// from its start (see beginWrite), so nothing can change between a
	// check and the write that depends on it.
	RowLocks: false,
	// SQLite parses a statement's text on every run otherwise.
	Prepare: true,
	// A negative LIMIT is none.
	NoLimit:           int64(-1),
	IsUniqueViolation: isUniqueViolation,
	IsUnavailable:     isUnavailable,
	BeginWrite:        beginWrite,
}

// busyTimeout is how many milliseconds a connection waits for a lock
// another process holds before SQLITE_BUSY.
const busyTimeout = 10000

// dsn is path with the driver parameters every connection opens with. The
// driver runs busy_timeout first, then the other pragmas.
func dsn(path string) string {
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeout))
	q.Add("_pragma", "foreign_keys(ON)")
	q.Add("_pragma", "journal_mode(WAL)")
	// FULL, not WAL's usual NORMAL: NORMAL may lose the last commits on a
	// power loss, and an acknowledged registration or revocation must stay.
	q.Add("_pragma", "synchronous(FULL)")
	// No checkpoint inside a commit: the writer's transactions would stall
	// behind one every thousand pages (a commit's latency, and so the
	// tail's). The store's checkpointer runs them beside the writer
	// (writer.go). Another process on the file keeps SQLite's default.
	q.Add("_pragma", "wal_autocheckpoint(0)")
	// When the writer restarts the WAL (writer.go), a WAL that grew
	// meanwhile (a long reader held the checkpoint back) is cut back to
	// this size instead of keeping its high-water mark on disk.
	q.Add("_pragma", "journal_size_limit(67108864)")
	// BEGIN IMMEDIATE takes the write lock up front, so a transaction never
	// has to upgrade a read lock (which fails with SQLITE_BUSY at once
	// instead of waiting for busy_timeout).
	q.Set("_txlock", "immediate")
	return path + "?" + q.Encode()
}

// walWait bounds how long enableWAL keeps retrying, like busy_timeout.
const walWait = 10 * time.Second

// enableWAL switches the file to WAL before the pool opens. The switch needs
// an exclusive lock, and SQLite reports SQLITE_BUSY at once, without calling
// its busy handler, when another connection holds any lock, as happens when
// two processes open a new file together; so it is retried here. The mode
// is stored in the file: afterwards every connection's journal_mode(WAL) in
// the DSN is a no-op that cannot fail that way.
func enableWAL(ctx context.Context, path string) error {
	db, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		return fmt.Errorf("enable wal: %w", err)
	}
	defer db.Close()
	deadline := time.Now().Add(walWait)
	for {
		var mode string
		err := db.QueryRowContext(ctx, "PRAGMA journal_mode=WAL").Scan(&mode)
		switch {
		case err == nil && strings.EqualFold(mode, "wal"):
			return nil
		case err == nil:
			return fmt.Errorf("enable wal: journal mode is still %s", mode)
		case !isBusy(err) || time.Now().After(deadline):
			return fmt.Errorf("enable wal: %w", err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("enable wal: %w", ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// isBusy reports whether err is SQLITE_BUSY (any extended variant).
func isBusy(err error) bool {
	var se *msqlite.Error
	return errors.As(err, &se) && se.Code()&0xff == sqlitelib.SQLITE_BUSY
}

// migrate applies the embedded migrations that the database lacks.
func migrate(ctx context.Context, db *sql.DB) error {
	p, err := newProvider(db)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		// Another process opening the same new file may have applied the
		// migration between our version check and our transaction; ours
		// then fails and rolls back. What counts is that none is pending
		// once that process is done with the later migrations too.
		deadline := time.Now().Add(walWait)
		for {
			if pending, perr := p.HasPending(ctx); perr == nil && !pending {
				return nil
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("migrate: %w", err)
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("migrate: %w", ctx.Err())
			case <-time.After(10 * time.Millisecond):
			}
		}
	}
	return nil
}

func newProvider(db *sql.DB) (*goose.Provider, error) {
	sub, err := fs.Sub(migrationFS, "migrations")
	if err != nil {
		return nil, err
	}
	return goose.NewProvider(goose.DialectSQLite3, db, sub, goose.WithDisableGlobalRegistry(true))
}

// PendingMigrations returns how many embedded migrations the database
// lacks, reading goose's version table only (no lock, nothing created).
func (s *Store) PendingMigrations(ctx context.Context) (int, error) {
	versions, err := MigrationVersions()
	if err != nil {
		return 0, err
	}
	return sqlstore.PendingMigrations(ctx, s.db, `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'goose_db_version'`, versions)
}

// MigrationVersions returns the versions of the embedded migrations in
// ascending order. Every dialect must list the same versions.
func MigrationVersions() ([]int64, error) {
	names, err := fs.Glob(migrationFS, "migrations/*.sql")
	if err != nil {
		return nil, fmt.Errorf("list migrations: %w", err)
	}
	versions := make([]int64, 0, len(names))
	for _, name := range names {
		v, err := goose.NumericComponent(name)
		if err != nil {
			return nil, fmt.Errorf("list migrations: %s: %w", name, err)
		}
		versions = append(versions, v)
	}
	slices.Sort(versions)
	return versions, nil
}

// Close closes the database.
func (s *Store) Close() error {
	s.writer.close()
	err := s.db.Close()
	if s.lock != nil {
		err = errors.Join(err, s.lock.Close())
	}
	if err != nil {
		return fmt.Errorf("close sqlite: %w", err)
	}
	return nil
}

// beginWrite begins one BEGIN IMMEDIATE transaction (the DSN's _txlock),
// so a transaction takes the write lock up front and never has to upgrade
// a read lock. Its function must use only its tx: a second connection
// would wait for the lock this transaction holds. The store's writes go
// through its writer (Dialect.Write), which begins its transactions the
// same way.
func beginWrite(ctx context.Context, db *sql.DB) (*sql.Tx, error) {
	return db.BeginTx(ctx, nil)
}

// isUnavailable reports whether err is SQLite saying it cannot serve now:
// the database is busy or locked past busy_timeout, the disk is full,
// read-only or failing, the file cannot be opened, memory ran out.
func isUnavailable(err error) bool {
	var se *msqlite.Error
	if !errors.As(err, &se) {
		return false
	}
	switch se.Code() & 0xff {
	case sqlitelib.SQLITE_BUSY, sqlitelib.SQLITE_LOCKED, sqlitelib.SQLITE_NOMEM, sqlitelib.SQLITE_READONLY,
		sqlitelib.SQLITE_IOERR, sqlitelib.SQLITE_FULL, sqlitelib.SQLITE_CANTOPEN, sqlitelib.SQLITE_PROTOCOL:
		return true
	}
	return false
}

// isUniqueViolation reports whether err is a unique or primary-key
// violation (SQLITE_CONSTRAINT_UNIQUE 2067, SQLITE_CONSTRAINT_PRIMARYKEY
// 1555).
func isUniqueViolation(err error) bool {
	var se *msqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlitelib.SQLITE_CONSTRAINT_UNIQUE, sqlitelib.SQLITE_CONSTRAINT_PRIMARYKEY:
			return true
		}
	}
	return false
}
