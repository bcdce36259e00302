package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"countersign/store"
)

// Dialect is what a backend tells the shared SQL about its database.
type Dialect struct {
	// NumberedPlaceholders rebinds every ? of a statement to $1, $2, ...
	// (PostgreSQL); false keeps the ? (SQLite).
	NumberedPlaceholders bool

	// OrderColumn is the column holding the insertion order of the tables
	// listed page by page (user_account, credential, permission,
	// assignment, audit_entry, access_token) and of challenge: "rowid" in
	// SQLite, the identity column "seq" in PostgreSQL. It breaks ties in
	// created_at.
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

	// LockOrgs is the statement that keeps other transactions from
	// inserting organisations until this one ends ("LOCK TABLE org IN
	// EXCLUSIVE MODE" in PostgreSQL); "" when a write transaction already
	// excludes every other writer (SQLite).
	LockOrgs string

	// NoLimit is the LIMIT argument meaning no limit: int64(-1) in SQLite,
	// nil (LIMIT NULL) in PostgreSQL.
	NoLimit any

	// IsUniqueViolation reports whether err is a unique or primary-key
	// violation, which the store reports as store.ErrConflict.
	IsUniqueViolation func(err error) bool

	// IsUnavailable reports whether a driver error means the database
	// cannot serve the request now (connection lost, disk full or
	// read-only, locked too long), which the store wraps in
	// store.ErrUnavailable.
	IsUnavailable func(err error) bool

	// BeginWrite begins the transaction of one unit of work; see each
	// backend for the isolation it gives and why it is enough.
	BeginWrite func(ctx context.Context, db *sql.DB) (*sql.Tx, error)

	// Write, when set, runs every unit of work that writes instead of
	// BeginWrite: fn in a transaction, committed before Write returns nil
	// (SQLite's one writer queue, which commits the units that arrive
	// together in one transaction). A write of one statement also goes
	// through it; without Write such a write runs on the pool as its own
	// transaction.
	Write func(ctx context.Context, fn func(tx *sql.Tx) error) error

	// Prepare keeps every statement prepared, once per connection, instead
	// of parsing it again on each use (SQLite; pgx caches its own).
	Prepare bool
}

// forUpdate is the clause locking the rows a SELECT reads for a later
// UPDATE or DELETE of them, or "" without row locks.
func (d *Dialect) forUpdate() string {
	if !d.RowLocks {
		return ""
	}
	return ` FOR UPDATE`
}

// forShare locks the rows a SELECT reads against a concurrent change
// until this transaction ends, or "" without row locks.
func (d *Dialect) forShare() string {
	if !d.RowLocks {
		return ""
	}
	return ` FOR SHARE`
}

// skipLocked locks the rows a SELECT reads for a DELETE of them, leaving
// out those another transaction holds (which that one deletes), or ""
// without row locks.
func (d *Dialect) skipLocked() string {
	if !d.RowLocks {
		return ""
	}
	return ` FOR UPDATE SKIP LOCKED`
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
// placeholders, rebound for the dialect, and prepared once when the
// dialect prepares (stmts). Every error it returns that means the database
// is unavailable wraps store.ErrUnavailable.
type conn struct {
	c     sqlConn
	d     *Dialect
	stmts *statements // nil: statements are sent as text
	tx    *sql.Tx     // set when c is a transaction
	// shared: the transaction holds other callers' units too (the
	// dialect's Write, group commit), so no one caller's cancellation may
	// interrupt a statement: SQLite would roll back the whole transaction,
	// every other unit with it. The writer checks each unit's context
	// before running it.
	shared bool
}

// ctx is the context statements run under: the caller's, or, in a shared
// transaction, the caller's without its cancellation.
func (c conn) ctx(ctx context.Context) context.Context {
	if c.shared {
		return context.WithoutCancel(ctx)
	}
	return ctx
}

func (c conn) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	ctx = c.ctx(ctx)
	if st := c.prepared(ctx, query); st != nil {
		res, err := st.ExecContext(ctx, args...)
		return res, c.d.unavailable(err)
	}
	res, err := c.c.ExecContext(ctx, c.stmts.rebind(c.d, query), args...)
	return res, c.d.unavailable(err)
}

func (c conn) QueryContext(ctx context.Context, query string, args ...any) (*rows, error) {
	var (
		r   *sql.Rows
		err error
	)
	ctx = c.ctx(ctx)
	if st := c.prepared(ctx, query); st != nil {
		r, err = st.QueryContext(ctx, args...)
	} else {
		r, err = c.c.QueryContext(ctx, c.stmts.rebind(c.d, query), args...)
	}
	if err != nil {
		return nil, c.d.unavailable(err)
	}
	return &rows{Rows: r, d: c.d}, nil
}

func (c conn) QueryRowContext(ctx context.Context, query string, args ...any) row {
	ctx = c.ctx(ctx)
	if st := c.prepared(ctx, query); st != nil {
		return row{r: st.QueryRowContext(ctx, args...), d: c.d}
	}
	return row{r: c.c.QueryRowContext(ctx, c.stmts.rebind(c.d, query), args...), d: c.d}
}

// prepared returns query's prepared statement for this connection or
// transaction, or nil to send it as text.
func (c conn) prepared(ctx context.Context, query string) *sql.Stmt {
	st := c.stmts.get(ctx, c.d, query)
	if st == nil || c.tx == nil {
		return st
	}
	// The transaction's connection reuses the statement when it was
	// prepared there before (database/sql keeps one per connection).
	return c.tx.StmtContext(ctx, st)
}

// row is a *sql.Row whose Scan error is classified like conn's.
type row struct {
	r *sql.Row
	d *Dialect
}

func (r row) Scan(dest ...any) error { return r.d.unavailable(r.r.Scan(dest...)) }

// rows is a *sql.Rows whose errors are classified like conn's.
type rows struct {
	*sql.Rows
	d *Dialect
}

func (r *rows) Scan(dest ...any) error { return r.d.unavailable(r.Rows.Scan(dest...)) }
func (r *rows) Err() error             { return r.d.unavailable(r.Rows.Err()) }
func (r *rows) Close() error           { return r.d.unavailable(r.Rows.Close()) }

// unavailable wraps err in store.ErrUnavailable when the dialect (or
// database/sql itself: a closed pool, a dead connection, a deadline)
// says the database cannot serve now.
func (d *Dialect) unavailable(err error) error {
	if err == nil || errors.Is(err, store.ErrUnavailable) {
		return err
	}
	if errors.Is(err, sql.ErrConnDone) || errors.Is(err, driver.ErrBadConn) || errors.Is(err, context.DeadlineExceeded) ||
		err.Error() == "sql: database is closed" || (d.IsUnavailable != nil && d.IsUnavailable(err)) {
		return fmt.Errorf("%w: %w", store.ErrUnavailable, err)
	}
	return err
}

// scanner is what *sql.Row and *sql.Rows share.
type scanner interface {
	Scan(dest ...any) error
}

// prefixed scans a row whose first columns go to head, the rest to what
// Scan is given: a joined row read by two tables' scan functions.
type prefixed struct {
	head []any
	row  scanner
}

func (p prefixed) Scan(dest ...any) error {
	return p.row.Scan(append(p.head[:len(p.head):len(p.head)], dest...)...)
}

// qualified prefixes each of a comma-separated column list with alias.
func qualified(alias, columns string) string {
	cols := strings.Split(columns, ",")
	for i, c := range cols {
		cols[i] = alias + "." + strings.TrimSpace(c)
	}
	return strings.Join(cols, ", ")
}
