package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"countersign/store"
)

const userActionColumns = `id, org_id, user_id, identity_id, token_id, credential_id,
	method, path, payload, client_data, authenticator_data, signature,
	summary, created_at, expires_at, used_at`

// CreateUserAction stores a verified user action; store.ErrConflict when its
// id is taken.
func (s *Store) CreateUserAction(ctx context.Context, a store.UserAction) error {
	if err := s.write(ctx, func(db conn) error { return insertUserAction(ctx, db, a) }); err != nil {
		return fmt.Errorf("create user action %s: %w", store.Ref(a.ID), err)
	}
	return nil
}

func insertUserAction(ctx context.Context, db conn, a store.UserAction) error {
	_, err := db.ExecContext(ctx,
		`INSERT INTO user_action (`+userActionColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		a.ID, a.OrgID, a.UserID, a.IdentityID, a.TokenID, a.CredentialID,
		a.Method, a.Path, blob(a.Payload), blob(a.ClientData), blob(a.AuthenticatorData), blob(a.Signature),
		a.Summary, millis(a.CreatedAt), millis(a.ExpiresAt), nullMillis(a.UsedAt))
	return db.mapErr(err)
}

// GetUserAction returns a user action, used or not, expired or not
// (DeleteExpired sweeps expired ones).
func (s *Store) GetUserAction(ctx context.Context, id string) (store.UserAction, error) {
	var sc userActionScan
	err := s.db.QueryRowContext(ctx,
		`SELECT `+userActionColumns+` FROM user_action WHERE id = ?`, id).Scan(sc.dest()...)
	if err != nil {
		return store.UserAction{}, fmt.Errorf("get user action %s: %w", store.Ref(id), notFound(err))
	}
	return sc.action(), nil
}

// GetUserActionCredential is GetUserAction with the credential that
// signed the action, in one query: the request that uses an action needs
// both. store.ErrNotFound when either is missing.
func (s *Store) GetUserActionCredential(ctx context.Context, id string) (store.UserAction, store.Credential, error) {
	var sc userActionScan
	cred, err := scanCredential(prefixed{head: sc.dest(), row: s.db.QueryRowContext(ctx, userActionCredentialQuery, id)})
	if err != nil {
		return store.UserAction{}, store.Credential{}, fmt.Errorf("get user action %s with its credential: %w", store.Ref(id), notFound(err))
	}
	return sc.action(), cred, nil
}

var userActionCredentialQuery = `SELECT ` + qualified("a", userActionColumns) + `, ` + qualified("c", credentialColumns) + `
	FROM user_action a JOIN credential c ON c.id = a.credential_id
	WHERE a.id = ?`

// userActionScan receives the userActionColumns of a row.
type userActionScan struct {
	a                store.UserAction
	created, expires int64
	used             sql.NullInt64
}

func (sc *userActionScan) dest() []any {
	a := &sc.a
	return []any{&a.ID, &a.OrgID, &a.UserID, &a.IdentityID, &a.TokenID, &a.CredentialID,
		&a.Method, &a.Path, &a.Payload, &a.ClientData, &a.AuthenticatorData, &a.Signature,
		&a.Summary, &sc.created, &sc.expires, &sc.used}
}

func (sc *userActionScan) action() store.UserAction {
	a := sc.a
	a.CreatedAt = fromMillis(sc.created)
	a.ExpiresAt = fromMillis(sc.expires)
	a.UsedAt = fromNullMillis(sc.used)
	return a
}

// inSigned runs change in one transaction with the use of the user action
// sg.ActionID and the insertion of sg.Audit, in that order. The action is
// used by a conditional UPDATE whose affected-row count decides, so of
// concurrent callers (in this process or another replica) exactly one goes
// on; any later error, the change's own included, rolls the use back with
// the rest, so a change that fails never burns its action.
//
// sg.Audit.ActionID must be sg.ActionID: the contract carries the action id
// twice, and an audit entry naming another action than the one consumed
// would misattribute the change, so a mismatch is refused (a caller's bug,
// not a sentinel) before anything is written.
func (s *Store) inSigned(ctx context.Context, sg store.Signed, change func(tx conn) error) error {
	if sg.Audit.ActionID != sg.ActionID {
		return fmt.Errorf("audit entry %s names user action %q, not the consumed %q",
			sg.Audit.ID, store.Ref(sg.Audit.ActionID), store.Ref(sg.ActionID))
	}
	return s.inTx(ctx, func(tx conn) error {
		if err := useUserAction(ctx, tx, sg.ActionID, sg.Now); err != nil {
			return err
		}
		if err := change(tx); err != nil {
			return err
		}
		if err := insertAuditEntry(ctx, tx, sg.Audit); err != nil {
			return fmt.Errorf("insert audit entry %s: %w", sg.Audit.ID, err)
		}
		if sg.TokenUse != nil {
			if err := recordTokenUse(ctx, tx, *sg.TokenUse); err != nil {
				return fmt.Errorf("record token use: %w", err)
			}
		}
		return nil
	})
}

// useUserAction marks the action used at now if it is unused and unexpired
// at now; store.ErrActionUsed when no row qualified (used, expired or
// unknown: one error on purpose). The check is the UPDATE itself, never a
// read in Go. In PostgreSQL, concurrent UPDATEs of the row queue on its
// lock, and at READ COMMITTED each one after the first re-evaluates its
// WHERE on the row the first committed (used_at set: no row) or, if the
// first rolled back, on the unchanged row (it goes on). The row stays
// locked until the transaction ends, so the action's use and the change
// commit together.
func useUserAction(ctx context.Context, tx conn, id string, now time.Time) error {
	res, err := tx.ExecContext(ctx,
		`UPDATE user_action SET used_at = ? WHERE id = ? AND used_at IS NULL AND expires_at > ?`,
		millis(now), id, millis(now))
	if err != nil {
		return fmt.Errorf("use user action %s: %w", store.Ref(id), err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("use user action %s: %w", store.Ref(id), err)
	}
	if n == 0 {
		return fmt.Errorf("use user action %s: %w", store.Ref(id), store.ErrActionUsed)
	}
	return nil
}

// RecordUserActionMismatch counts a mismatched use of an unused action in
// one UPDATE and spends the action at the limit-th: the count and the
// spending are the statement's own, so concurrent attempts cannot slip
// past the limit. An unknown or already spent action is reported spent.
func (s *Store) RecordUserActionMismatch(ctx context.Context, id string, now time.Time, limit int) (bool, error) {
	var mismatches int
	var used sql.NullInt64
	err := s.write(ctx, func(db conn) error {
		return db.QueryRowContext(ctx,
			`UPDATE user_action SET mismatches = mismatches + 1,
				used_at = CASE WHEN mismatches + 1 >= ? THEN ? ELSE used_at END
			WHERE id = ? AND used_at IS NULL
			RETURNING mismatches, used_at`,
			limit, millis(now), id).Scan(&mismatches, &used)
	})
	if errors.Is(err, sql.ErrNoRows) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("record mismatch of user action %s: %w", store.Ref(id), err)
	}
	return used.Valid, nil
}
