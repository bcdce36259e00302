package sqlstore

import (
	"context"
	"fmt"
	"strings"
	"time"

	"countersign/store"
)

const signInColumns = `id, org_id, user_id, username, credential_id, token_id, outcome, via, reason, client_ip, user_agent, created_at`

// RecordSignIn inserts e and trims the organisation's events of e's
// outcome to their cap, oldest first, in one transaction.
func (s *Store) RecordSignIn(ctx context.Context, e store.SignInEvent) error {
	if err := s.inTx(ctx, func(tx conn) error { return insertSignIn(ctx, tx, e) }); err != nil {
		return fmt.Errorf("record sign-in %s: %w", e.ID, err)
	}
	return nil
}

// trimWindow is how far behind the newest falling-out number a trim
// looks for the events that fell out since the last trim and those left
// over by earlier, concurrent trims.
const trimWindow = 64

// The trim runs on every trimEvery-th event, not on each, so that most
// sign-ins cost one statement (the log holds up to trimEvery - 1 more than
// its cap meanwhile: store.SignInTrimSlack). trimWindow must cover them.
const trimEvery = store.SignInTrimSlack + 1

var _ = [trimWindow - trimEvery]struct{}{} // trimWindow >= trimEvery

// insertSignIn is RecordSignIn's statements, for any transaction (a
// login's own: RecordAssertion). Each event of an organisation and outcome
// is numbered one past the newest (an index lookup, in the INSERT itself),
// and the trim deletes those numbered keep or more behind it: a range of
// the index, usually one row, where comparing against the keep newest read
// every kept event on every sign-in. In PostgreSQL concurrent sign-ins
// would all try to delete the same oldest row and wait, each for the
// other's commit, on its lock: the trim skips rows another transaction
// holds (SKIP LOCKED), which that one deletes. Two events recorded at once
// may share a number; the log then keeps one more until the next.
func insertSignIn(ctx context.Context, tx conn, e store.SignInEvent) error {
	keep := store.MaxSignInsKept
	if e.Outcome == store.SignInFailed {
		keep = store.MaxFailedSignInsKept
	}
	var ordinal int64
	if err := tx.QueryRowContext(ctx, `INSERT INTO sign_in_event (`+signInColumns+`, ordinal)
		SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, COALESCE(MAX(ordinal), 0) + 1 FROM sign_in_event WHERE org_id = ? AND outcome = ?
		RETURNING ordinal`,
		e.ID, e.OrgID, e.UserID, e.Username, e.CredentialID, e.TokenID, e.Outcome, e.Via, e.Reason, e.ClientIP, e.UserAgent, millis(e.CreatedAt),
		e.OrgID, e.Outcome).Scan(&ordinal); err != nil {
		return tx.mapErr(err)
	}
	if ordinal <= int64(keep) || ordinal%trimEvery != 0 {
		return nil
	}
	// Only the numbers that fell behind with this event and the few
	// before it (left by trims that skipped them, or that another
	// transaction deletes): a range from the oldest kept would, in
	// PostgreSQL, step over every deleted event not yet vacuumed.
	last := ordinal - int64(keep)
	if _, err := tx.ExecContext(ctx, `DELETE FROM sign_in_event WHERE id IN (
		SELECT id FROM sign_in_event WHERE org_id = ? AND outcome = ? AND ordinal > ? AND ordinal <= ?`+tx.d.skipLocked()+`)`,
		e.OrgID, e.Outcome, last-trimWindow, last); err != nil {
		return err
	}
	// Events a binary from before migration 0009 recorded on this schema
	// are numbered 0, outside every range above; that binary trimmed them
	// by age while it ran. Those older than the oldest event kept here go
	// too, so none outlives the cap once it has stopped. Both lookups are
	// seeks of the (org, outcome, ordinal) index: nothing when there are
	// none, as on every database that never ran such a binary.
	_, err := tx.ExecContext(ctx, `DELETE FROM sign_in_event WHERE id IN (
		SELECT id FROM sign_in_event WHERE org_id = ? AND outcome = ? AND ordinal = 0 AND created_at < (
			SELECT created_at FROM sign_in_event WHERE org_id = ? AND outcome = ? AND ordinal > ? ORDER BY ordinal LIMIT 1)`+tx.d.skipLocked()+`)`,
		e.OrgID, e.Outcome, e.OrgID, e.Outcome, last)
	return err
}

// ListSignInEvents returns the events q selects, newest first.
func (s *Store) ListSignInEvents(ctx context.Context, q store.SignInQuery) ([]store.SignInEvent, error) {
	where := []string{"org_id = ?", "created_at >= ?", "created_at < ?"}
	args := []any{q.OrgID, millis(q.Start), millis(q.End)}
	if q.UserID != "" {
		where, args = append(where, "user_id = ?"), append(args, q.UserID)
	}
	if q.Outcome != "" {
		where, args = append(where, "outcome = ?"), append(args, q.Outcome)
	}
	limit := q.Limit
	if limit <= 0 {
		limit = store.MaxSignInsKept + store.MaxFailedSignInsKept
	}
	rows, err := s.db.QueryContext(ctx, `SELECT `+signInColumns+` FROM sign_in_event WHERE `+strings.Join(where, " AND ")+
		` ORDER BY created_at DESC, id DESC LIMIT ?`, append(args, limit)...)
	if err != nil {
		return nil, fmt.Errorf("list sign-ins of %s: %w", q.OrgID, err)
	}
	defer rows.Close()
	out := []store.SignInEvent{}
	for rows.Next() {
		e, err := scanSignIn(rows)
		if err != nil {
			return nil, fmt.Errorf("list sign-ins of %s: %w", q.OrgID, err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list sign-ins of %s: %w", q.OrgID, err)
	}
	return out, nil
}

// GetSignInByToken returns the successful sign-in that issued tokenID.
func (s *Store) GetSignInByToken(ctx context.Context, tokenID string) (store.SignInEvent, error) {
	row := s.db.QueryRowContext(ctx, `SELECT `+signInColumns+` FROM sign_in_event WHERE token_id = ? AND outcome = ?`, tokenID, store.SignInSucceeded)
	e, err := scanSignIn(row)
	if err != nil {
		return store.SignInEvent{}, fmt.Errorf("get sign-in of token %s: %w", tokenID, notFound(err))
	}
	return e, nil
}

func scanSignIn(r interface{ Scan(...any) error }) (store.SignInEvent, error) {
	var (
		e  store.SignInEvent
		at int64
	)
	if err := r.Scan(&e.ID, &e.OrgID, &e.UserID, &e.Username, &e.CredentialID, &e.TokenID, &e.Outcome, &e.Via,
		&e.Reason, &e.ClientIP, &e.UserAgent, &at); err != nil {
		return store.SignInEvent{}, err
	}
	e.CreatedAt = fromMillis(at)
	return e, nil
}

// ListActiveTokens returns userID's unrevoked, unexpired tokens of kind.
func (s *Store) ListActiveTokens(ctx context.Context, userID, kind string, now time.Time) ([]store.Token, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, kind, org_id, user_id, created_at, expires_at FROM token
		WHERE user_id = ? AND kind = ? AND revoked_at IS NULL AND expires_at > ? ORDER BY created_at DESC, id DESC`,
		userID, kind, millis(now))
	if err != nil {
		return nil, fmt.Errorf("list tokens of %s: %w", userID, err)
	}
	defer rows.Close()
	out := []store.Token{}
	for rows.Next() {
		var (
			t                store.Token
			created, expires int64
		)
		if err := rows.Scan(&t.ID, &t.Kind, &t.OrgID, &t.UserID, &created, &expires); err != nil {
			return nil, fmt.Errorf("list tokens of %s: %w", userID, err)
		}
		t.CreatedAt, t.ExpiresAt = fromMillis(created), fromMillis(expires)
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list tokens of %s: %w", userID, err)
	}
	return out, nil
}

// RevokeTokensSigned revokes the listed login tokens of userID that are
// still active, with the user action and audit entry of sg.
func (s *Store) RevokeTokensSigned(ctx context.Context, sg store.Signed, userID string, ids []string) (int, error) {
	var n int64
	err := s.inSigned(ctx, sg, func(tx conn) error {
		for _, id := range ids {
			res, err := tx.ExecContext(ctx, `UPDATE token SET revoked_at = ? WHERE id = ? AND user_id = ? AND kind = ?
				AND revoked_at IS NULL AND expires_at > ?`, millis(sg.Now), id, userID, store.TokenLogin, millis(sg.Now))
			if err != nil {
				return err
			}
			k, err := res.RowsAffected()
			if err != nil {
				return err
			}
			n += k
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("revoke tokens of %s: %w", userID, err)
	}
	return int(n), nil
}
