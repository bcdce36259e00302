package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
)

// PendingMigrations counts the versions of embedded that goose's version
// table (goose_db_version) does not record as applied. It only reads: no
// lock is taken and no table created, so a readiness probe may call it
// while another process migrates. exists is the backend's query telling
// whether the version table is there (none: everything is pending).
func PendingMigrations(ctx context.Context, db *sql.DB, exists string, embedded []int64) (int, error) {
	var n int
	if err := db.QueryRowContext(ctx, exists).Scan(&n); err != nil {
		return 0, fmt.Errorf("pending migrations: %w", err)
	}
	if n == 0 {
		return len(embedded), nil
	}
	rows, err := db.QueryContext(ctx, `SELECT version_id, is_applied FROM goose_db_version ORDER BY id`)
	if err != nil {
		return 0, fmt.Errorf("pending migrations: %w", err)
	}
	defer rows.Close()
	applied := map[int64]bool{}
	for rows.Next() {
		var v int64
		var ok bool
		if err := rows.Scan(&v, &ok); err != nil {
			return 0, fmt.Errorf("pending migrations: %w", err)
		}
		applied[v] = ok // a later row (a down migration) wins
	}
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("pending migrations: %w", err)
	}
	pending := 0
	for _, v := range embedded {
		if !applied[v] {
			pending++
		}
	}
	return pending, nil
}
