package postgres

import (
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"

	"countersign/store"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// Options tunes Open.
type Options struct {
	// SkipMigrations opens the database without migrating its schema, for
	// a deployment that migrates in a separate step.
	SkipMigrations bool
}

// Store is the PostgreSQL implementation of store.Store. It is safe for
// concurrent use, and several processes (replicas) may share one database.
type Store struct {
	db *sql.DB
}

var _ store.Store = (*Store)(nil)

// maxOpenConns bounds the connections one process opens, so that several
// replicas stay within the server's max_connections (100 by default).
// Every unit of work uses one connection only, so a small pool never
// deadlocks: a transaction waiting for a row lock holds its connection,
// and the holder of the lock already has its own.
const maxOpenConns = 16

// Open connects to the PostgreSQL database named by dsn (a URL such as
// postgres://user:pass@host:5432/db?sslmode=verify-full, or key=value
// pairs; a search_path parameter selects the schema) and, unless
// opts.SkipMigrations, migrates it to the newest embedded schema.
func Open(ctx context.Context, dsn string, opts Options) (*Store, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		// pgx's message may quote the DSN, password included.
		return nil, errors.New("open postgres: the DSN does not parse")
	}
	db := stdlib.OpenDB(*cfg)
	db.SetMaxOpenConns(maxOpenConns)
	db.SetMaxIdleConns(maxOpenConns)
	db.SetConnMaxIdleTime(5 * time.Minute)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open postgres %s: %w", where(cfg), err)
	}
	if !opts.SkipMigrations {
		if err := migrate(ctx, db); err != nil {
			db.Close()
			return nil, fmt.Errorf("open postgres %s: %w", where(cfg), err)
		}
	}
	return &Store{db: db}, nil
}

// where names the database for error messages, without credentials.
func where(cfg *pgx.ConnConfig) string {
	return fmt.Sprintf("%s@%s:%d/%s", cfg.User, cfg.Host, cfg.Port, cfg.Database)
}

// migrate applies the embedded migrations that the database lacks, under
// migrationLock: replicas starting together run them one after the other,
// and the later ones find nothing pending. A database migrated by a newer
// release opens as is (its extra versions are not ours to judge).
func migrate(ctx context.Context, db *sql.DB) error {
	p, err := newProvider(db)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}

func newProvider(db *sql.DB) (*goose.Provider, error) {
	sub, err := fs.Sub(migrationFS, "migrations")
	if err != nil {
		return nil, err
	}
	return goose.NewProvider(goose.DialectPostgres, db, sub,
		goose.WithDisableGlobalRegistry(true),
		goose.WithSessionLocker(migrationLock{}))
}

// migrationLock is a goose.SessionLocker taking a session-level advisory
// lock of the current schema for the whole migration run. goose's own
// PostgreSQL locker polls pg_try_advisory_lock every 5 seconds; this one
// waits in pg_advisory_lock, so a second replica goes on as soon as the
// first is done, and gives up only when its context does. The two-int key
// is ours ("countersign migrate") and the schema's, so deployments in
// separate schemas of one database do not wait for each other.
type migrationLock struct{}

const lockKey = `hashtext('countersign migrate'), hashtext(COALESCE(current_schema(), ''))`

func (migrationLock) SessionLock(ctx context.Context, conn *sql.Conn) error {
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock(`+lockKey+`)`); err != nil {
		return fmt.Errorf("take the migration lock: %w", err)
	}
	return nil
}

func (migrationLock) SessionUnlock(ctx context.Context, conn *sql.Conn) error {
	var released bool
	if err := conn.QueryRowContext(ctx, `SELECT pg_advisory_unlock(`+lockKey+`)`).Scan(&released); err != nil {
		return fmt.Errorf("release the migration lock: %w", err)
	}
	if !released {
		return errors.New("release the migration lock: it was not held")
	}
	return nil
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

// Close closes the connection pool.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("close postgres: %w", err)
	}
	return nil
}

// inTx runs fn in one READ COMMITTED transaction (the server's default)
// and commits it when fn returns nil. fn must use only tx. READ COMMITTED
// is enough because every check that a concurrent writer could falsify is
// either the write itself (a conditional UPDATE or DELETE whose
// affected-row count decides: a statement waiting on a row lock
// re-evaluates its WHERE on the committed row) or made after locking the
// rows it reads (SELECT ... FOR UPDATE); see SetCredentialActive,
// UpdateSecret, UpdatePermissionSigned and DeleteAssignmentSigned.
func (s *Store) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// execer is what *sql.DB and *sql.Tx share for writes.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// querier is what *sql.DB and *sql.Tx share for reads.
type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// scanner is what *sql.Row and *sql.Rows share.
type scanner interface {
	Scan(dest ...any) error
}

// uniqueViolation is SQLSTATE 23505, unique_violation (primary keys
// included).
const uniqueViolation = "23505"

// mapErr turns unique and primary-key violations into store.ErrConflict,
// keeping the server's message beside it.
func mapErr(err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == uniqueViolation {
		return fmt.Errorf("%w: %s", store.ErrConflict, pe.Error())
	}
	return err
}

// notFound maps sql.ErrNoRows to store.ErrNotFound.
func notFound(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return store.ErrNotFound
	}
	return err
}

// mustAffect returns store.ErrNotFound when res changed no row.
func mustAffect(res sql.Result) error {
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return store.ErrNotFound
	}
	return nil
}

// args collects the arguments of a query built piece by piece and names
// each one's placeholder ($1, $2, ...).
type args []any

// add appends v and returns its placeholder.
func (a *args) add(v any) string {
	*a = append(*a, v)
	return "$" + strconv.Itoa(len(*a))
}

// Times are stored as BIGINT unix milliseconds, as in SQLite: writes
// truncate, reads are UTC.

func millis(t time.Time) int64 { return t.UnixMilli() }

func fromMillis(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

func nullMillis(t *time.Time) sql.NullInt64 {
	if t == nil {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.UnixMilli(), Valid: true}
}

func fromNullMillis(n sql.NullInt64) *time.Time {
	if !n.Valid {
		return nil
	}
	t := fromMillis(n.Int64)
	return &t
}

// blob stores nil as an empty BYTEA, for NOT NULL columns.
func blob(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// usernameKey is the case-folded username the unique index and lookups
// use: folded in Go exactly as the SQLite dialect folds it, never by the
// database's collation, so both dialects agree on which names collide.
func usernameKey(username string) string { return strings.ToLower(username) }

// encodeList stores a string list as a JSON array in TEXT; nil becomes "[]".
func encodeList(list []string) (string, error) {
	if list == nil {
		list = []string{}
	}
	b, err := json.Marshal(list)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// decodeList reads a JSON array back; it returns an empty, non-nil slice
// for "[]".
func decodeList(s string) ([]string, error) {
	list := []string{}
	if err := json.Unmarshal([]byte(s), &list); err != nil {
		return nil, fmt.Errorf("decode list %q: %w", s, err)
	}
	return list, nil
}
