package sqlstore

import (
	"context"
	"fmt"
	"time"

	"countersign/store"
)

// One-time codes: recovery verification codes, reset links and credential
// codes, one per user and purpose (the primary key), so a new code replaces
// the old one and the table stays bounded.

const codeColumns = `purpose, user_id, org_id, code_hash, issued_by, created_at, expires_at`

func putCode(ctx context.Context, db conn, c store.Code) error {
	if len(c.CodeHash) == 0 {
		return fmt.Errorf("code hash is empty")
	}
	_, err := db.ExecContext(ctx,
		`INSERT INTO one_time_code (`+codeColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (purpose, user_id) DO UPDATE SET org_id = excluded.org_id, code_hash = excluded.code_hash,
			issued_by = excluded.issued_by, created_at = excluded.created_at, expires_at = excluded.expires_at`,
		c.Purpose, c.UserID, c.OrgID, c.CodeHash, c.IssuedBy, millis(c.CreatedAt), millis(c.ExpiresAt))
	return db.mapErr(err)
}

// PutCode stores c, replacing the user's code of the same purpose.
func (s *Store) PutCode(ctx context.Context, c store.Code) error {
	if err := s.write(ctx, func(db conn) error { return putCode(ctx, db, c) }); err != nil {
		return fmt.Errorf("put %s code of %s: %w", c.Purpose, c.UserID, err)
	}
	return nil
}

// PutCodeSigned is PutCode in one transaction with the use of the
// authorising user action and the audit entry (see inSigned).
func (s *Store) PutCodeSigned(ctx context.Context, sg store.Signed, c store.Code) error {
	err := s.inSigned(ctx, sg, func(tx conn) error { return putCode(ctx, tx, c) })
	if err != nil {
		return fmt.Errorf("put %s code of %s signed: %w", c.Purpose, c.UserID, err)
	}
	return nil
}

func scanCode(row scanner) (store.Code, error) {
	var (
		c                store.Code
		created, expires int64
	)
	if err := row.Scan(&c.Purpose, &c.UserID, &c.OrgID, &c.CodeHash, &c.IssuedBy, &created, &expires); err != nil {
		return store.Code{}, err
	}
	c.CreatedAt, c.ExpiresAt = fromMillis(created), fromMillis(expires)
	return c, nil
}

// GetCode returns userID's code of purpose, expired or not (DeleteExpired
// sweeps expired ones).
func (s *Store) GetCode(ctx context.Context, purpose, userID string) (store.Code, error) {
	c, err := scanCode(s.db.QueryRowContext(ctx,
		`SELECT `+codeColumns+` FROM one_time_code WHERE purpose = ? AND user_id = ?`, purpose, userID))
	if err != nil {
		return store.Code{}, fmt.Errorf("get %s code of %s: %w", purpose, userID, notFound(err))
	}
	return c, nil
}

// FindCode returns the unexpired code of purpose with that hash.
func (s *Store) FindCode(ctx context.Context, purpose string, codeHash []byte, now time.Time) (store.Code, error) {
	c, err := scanCode(s.db.QueryRowContext(ctx,
		`SELECT `+codeColumns+` FROM one_time_code WHERE purpose = ? AND code_hash = ? AND expires_at > ?`,
		purpose, blob(codeHash), millis(now)))
	if err != nil {
		return store.Code{}, fmt.Errorf("find %s code: %w", purpose, notFound(err))
	}
	return c, nil
}

// consumeCode deletes the user's unexpired code of purpose with that hash;
// store.ErrNotFound when no row qualified. The DELETE is the check, so of
// concurrent callers exactly one goes on (in PostgreSQL the others wait
// for the winner's row lock, then find the row gone).
func consumeCode(ctx context.Context, tx conn, purpose, userID string, codeHash []byte, now time.Time) error {
	res, err := tx.ExecContext(ctx,
		`DELETE FROM one_time_code WHERE purpose = ? AND user_id = ? AND code_hash = ? AND expires_at > ?`,
		purpose, userID, blob(codeHash), millis(now))
	if err == nil {
		err = mustAffect(res)
	}
	if err != nil {
		return fmt.Errorf("consume %s code: %w", purpose, err)
	}
	return nil
}

// requireActiveUser checks, inside the transaction, that the user is an
// active, unarchived, registered person of orgID (any org when orgID is
// ""); store.ErrNotFound otherwise. The UPDATE changes nothing but takes
// the row's lock in PostgreSQL, so a concurrent deactivation waits for
// this transaction (or this one for it) instead of racing it.
func requireActiveUser(ctx context.Context, tx conn, userID, orgID string) error {
	res, err := tx.ExecContext(ctx,
		`UPDATE user_account SET is_active = is_active
		WHERE id = ? AND (org_id = ? OR ? = '') AND is_active AND NOT is_archived AND is_registered AND NOT is_service_account`,
		userID, orgID, orgID)
	if err == nil {
		err = mustAffect(res)
	}
	if err != nil {
		return fmt.Errorf("user %s is not an active person: %w", userID, err)
	}
	return nil
}

// CompleteCredentialCode consumes the credential code, checks the user
// and inserts the credential with its audit entry, in one transaction.
func (s *Store) CompleteCredentialCode(ctx context.Context, codeHash []byte, now time.Time, c store.Credential, audit store.AuditEntry) error {
	err := s.inTx(ctx, func(tx conn) error {
		if err := consumeCode(ctx, tx, store.CodeCredential, c.UserID, codeHash, now); err != nil {
			return err
		}
		if err := requireActiveUser(ctx, tx, c.UserID, c.OrgID); err != nil {
			return err
		}
		if err := insertCredential(ctx, tx, c); err != nil {
			return fmt.Errorf("insert credential: %w", err)
		}
		if err := insertAuditEntry(ctx, tx, audit); err != nil {
			return fmt.Errorf("insert audit entry %s: %w", audit.ID, err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("complete credential code of %s: %w", c.UserID, err)
	}
	return nil
}

// Recover replaces every credential and token of a person in one
// transaction; see store.Recovery for what it checks and writes. Every
// check is a conditional statement whose affected rows decide, so two
// recoveries racing with one code or one recovery key cannot both win.
func (s *Store) Recover(ctx context.Context, r store.Recovery) error {
	if len(r.Credentials) == 0 {
		return fmt.Errorf("recover %s: no new credential", r.UserID)
	}
	if r.CodePurpose != store.CodeRecovery && r.CodePurpose != store.CodeReset {
		return fmt.Errorf("recover %s: code purpose %q", r.UserID, r.CodePurpose)
	}
	err := s.inTx(ctx, func(tx conn) error {
		if err := consumeCode(ctx, tx, r.CodePurpose, r.UserID, r.CodeHash, r.Now); err != nil {
			return err
		}
		if err := requireActiveUser(ctx, tx, r.UserID, r.OrgID); err != nil {
			return err
		}
		if r.RecoveryCredentialID != "" {
			res, err := tx.ExecContext(ctx,
				`UPDATE credential SET is_active = FALSE, is_archived = TRUE
				WHERE id = ? AND user_id = ? AND kind = ? AND token_id = '' AND is_active AND NOT is_archived`,
				r.RecoveryCredentialID, r.UserID, store.CredentialRecoveryKey)
			if err == nil {
				err = mustAffect(res)
			}
			if err != nil {
				return fmt.Errorf("use recovery key %s: %w", r.RecoveryCredentialID, err)
			}
		}
		if err := retireEverything(ctx, tx, r.UserID, r.Now); err != nil {
			return err
		}
		for _, c := range r.Credentials {
			if c.UserID != r.UserID {
				return fmt.Errorf("credential %s belongs to user %q", c.ID, c.UserID)
			}
			if err := insertCredential(ctx, tx, c); err != nil {
				return fmt.Errorf("insert credential %s: %w", c.ID, err)
			}
		}
		if err := insertAuditEntry(ctx, tx, r.Audit); err != nil {
			return fmt.Errorf("insert audit entry %s: %w", r.Audit.ID, err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("recover %s: %w", r.UserID, err)
	}
	return nil
}

// retireEverything archives the person's credentials (their tokens' keys
// go with the tokens), revokes their bearer tokens, archives their PATs,
// spends their unused user actions and drops their challenges and
// remaining one-time codes, inside a recovery's transaction.
func retireEverything(ctx context.Context, tx conn, userID string, now time.Time) error {
	steps := []struct {
		what  string
		query string
		args  []any
	}{
		{"archive credentials", `UPDATE credential SET is_active = FALSE, is_archived = TRUE WHERE user_id = ? AND token_id = ''`,
			[]any{userID}},
		{"archive personal access tokens", `UPDATE access_token SET is_active = FALSE, is_archived = TRUE WHERE user_id = ? AND kind = ?`,
			[]any{userID, store.TokenPAT}},
		{"revoke tokens", `UPDATE token SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL`,
			[]any{millis(now), userID}},
		{"spend user actions", `UPDATE user_action SET used_at = ? WHERE user_id = ? AND used_at IS NULL`,
			[]any{millis(now), userID}},
		{"drop challenges", `DELETE FROM challenge WHERE user_id = ?`, []any{userID}},
		{"drop one-time codes", `DELETE FROM one_time_code WHERE user_id = ?`, []any{userID}},
	}
	for _, st := range steps {
		if _, err := tx.ExecContext(ctx, st.query, st.args...); err != nil {
			return fmt.Errorf("%s: %w", st.what, err)
		}
	}
	return nil
}
