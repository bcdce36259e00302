package postgres

import (
	"context"
	"fmt"
)

// Keyset pagination, as in the SQLite dialect. A page is the rows of one
// scope (an org's users, an org's permissions, a permission's assignments)
// ordered by (created_at, seq), after the row whose id the caller passes:
// the cursor is that row's (created_at, seq), read when the page is asked
// for, so a page never repeats or skips rows, ties in created_at included,
// whatever was written since the previous page. seq is an identity column
// standing for SQLite's rowid: the insertion order within a created_at.
// (Identity values are handed out at insertion, not at commit, so two
// concurrent inserts with the same created_at may commit in the other
// order; a page read between the two commits can then miss the row that
// committed second. Pages of rows created at once by concurrent requests
// are the only ones concerned, as with any keyset on a sequence.)

// keyset is a page's position: created_at and seq of the row it follows,
// or none for the first page.
type keyset struct {
	set     bool
	created int64
	seq     int64
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
		`SELECT created_at, seq FROM `+table+` WHERE id = $1 AND `+scopeColumn+` = $2`, id, scope).
		Scan(&k.created, &k.seq)
	if err != nil {
		return keyset{}, fmt.Errorf("page after %s: %w", id, notFound(err))
	}
	return k, nil
}

// where is the condition "after k" on a table's created_at and seq, its
// arguments added to a; always true for the first page.
func (k keyset) where(a *args) string {
	if !k.set {
		return `TRUE`
	}
	return `(created_at, seq) > (` + a.add(k.created) + `, ` + a.add(k.seq) + `)`
}

// limitArg is a page size for LIMIT: limit <= 0 means no limit, as for
// audit entries (a forgotten Limit must not list nothing). PostgreSQL
// reads LIMIT NULL as no limit.
func limitArg(limit int) *int64 {
	if limit <= 0 {
		return nil
	}
	n := int64(limit)
	return &n
}
