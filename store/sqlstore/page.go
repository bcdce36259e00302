package sqlstore

import (
	"context"
	"fmt"
)

// Keyset pagination. A page is the rows of one scope (an org's users, an
// org's permissions, a permission's assignments) ordered by
// (created_at, order column), after the row whose id the caller passes: the
// cursor is that row's (created_at, order column), read when the page is
// asked for, so a page never repeats or skips rows, ties in created_at
// included, whatever was written since the previous page. The order column
// (Dialect.OrderColumn) is the insertion order within a created_at: SQLite's
// rowid (no table here is WITHOUT ROWID), or PostgreSQL's identity column
// seq. (Identity values are handed out at insertion, not at commit, so two
// concurrent inserts with the same created_at may commit in the other
// order; a page read between the two commits can then miss the row that
// committed second. Pages of rows created at once by concurrent requests
// are the only ones concerned, as with any keyset on a sequence.)

// keyset is a page's position: created_at and order column of the row it
// follows, or none for the first page.
type keyset struct {
	set     bool
	created int64
	order   int64
	column  string
}

// cursorOf returns the keyset after the row id of table whose scopeColumn
// is scope; store.ErrNotFound when there is no such row (unknown, or in
// another scope). An empty id is the first page. table and scopeColumn are
// constants of this package, never input.
func (s *Store) cursorOf(ctx context.Context, table, scopeColumn, scope, id string) (keyset, error) {
	if id == "" {
		return keyset{}, nil
	}
	k := keyset{set: true, column: s.d.OrderColumn}
	err := s.db.QueryRowContext(ctx,
		`SELECT created_at, `+k.column+` FROM `+table+` WHERE id = ? AND `+scopeColumn+` = ?`, id, scope).
		Scan(&k.created, &k.order)
	if err != nil {
		return keyset{}, fmt.Errorf("page after %s: %w", id, notFound(err))
	}
	return k, nil
}

// where is the condition "after k" on a table's created_at and order
// column, with its arguments; always true for the first page.
func (k keyset) where() (string, []any) {
	if !k.set {
		return `TRUE`, nil
	}
	return `(created_at, ` + k.column + `) > (?, ?)`, []any{k.created, k.order}
}

// limitArg is a page size for LIMIT: limit <= 0 means no limit
// (Dialect.NoLimit), as for audit entries (a forgotten Limit must not list
// nothing).
func (s *Store) limitArg(limit int) any {
	if limit <= 0 {
		return s.d.NoLimit
	}
	return int64(limit)
}
