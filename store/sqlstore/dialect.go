package sqlstore

import (
	"context"
	"database/sql"
	"strconv"
	"strings"
)

// Dialect is what a backend tells the shared SQL about its database.
type Dialect struct {
	// NumberedPlaceholders rebinds every ? of a statement to $1, $2, ...
	// (PostgreSQL); false keeps the ? (SQLite).
	NumberedPlaceholders bool

	// OrderColumn is the column holding the insertion order of the tables
	// listed page by page (user_account, credential, permission,
	// assignment, audit_entry, access_token): "rowid" in SQLite, the
	// identity column "seq" in PostgreSQL. It breaks ties in created_at.
	OrderColumn string

	// ByteOrder follows an id in an ORDER BY so that ids compare byte by
	// byte, as SQLite's BINARY does: "" in SQLite, ` COLLATE "C"` in
	// PostgreSQL.
	ByteOrder string

	// RowLocks makes a read that a later write depends on lock the rows it
	// reads (SELECT ... FOR UPDATE or FOR NO KEY UPDATE, PostgreSQL at READ
	// COMMITTED). False when a write transaction excludes every other
	// writer from its start (SQLite's BEGIN IMMEDIATE), which has no such
	// clause.
	RowLocks bool

	// NoLimit is the LIMIT argument meaning no limit: int64(-1) in SQLite,
	// nil (LIMIT NULL) in PostgreSQL.
	NoLimit any

	// IsUniqueViolation reports whether err is a unique or primary-key
	// violation, which the store reports as store.ErrConflict.
	IsUniqueViolation func(err error) bool

	// BeginWrite begins the transaction of one unit of work; see each
	// backend for the isolation it gives and why it is enough.
	BeginWrite func(ctx context.Context, db *sql.DB) (*sql.Tx, error)
}

// forUpdate is the clause locking the rows a SELECT reads for a later
// UPDATE or DELETE of them, or "" without row locks.
func (d *Dialect) forUpdate() string {
	if !d.RowLocks {
		return ""
	}
	return ` FOR UPDATE`
}

// forNoKeyUpdate is the weaker lock an UPDATE that changes no key takes
// (it lets foreign keys to the row be checked meanwhile), or "" without row
// locks.
func (d *Dialect) forNoKeyUpdate() string {
	if !d.RowLocks {
		return ""
	}
	return ` FOR NO KEY UPDATE`
}

// rebind returns query with its ? placeholders numbered $1, $2, ... when
// the dialect numbers them. A ? inside a '...' literal or a "..." identifier
// is left alone (the store writes none).
func (d *Dialect) rebind(query string) string {
	if !d.NumberedPlaceholders || !strings.Contains(query, "?") {
		return query
	}
	var (
		b     strings.Builder
		n     int
		quote byte // the quote character of the literal we are in, or 0
	)
	b.Grow(len(query) + 16)
	for i := 0; i < len(query); i++ {
		c := query[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '?':
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// sqlConn is what *sql.DB and *sql.Tx share.
type sqlConn interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// conn is a *sql.DB or a *sql.Tx taking statements written with ?
// placeholders, rebound for the dialect.
type conn struct {
	c sqlConn
	d *Dialect
}

func (c conn) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return c.c.ExecContext(ctx, c.d.rebind(query), args...)
}

func (c conn) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return c.c.QueryContext(ctx, c.d.rebind(query), args...)
}

func (c conn) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	return c.c.QueryRowContext(ctx, c.d.rebind(query), args...)
}

// scanner is what *sql.Row and *sql.Rows share.
type scanner interface {
	Scan(dest ...any) error
}
