package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"countersign/store"
)

// Store implements every method of store.Store but Close, which the
// backend embedding it adds. It is safe for concurrent use.
type Store struct {
	pool  *sql.DB
	db    conn // pool, rebinding for d
	d     *Dialect
	stmts *statements
}

// New returns the store on db, an opened and migrated database of dialect
// d. It does not own db: the backend closes it (and with it the prepared
// statements).
func New(db *sql.DB, d Dialect) *Store {
	dp := &d
	stmts := newStatements(db, d.Prepare)
	return &Store{pool: db, db: conn{c: db, d: dp, stmts: stmts}, d: dp, stmts: stmts}
}

// inTx runs fn in one write transaction (Dialect.Write, else
// Dialect.BeginWrite) and commits it when fn returns nil. fn must use only
// tx: in SQLite a second connection would wait for the lock this
// transaction holds.
func (s *Store) inTx(ctx context.Context, fn func(tx conn) error) error {
	if s.d.Write != nil {
		err := s.d.Write(ctx, func(tx *sql.Tx) error {
			return fn(conn{c: tx, d: s.d, stmts: s.stmts, tx: tx, shared: true})
		})
		return s.d.unavailable(err)
	}
	tx, err := s.d.BeginWrite(ctx, s.pool)
	if err != nil {
		return fmt.Errorf("begin: %w", s.d.unavailable(err))
	}
	if err := fn(conn{c: tx, d: s.d, stmts: s.stmts, tx: tx}); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", s.d.unavailable(err))
	}
	return nil
}

// write runs fn, a unit of work of one statement, as a write: through the
// dialect's writer when it has one (so that SQLite has one writer), else
// on the pool, where the statement is its own transaction.
func (s *Store) write(ctx context.Context, fn func(db conn) error) error {
	if s.d.Write != nil {
		return s.inTx(ctx, fn)
	}
	return fn(s.db)
}

// Ping writes the probe row and commits: it fails, with
// store.ErrUnavailable, when the database cannot take a write.
func (s *Store) Ping(ctx context.Context) error {
	err := s.inTx(ctx, func(tx conn) error {
		_, err := tx.ExecContext(ctx,
			`INSERT INTO probe (id, at) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET at = excluded.at`,
			millis(time.Now()))
		return err
	})
	if err != nil {
		return fmt.Errorf("ping: %w", err)
	}
	return nil
}

// mapErr turns unique and primary-key violations into store.ErrConflict,
// keeping the driver's message beside it.
func (c conn) mapErr(err error) error {
	if err != nil && c.d.IsUniqueViolation(err) {
		return fmt.Errorf("%w: %s", store.ErrConflict, err.Error())
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

// Times are stored as unix milliseconds (INTEGER, BIGINT): writes truncate,
// reads are UTC.

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

// blob stores nil as an empty BLOB or BYTEA, for NOT NULL columns.
func blob(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// usernameKey is the case-folded username the unique index and lookups
// use: folded in Go, never by the database's collation, so both dialects
// agree on which names collide.
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
