package postgres

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"

	"countersign/store"
	"countersign/store/sqlstore"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// Options tunes Open.
type Options struct {
	// SkipMigrations opens the database without migrating its schema, for
	// a deployment that migrates in a separate step.
	SkipMigrations bool
	// AllowUnsafeDurability opens a server that runs with fsync=off or
	// synchronous_commit=off, where an acknowledged commit can be lost in a
	// crash. Only for throwaway test databases: Open refuses them otherwise.
	AllowUnsafeDurability bool
}

// Store is the PostgreSQL implementation of store.Store: the shared SQL of
// store/sqlstore on a PostgreSQL database. It is safe for concurrent use,
// and several processes (replicas) may share one database.
type Store struct {
	*sqlstore.Store
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
	if !opts.AllowUnsafeDurability {
		if err := checkDurability(ctx, db); err != nil {
			db.Close()
			return nil, fmt.Errorf("open postgres %s: %w", where(cfg), err)
		}
	}
	if !opts.SkipMigrations {
		if err := migrate(ctx, db); err != nil {
			db.Close()
			return nil, fmt.Errorf("open postgres %s: %w", where(cfg), err)
		}
	}
	return &Store{Store: sqlstore.New(db, dialect), db: db}, nil
}

// checkDurability refuses a server whose commits are acknowledged before
// they are on disk: with fsync=off a crash can lose or corrupt committed
// data, with synchronous_commit=off it can lose the last commits. A lost
// commit here is a revocation undone or a spent user action spendable
// again, so countersign does not run on it.
func checkDurability(ctx context.Context, db *sql.DB) error {
	var errs []error
	for setting, unsafe := range map[string]string{"fsync": "off", "synchronous_commit": "off"} {
		var v string
		if err := db.QueryRowContext(ctx, `SELECT current_setting($1)`, setting).Scan(&v); err != nil {
			return fmt.Errorf("read %s: %w", setting, err)
		}
		if strings.EqualFold(v, unsafe) {
			errs = append(errs, fmt.Errorf("the server runs with %s=%s, so an acknowledged commit can be lost in a crash; "+
				"set %s=on (postgresql.conf, or ALTER ROLE/DATABASE ... SET) before running countersign on it", setting, v, setting))
		}
	}
	return errors.Join(errs...)
}

// dialect is what the shared SQL needs to know of PostgreSQL.
var dialect = sqlstore.Dialect{
	NumberedPlaceholders: true,
	// seq is an identity column standing for SQLite's rowid, never written
	// by the store.
	OrderColumn: "seq",
	// Ids that break ties in an ORDER BY compare in byte order, as
	// SQLite's BINARY, so both dialects sort alike.
	ByteOrder: ` COLLATE "C"`,
	// At READ COMMITTED a check read before a write locks what it reads
	// (see beginWrite).
	RowLocks: true,
	// SHARE ROW EXCLUSIVE conflicts with itself and with the ROW
	// EXCLUSIVE lock an INSERT takes: first starts wait for each other.
	LockOrgs: `LOCK TABLE org IN SHARE ROW EXCLUSIVE MODE`,
	// LIMIT NULL is none.
	NoLimit:           nil,
	IsUniqueViolation: isUniqueViolation,
	IsUnavailable:     isUnavailable,
	BeginWrite:        beginWrite,
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

// PendingMigrations returns how many embedded migrations the database
// lacks, reading goose's version table only (no lock, nothing created).
func (s *Store) PendingMigrations(ctx context.Context) (int, error) {
	versions, err := MigrationVersions()
	if err != nil {
		return 0, err
	}
	return sqlstore.PendingMigrations(ctx, s.db, `SELECT count(*) FROM pg_tables WHERE schemaname = current_schema() AND tablename = 'goose_db_version'`, versions)
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

// beginWrite begins one READ COMMITTED transaction (the server's
// default); its function must use only its tx. READ COMMITTED is enough
// because every check that a concurrent writer could falsify is either the
// write itself (a conditional UPDATE or DELETE whose affected-row count
// decides: a statement waiting on a row lock re-evaluates its WHERE on the
// committed row) or made after locking the rows it reads (SELECT ... FOR
// UPDATE, Dialect.RowLocks); see SetCredentialActive, UpdateSecret,
// UpdatePermissionSigned and DeleteAssignmentSigned in store/sqlstore.
func beginWrite(ctx context.Context, db *sql.DB) (*sql.Tx, error) {
	return db.BeginTx(ctx, nil)
}

// isUnavailable reports whether err means PostgreSQL cannot serve now: the
// connection failed or broke, or the server answered with a condition of
// class 08 (connection exception), 53 (insufficient resources: disk full,
// out of memory, too many connections), 57P (shutting down, cannot
// connect now), 58 (system or I/O error), or 25006 (a read-only server,
// such as a standby after failover).
func isUnavailable(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		c := pe.Code
		return strings.HasPrefix(c, "08") || strings.HasPrefix(c, "53") || strings.HasPrefix(c, "57P") ||
			strings.HasPrefix(c, "58") || c == "25006"
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	return errors.As(err, &ce) || errors.As(err, &ne) || errors.Is(err, io.ErrUnexpectedEOF) || pgconn.SafeToRetry(err)
}

// uniqueViolation is SQLSTATE 23505, unique_violation (primary keys
// included).
const uniqueViolation = "23505"

// isUniqueViolation reports whether err is a unique or primary-key
// violation.
func isUniqueViolation(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == uniqueViolation
}
