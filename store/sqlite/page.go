package sqlite

import (
	"context"
	"database/sql"
	"fmt"
)

// Keyset pagination. A page is the rows of one scope (an org's users, an
// org's permissions, a permission's assignments) ordered by
// (created_at, rowid), after the row whose id the caller passes: the
// cursor is that row's (created_at, rowid), read when the page is asked
// for, so a page never repeats or skips rows, ties in created_at
// included, whatever was written since the previous page. rowid is the
// insertion order within a created_at (no table here is WITHOUT ROWID).
// The PostgreSQL dialect has an identity column, seq, for the same
// tiebreak.

// querier is what *sql.DB and *sql.Tx share for reads.
type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// keyset is a page's position: created_at and rowid of the row it follows,
// or none for the first page.
type keyset struct {
	set     bool
	created int64
	rowid   int64
}

// cursorOf returns the keyset after the row id of table whose scopeColumn
// is scope; store.ErrNotFound when there is no such row (unknown, or in
// another scope). An empty id is the first page. table and scopeColumn are
// constants of this package, never input.
func cursorOf(ctx context.Context, db querier, table, scopeColumn, scope, id string) (keyset, error) {
	if id == "" {
		return keyset{}, nil
	}
	k := keyset{set: true}
	err := db.QueryRowContext(ctx,
		`SELECT created_at, rowid FROM `+table+` WHERE id = ? AND `+scopeColumn+` = ?`, id, scope).
		Scan(&k.created, &k.rowid)
	if err != nil {
		return keyset{}, fmt.Errorf("page after %s: %w", id, notFound(err))
	}
	return k, nil
}

// where is the condition "after k" on a table's created_at and rowid, with
// its arguments; always true for the first page.
func (k keyset) where() (string, []any) {
	if !k.set {
		return `1`, nil
	}
	return `(created_at, rowid) > (?, ?)`, []any{k.created, k.rowid}
}

// limitArg is a page size for LIMIT: limit <= 0 means no limit, as for
// audit entries (a forgotten Limit must not list nothing).
func limitArg(limit int) int64 {
	if limit <= 0 {
		return -1 // SQLite: a negative LIMIT is none
	}
	return int64(limit)
}
