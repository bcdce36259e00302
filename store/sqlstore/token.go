package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"countersign/store"
)

// CreateToken records an issued bearer token; store.ErrConflict when its id
// is taken.
func (s *Store) CreateToken(ctx context.Context, t store.Token) error {
	if err := s.write(ctx, func(db conn) error { return insertToken(ctx, db, t) }); err != nil {
		return fmt.Errorf("create token %s: %w", t.ID, err)
	}
	return nil
}

func insertToken(ctx context.Context, db conn, t store.Token) error {
	_, err := db.ExecContext(ctx,
		`INSERT INTO token (id, kind, org_id, user_id, created_at, expires_at, revoked_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`,
		t.ID, t.Kind, t.OrgID, t.UserID, millis(t.CreatedAt), millis(t.ExpiresAt), nullMillis(t.RevokedAt))
	return db.mapErr(err)
}

// insertTokenOfActiveUser inserts a login token (delegated or not) only
// while its user is active and not archived, and registered when
// registered is set (errUserGone otherwise). On PostgreSQL the user's row is
// locked (FOR SHARE) by the insert itself: a deactivation committing
// meanwhile either comes first (no token) or waits for this transaction,
// and its revocation of the user's tokens then sees this one. On SQLite
// the writer's lock orders them the same way.
func insertTokenOfActiveUser(ctx context.Context, tx conn, t store.Token, registered bool) error {
	res, err := tx.ExecContext(ctx,
		`INSERT INTO token (id, kind, org_id, user_id, created_at, expires_at, revoked_at, delegated_by)
		SELECT ?, ?, ?, id, ?, ?, NULL, ? FROM user_account
		WHERE id = ? AND org_id = ? AND is_active AND NOT is_archived AND (is_registered OR NOT ?)`+tx.d.forShare(),
		t.ID, t.Kind, t.OrgID, millis(t.CreatedAt), millis(t.ExpiresAt), t.DelegatedBy, t.UserID, t.OrgID, registered)
	if err != nil {
		return tx.mapErr(err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return errUserGone
	}
	return nil
}

// IssueTokenSigned inserts a delegated login token, only while its user is
// active, registered and not archived and the identity it is delegated by
// active and not archived, with its sign-in event and the signed change's
// use and audit entry. The delegating identity's row is locked first, so
// a deactivation committing meanwhile either comes before (no token) or
// after, when its revocation sees the token.
func (s *Store) IssueTokenSigned(ctx context.Context, sg store.Signed, t store.Token, e store.SignInEvent) error {
	err := s.inSigned(ctx, sg, func(tx conn) error {
		var by string
		err := tx.QueryRowContext(ctx, `SELECT id FROM user_account WHERE id = ? AND org_id = ? AND is_active AND NOT is_archived`+tx.d.forShare(),
			t.DelegatedBy, t.OrgID).Scan(&by)
		if err != nil {
			return fmt.Errorf("delegated by %s, not an active identity of %s: %w", t.DelegatedBy, t.OrgID, notFound(err))
		}
		err = insertTokenOfActiveUser(ctx, tx, t, true)
		if errors.Is(err, errUserGone) {
			return fmt.Errorf("user %s is not an active, registered user of %s: %w", t.UserID, t.OrgID, store.ErrNotFound)
		}
		if err != nil {
			return err
		}
		return insertSignIn(ctx, tx, e)
	})
	if err != nil {
		return fmt.Errorf("issue token %s signed: %w", t.ID, err)
	}
	return nil
}

// GetToken returns an issued token, revoked or not.
func (s *Store) GetToken(ctx context.Context, id string) (store.Token, error) {
	var (
		t                store.Token
		created, expires int64
		revoked          sql.NullInt64
	)
	err := s.db.QueryRowContext(ctx,
		`SELECT id, kind, org_id, user_id, created_at, expires_at, revoked_at, delegated_by FROM token WHERE id = ?`, id).
		Scan(&t.ID, &t.Kind, &t.OrgID, &t.UserID, &created, &expires, &revoked, &t.DelegatedBy)
	if err != nil {
		return store.Token{}, fmt.Errorf("get token %s: %w", id, notFound(err))
	}
	t.CreatedAt = fromMillis(created)
	t.ExpiresAt = fromMillis(expires)
	t.RevokedAt = fromNullMillis(revoked)
	return t, nil
}

// RevokeToken marks a token revoked at now. Revoking it again keeps the
// first revocation time.
func (s *Store) RevokeToken(ctx context.Context, id string, now time.Time) error {
	err := s.write(ctx, func(db conn) error {
		res, err := db.ExecContext(ctx,
			`UPDATE token SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ?`, millis(now), id)
		if err != nil {
			return err
		}
		return mustAffect(res)
	})
	if err != nil {
		return fmt.Errorf("revoke token %s: %w", id, err)
	}
	return nil
}
