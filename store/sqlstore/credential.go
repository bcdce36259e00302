package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"countersign/store"
)

const credentialColumns = `id, org_id, user_id, kind, cred_id, name, public_key,
	attestation_type, aaguid, transports, sign_count, user_present, user_verified,
	backup_eligible, backup_state, origin, rp_id, is_active, created_at,
	last_login_at, last_sign_at, token_id, encrypted_private_key, is_archived`

func insertCredential(ctx context.Context, db conn, c store.Credential) error {
	transports, err := encodeList(c.Transports)
	if err != nil {
		return err
	}
	_, err = db.ExecContext(ctx,
		`INSERT INTO credential (`+credentialColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		c.ID, c.OrgID, c.UserID, c.Kind, c.CredID, c.Name, blob(c.PublicKey),
		c.AttestationType, blob(c.AAGUID), transports, int64(c.SignCount), c.UserPresent, c.UserVerified,
		c.BackupEligible, c.BackupState, c.Origin, c.RPID, c.IsActive, millis(c.CreatedAt),
		nullMillis(c.LastLoginAt), nullMillis(c.LastSignAt), c.TokenID, c.EncryptedPrivateKey, c.IsArchived)
	return db.mapErr(err)
}

func scanCredential(row scanner) (store.Credential, error) {
	var (
		c                   store.Credential
		transports          string
		signCount, created  int64
		lastLogin, lastSign sql.NullInt64
	)
	if err := row.Scan(&c.ID, &c.OrgID, &c.UserID, &c.Kind, &c.CredID, &c.Name, &c.PublicKey,
		&c.AttestationType, &c.AAGUID, &transports, &signCount, &c.UserPresent, &c.UserVerified,
		&c.BackupEligible, &c.BackupState, &c.Origin, &c.RPID, &c.IsActive, &created,
		&lastLogin, &lastSign, &c.TokenID, &c.EncryptedPrivateKey, &c.IsArchived); err != nil {
		return store.Credential{}, err
	}
	list, err := decodeList(transports)
	if err != nil {
		return store.Credential{}, err
	}
	c.Transports = list
	c.SignCount = uint32(signCount)
	c.CreatedAt = fromMillis(created)
	c.LastLoginAt = fromNullMillis(lastLogin)
	c.LastSignAt = fromNullMillis(lastSign)
	return c, nil
}

// CreateCredential inserts a credential; store.ErrConflict when its CredID
// (or ID) is already stored.
func (s *Store) CreateCredential(ctx context.Context, c store.Credential) error {
	if err := s.write(ctx, func(db conn) error { return insertCredential(ctx, db, c) }); err != nil {
		return fmt.Errorf("create credential %s: %w", c.ID, err)
	}
	return nil
}

// GetCredentialByCredID returns the credential with that wire credential id.
func (s *Store) GetCredentialByCredID(ctx context.Context, credID string) (store.Credential, error) {
	c, err := scanCredential(s.db.QueryRowContext(ctx,
		`SELECT `+credentialColumns+` FROM credential WHERE cred_id = ?`, credID))
	if err != nil {
		return store.Credential{}, fmt.Errorf("get credential %s: %w", credID, notFound(err))
	}
	return c, nil
}

// GetCredential returns the credential with that id (cr-…).
func (s *Store) GetCredential(ctx context.Context, id string) (store.Credential, error) {
	c, err := scanCredential(s.db.QueryRowContext(ctx,
		`SELECT `+credentialColumns+` FROM credential WHERE id = ?`, id))
	if err != nil {
		return store.Credential{}, fmt.Errorf("get credential %s: %w", id, notFound(err))
	}
	return c, nil
}

// ListCredentials returns a user's credentials, oldest first; an empty,
// non-nil slice when there are none.
func (s *Store) ListCredentials(ctx context.Context, userID string) ([]store.Credential, error) {
	rows, err := s.db.QueryContext(ctx,
		`SELECT `+credentialColumns+` FROM credential WHERE user_id = ? ORDER BY created_at, `+s.d.OrderColumn, userID)
	if err != nil {
		return nil, fmt.Errorf("list credentials of %s: %w", userID, err)
	}
	defer rows.Close()
	creds := []store.Credential{}
	for rows.Next() {
		c, err := scanCredential(rows)
		if err != nil {
			return nil, fmt.Errorf("list credentials of %s: %w", userID, err)
		}
		creds = append(creds, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list credentials of %s: %w", userID, err)
	}
	return creds, nil
}

// RecordCredentialUse stores the sign counter, the flags and the login or
// signature time in one UPDATE.
func (s *Store) RecordCredentialUse(ctx context.Context, id string, use store.CredentialUse) error {
	err := s.write(ctx, func(db conn) error { return recordCredentialUse(ctx, db, id, use) })
	if errors.Is(err, store.ErrNotFound) {
		err = s.whyNotRecorded(ctx, id, use)
	}
	if err != nil {
		return fmt.Errorf("record credential use %s: %w", id, err)
	}
	return nil
}

// recordCredentialUse is RecordCredentialUse's UPDATE, for any
// transaction: store.ErrNotFound when it changed no row.
func recordCredentialUse(ctx context.Context, db conn, id string, use store.CredentialUse) error {
	var column string
	switch use.Purpose {
	case store.UseLogin:
		column = "last_login_at"
	case store.UseSign:
		column = "last_sign_at"
	default:
		return fmt.Errorf("unknown purpose %q", use.Purpose)
	}
	// The WHERE is the check: the credential must still be active and its
	// counter below the new one (or both 0), at the moment of the write.
	counter := int64(use.SignCount)
	res, err := db.ExecContext(ctx,
		`UPDATE credential SET sign_count = ?, user_verified = ?, backup_state = ?, `+column+` = ?
		WHERE id = ? AND is_active AND (sign_count < ? OR (sign_count = 0 AND ? = 0))`,
		counter, use.UserVerified, use.BackupState, millis(use.At), id, counter, counter)
	if err != nil {
		return err
	}
	return mustAffect(res)
}

// whyNotRecorded tells, after recordCredentialUse changed no row, a lost
// race on the counter (store.ErrSignCount) from a credential gone or
// inactive (store.ErrNotFound).
func (s *Store) whyNotRecorded(ctx context.Context, id string, use store.CredentialUse) error {
	if c, err := s.GetCredential(ctx, id); err == nil && c.IsActive {
		return fmt.Errorf("stored counter %d, new %d: %w", c.SignCount, use.SignCount, store.ErrSignCount)
	}
	return store.ErrNotFound
}

// CreateCredentialSigned inserts a credential in one transaction with the
// use of the authorising user action and the audit entry (see inSigned);
// store.ErrConflict when its CredID (or ID) is already stored. A new
// recovery key archives the user's others first: one recovery code at a
// time, and the one written down before stops working.
func (s *Store) CreateCredentialSigned(ctx context.Context, sg store.Signed, c store.Credential) error {
	err := s.inSigned(ctx, sg, func(tx conn) error {
		if c.Kind == store.CredentialRecoveryKey {
			if _, err := tx.ExecContext(ctx,
				`UPDATE credential SET is_active = FALSE, is_archived = TRUE WHERE user_id = ? AND kind = ? AND token_id = ''`,
				c.UserID, store.CredentialRecoveryKey); err != nil {
				return fmt.Errorf("archive previous recovery keys: %w", err)
			}
		}
		if err := insertCredential(ctx, tx, c); err != nil {
			return fmt.Errorf("insert credential: %w", err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("create credential %s signed: %w", c.ID, err)
	}
	return nil
}

// SetCredentialActive activates or deactivates a credential of userID in
// one transaction with the use of the authorising user action and the
// audit entry (see inSigned). store.ErrNotFound when the credential is not
// userID's; store.ErrLastCredential when deactivating it would leave
// userID without an active sign-in credential (Fido2 or Key: a recovery
// key cannot sign in); store.ErrArchived when activating an archived one.
//
// The last-active check counts the user's other active credentials inside
// the transaction. In SQLite, BEGIN IMMEDIATE serialises it with every
// other write, so two concurrent deactivations of a user's last two
// credentials cannot both see the other one still active. In PostgreSQL
// (Dialect.RowLocks), the count comes after locking every credential row
// of the user (FOR NO KEY UPDATE, the lock an UPDATE of the row takes, in
// id order so that two such transactions cannot deadlock). Two concurrent
// deactivations of a user's last two credentials therefore run one after
// the other, and the second one's count (a new snapshot at READ COMMITTED)
// sees the first one's change. A credential inserted meanwhile is not
// locked, but one more active credential cannot make the count wrong. The
// rule is checked whenever active is false, also when the credential is
// already inactive.
//
// An access token's own Key credential (TokenID set) is the token's, not
// the user's (store.Credential.TokenID), so it does not count as one of
// the user's active credentials: it cannot log the user in.
func (s *Store) SetCredentialActive(ctx context.Context, sg store.Signed, userID, credentialID string, active bool) error {
	err := s.inSigned(ctx, sg, func(tx conn) error {
		if !active && s.d.RowLocks {
			// Exec runs the SELECT to its end, locking every row.
			if _, err := tx.ExecContext(ctx,
				`SELECT 1 FROM credential WHERE user_id = ? ORDER BY id`+s.d.ByteOrder+s.d.forNoKeyUpdate(),
				userID); err != nil {
				return fmt.Errorf("lock credentials: %w", err)
			}
		}
		res, err := tx.ExecContext(ctx,
			`UPDATE credential SET is_active = ? WHERE id = ? AND user_id = ? AND NOT (is_archived AND ?)`,
			active, credentialID, userID, active)
		if err == nil {
			err = mustAffect(res)
		}
		if errors.Is(err, store.ErrNotFound) && active {
			var archived bool
			if tx.QueryRowContext(ctx, `SELECT is_archived FROM credential WHERE id = ? AND user_id = ?`,
				credentialID, userID).Scan(&archived) == nil && archived {
				err = store.ErrArchived
			}
		}
		if err != nil {
			return fmt.Errorf("update credential: %w", err)
		}
		if active {
			return nil
		}
		var others int64
		if err := tx.QueryRowContext(ctx,
			`SELECT count(*) FROM credential WHERE user_id = ? AND is_active = TRUE AND id <> ? AND token_id = '' AND kind <> ?`,
			userID, credentialID, store.CredentialRecoveryKey).Scan(&others); err != nil {
			return fmt.Errorf("count active credentials: %w", err)
		}
		if others == 0 {
			return store.ErrLastCredential
		}
		return nil
	})
	if err != nil {
		verb := "deactivate"
		if active {
			verb = "activate"
		}
		return fmt.Errorf("%s credential %s of %s: %w", verb, credentialID, userID, err)
	}
	return nil
}

// RenameCredential renames a credential of userID in one transaction with
// the use of the authorising user action and the audit entry (see
// inSigned); store.ErrNotFound when the credential is not userID's.
func (s *Store) RenameCredential(ctx context.Context, sg store.Signed, userID, credentialID, name string) error {
	err := s.inSigned(ctx, sg, func(tx conn) error {
		res, err := tx.ExecContext(ctx,
			`UPDATE credential SET name = ? WHERE id = ? AND user_id = ?`, name, credentialID, userID)
		if err == nil {
			err = mustAffect(res)
		}
		if err != nil {
			return fmt.Errorf("update credential: %w", err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("rename credential %s of %s: %w", credentialID, userID, err)
	}
	return nil
}
