package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// LatestTokenExpiry returns the latest expiry of the unrevoked tokens
// created before createdBefore, or the zero time when there is none: how
// long a signing key retired at createdBefore must stay published.
func (s *Store) LatestTokenExpiry(ctx context.Context, createdBefore time.Time) (time.Time, error) {
	var latest sql.NullInt64
	err := s.db.QueryRowContext(ctx,
		`SELECT MAX(expires_at) FROM token WHERE created_at < ? AND revoked_at IS NULL`, millis(createdBefore)).Scan(&latest)
	if err != nil {
		return time.Time{}, fmt.Errorf("latest token expiry: %w", err)
	}
	if !latest.Valid {
		return time.Time{}, nil
	}
	return fromMillis(latest.Int64), nil
}
