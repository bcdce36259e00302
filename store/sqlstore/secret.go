package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"countersign/store"
)

// EnsureSecret stores value under name unless a value is there already, and
// returns the stored value. One statement: the no-op DO UPDATE makes
// RETURNING yield the existing row on a conflict (DO NOTHING would return
// no row), so replicas starting together all get the first writer's value:
// in PostgreSQL a concurrent insert of the same name waits for the first to
// commit, then takes the DO UPDATE path.
func (s *Store) EnsureSecret(ctx context.Context, name string, value []byte) ([]byte, error) {
	var stored []byte
	err := s.write(ctx, func(db conn) error {
		return db.QueryRowContext(ctx,
			`INSERT INTO secret (name, value) VALUES (?, ?)
			ON CONFLICT (name) DO UPDATE SET value = secret.value
			RETURNING value`, name, blob(value)).Scan(&stored)
	})
	if err != nil {
		return nil, fmt.Errorf("ensure secret %s: %w", name, err)
	}
	return stored, nil
}

// UpdateSecret replaces a secret with update(current) in one write
// transaction, so two rotations, in this process or another, run one after
// the other and neither loses the other's value: in SQLite BEGIN IMMEDIATE
// holds the write lock from the start; in PostgreSQL the read locks the row
// (FOR UPDATE).
func (s *Store) UpdateSecret(ctx context.Context, name string, update func(current []byte) ([]byte, error)) ([]byte, error) {
	var next []byte
	err := s.inTx(ctx, func(tx conn) error {
		var current []byte
		err := tx.QueryRowContext(ctx, `SELECT value FROM secret WHERE name = ?`+s.d.forUpdate(), name).Scan(&current)
		if errors.Is(err, sql.ErrNoRows) {
			return store.ErrNotFound
		}
		if err != nil {
			return err
		}
		if next, err = update(current); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE secret SET value = ? WHERE name = ?`, blob(next), name)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("update secret %s: %w", name, err)
	}
	return next, nil
}

// DeleteExpired removes the challenges, registration codes, one-time codes,
// tokens and user actions whose expiry is at or before now, in one transaction, and returns
// how many rows went. Revoked tokens stay until they expire; used user
// actions too (their use is what makes them single-use, and an expired one
// is refused anyway). Audit entries are never removed.
func (s *Store) DeleteExpired(ctx context.Context, now time.Time) (int64, error) {
	var total int64
	err := s.inTx(ctx, func(tx conn) error {
		for _, table := range []string{"challenge", "spent_challenge", "registration_code", "registration_result", "one_time_code", "token", "user_action"} {
			res, err := tx.ExecContext(ctx, `DELETE FROM `+table+` WHERE expires_at <= ?`, millis(now))
			if err != nil {
				return fmt.Errorf("%s: %w", table, err)
			}
			n, err := res.RowsAffected()
			if err != nil {
				return fmt.Errorf("%s: %w", table, err)
			}
			total += n
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("delete expired: %w", err)
	}
	return total, nil
}
