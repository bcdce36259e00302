package sqlstore

import (
	"context"
	"fmt"
	"time"

	"countersign/store"
)

// CreateChallenge stores a ceremony challenge; store.ErrConflict when its
// id is taken.
func (s *Store) CreateChallenge(ctx context.Context, c store.Challenge) error {
	if err := s.write(ctx, func(db conn) error { return insertChallenge(ctx, db, c) }); err != nil {
		return fmt.Errorf("create challenge %s: %w", c.ID, err)
	}
	return nil
}

func insertChallenge(ctx context.Context, db conn, c store.Challenge) error {
	_, err := db.ExecContext(ctx,
		`INSERT INTO challenge (id, purpose, challenge, org_id, user_id, token_id, data, created_at, expires_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		c.ID, c.Purpose, c.Challenge, c.OrgID, c.UserID, c.TokenID, blob(c.Data),
		millis(c.CreatedAt), millis(c.ExpiresAt))
	return db.mapErr(err)
}

// CreateChallengeCapped stores c, then deletes the challenges of c's
// purpose, user and token beyond the maxOpen newest (c among them), in one
// transaction: an identity that keeps asking for challenges replaces its
// own oldest ones and never grows the table past maxOpen rows.
func (s *Store) CreateChallengeCapped(ctx context.Context, c store.Challenge, maxOpen int) error {
	if maxOpen < 1 {
		return fmt.Errorf("create challenge %s: cap %d is below 1", c.ID, maxOpen)
	}
	err := s.inTx(ctx, func(tx conn) error {
		if err := insertChallenge(ctx, tx, c); err != nil {
			return err
		}
		// The subquery keeps the newest maxOpen ids (ties in insertion
		// order), the DELETE removes the rest of this identity's kind.
		_, err := tx.ExecContext(ctx,
			`DELETE FROM challenge WHERE purpose = ? AND user_id = ? AND token_id = ? AND id NOT IN (
				SELECT id FROM challenge WHERE purpose = ? AND user_id = ? AND token_id = ?
				ORDER BY created_at DESC, `+s.d.OrderColumn+` DESC LIMIT ?)`,
			c.Purpose, c.UserID, c.TokenID, c.Purpose, c.UserID, c.TokenID, maxOpen)
		if err != nil {
			return fmt.Errorf("evict old challenges: %w", err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("create challenge %s: %w", c.ID, err)
	}
	return nil
}

// ConsumeChallenge deletes and returns the challenge in one statement, so of
// concurrent callers (in this process or another replica) exactly one gets
// the row: in PostgreSQL the others' DELETE waits for the winner's row
// lock, then finds the row gone. The expiry is checked afterwards on the
// returned row: an expired challenge is gone all the same and reported as
// store.ErrNotFound.
func (s *Store) ConsumeChallenge(ctx context.Context, id string, now time.Time) (store.Challenge, error) {
	var (
		c                store.Challenge
		created, expires int64
		found            bool
	)
	err := s.write(ctx, func(db conn) error {
		rows, err := db.QueryContext(ctx,
			`DELETE FROM challenge WHERE id = ?
			RETURNING id, purpose, challenge, org_id, user_id, token_id, data, created_at, expires_at`, id)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			if err := rows.Scan(&c.ID, &c.Purpose, &c.Challenge, &c.OrgID, &c.UserID, &c.TokenID,
				&c.Data, &created, &expires); err != nil {
				return err
			}
			found = true
		}
		// Close (which finishes the statement and so, outside a
		// transaction, commits the delete) and Err before trusting the row.
		if err := rows.Close(); err != nil {
			return err
		}
		return rows.Err()
	})
	if err != nil {
		return store.Challenge{}, fmt.Errorf("consume challenge %s: %w", id, err)
	}
	if !found {
		return store.Challenge{}, fmt.Errorf("consume challenge %s: %w", id, store.ErrNotFound)
	}
	c.CreatedAt = fromMillis(created)
	c.ExpiresAt = fromMillis(expires)
	if expires <= millis(now) {
		return store.Challenge{}, fmt.Errorf("consume challenge %s: expired at %s: %w",
			id, c.ExpiresAt.Format(time.RFC3339Nano), store.ErrNotFound)
	}
	return c, nil
}
