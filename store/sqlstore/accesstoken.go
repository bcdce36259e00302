package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"countersign/store"
)

const accessTokenColumns = `id, org_id, kind, name, user_id, credential_id, external_id,
	is_active, is_archived, created_at, expires_at, last_used_at, last_used_for, scope`

// insertAccessToken writes what one access token is, in this order (each
// row's foreign keys refer to rows before it): its bearer token row, its
// Key credential, its metadata and, when a is set, its assignment.
func insertAccessToken(ctx context.Context, db conn, t store.AccessToken, cred store.Credential, a *store.Assignment) error {
	if _, err := db.ExecContext(ctx,
		`INSERT INTO token (id, kind, org_id, user_id, created_at, expires_at, revoked_at)
		VALUES (?, ?, ?, ?, ?, ?, NULL)`,
		t.ID, t.Kind, t.OrgID, t.UserID, millis(t.CreatedAt), millis(t.ExpiresAt)); err != nil {
		return fmt.Errorf("insert token %s: %w", t.ID, db.mapErr(err))
	}
	if err := insertCredential(ctx, db, cred); err != nil {
		return fmt.Errorf("insert credential %s: %w", cred.ID, err)
	}
	if _, err := db.ExecContext(ctx,
		`INSERT INTO access_token (`+accessTokenColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		t.ID, t.OrgID, t.Kind, t.Name, t.UserID, t.CredentialID, t.ExternalID,
		t.IsActive, t.IsArchived, millis(t.CreatedAt), millis(t.ExpiresAt),
		nullMillis(t.LastUsedAt), t.LastUsedFor, t.Scope); err != nil {
		return fmt.Errorf("insert access token %s: %w", t.ID, db.mapErr(err))
	}
	if a != nil {
		if err := insertAssignment(ctx, db, *a); err != nil {
			return fmt.Errorf("insert assignment %s: %w", a.ID, err)
		}
	}
	return nil
}

// checkAccessToken refuses a token whose key is not its own: the contract
// ties them together (t.CredentialID is cred.ID, cred.TokenID is t.ID,
// both belong to t.UserID of t.OrgID), and rows that disagree would make
// the key or the token act for someone else. A mismatch is a caller's bug,
// not a sentinel, refused before anything is written, as inSigned refuses
// an audit entry of another action.
func checkAccessToken(t store.AccessToken, cred store.Credential) error {
	switch {
	case cred.TokenID != t.ID:
		return fmt.Errorf("credential %s is the key of token %q, not of %s", cred.ID, cred.TokenID, t.ID)
	case t.CredentialID != cred.ID:
		return fmt.Errorf("token %s names credential %q, not %s", t.ID, t.CredentialID, cred.ID)
	case cred.UserID != t.UserID || cred.OrgID != t.OrgID:
		return fmt.Errorf("credential %s belongs to user %q of org %q, token %s to user %q of org %q",
			cred.ID, cred.UserID, cred.OrgID, t.ID, t.UserID, t.OrgID)
	case t.Scope != store.ScopeAllUserOperations && t.Scope != store.ScopeAssignedOnly:
		return fmt.Errorf("token %s has no scope (%q): it must be fixed at creation", t.ID, t.Scope)
	}
	return nil
}

// CreateAccessTokenSigned writes a personal access token (see
// insertAccessToken) in one transaction with the use of the authorising
// user action and the audit entry (see inSigned); store.ErrConflict when
// the key's CredID (or any id) is taken. The key and the assignment must
// be the token's (checkAccessToken, a.IdentityID == t.ID).
func (s *Store) CreateAccessTokenSigned(ctx context.Context, sg store.Signed, t store.AccessToken, cred store.Credential, a *store.Assignment) error {
	err := checkAccessToken(t, cred)
	if err == nil && a != nil && a.IdentityID != t.ID {
		err = fmt.Errorf("assignment %s is to %q, not to the token", a.ID, a.IdentityID)
	}
	if err == nil {
		err = s.inSigned(ctx, sg, func(tx conn) error {
			return insertAccessToken(ctx, tx, t, cred, a)
		})
	}
	if err != nil {
		return fmt.Errorf("create access token %s signed: %w", t.ID, err)
	}
	return nil
}

// CreateServiceAccountSigned writes a service account user, then its
// first token (see insertAccessToken) with the assignment to the user, in
// one transaction with the use of the authorising user action and the
// audit entry (see inSigned); store.ErrConflict when the username is
// taken in the org or the key's CredID (or any id) is taken. u must be a
// service account and the token, its key and the assignment its own.
// A service account gets no registration code: it never registers.
func (s *Store) CreateServiceAccountSigned(ctx context.Context, sg store.Signed, u store.User, t store.AccessToken, cred store.Credential, a *store.Assignment) error {
	err := checkAccessToken(t, cred)
	switch {
	case err != nil:
	case !u.IsServiceAccount:
		err = fmt.Errorf("user %s is not a service account", u.ID)
	case t.UserID != u.ID || t.OrgID != u.OrgID:
		err = fmt.Errorf("token %s is of user %q of org %q, not of the service account", t.ID, t.UserID, t.OrgID)
	case a != nil && a.IdentityID != u.ID:
		err = fmt.Errorf("assignment %s is to %q, not to the service account", a.ID, a.IdentityID)
	}
	if err == nil {
		err = s.inSigned(ctx, sg, func(tx conn) error {
			if err := insertUser(ctx, tx, u); err != nil {
				return fmt.Errorf("insert user: %w", err)
			}
			return insertAccessToken(ctx, tx, t, cred, a)
		})
	}
	if err != nil {
		return fmt.Errorf("create service account %s signed: %w", u.ID, err)
	}
	return nil
}

func scanAccessToken(row scanner) (store.AccessToken, error) {
	var (
		t                store.AccessToken
		created, expires int64
		lastUsed         sql.NullInt64
	)
	if err := row.Scan(&t.ID, &t.OrgID, &t.Kind, &t.Name, &t.UserID, &t.CredentialID, &t.ExternalID,
		&t.IsActive, &t.IsArchived, &created, &expires, &lastUsed, &t.LastUsedFor, &t.Scope); err != nil {
		return store.AccessToken{}, err
	}
	t.CreatedAt = fromMillis(created)
	t.ExpiresAt = fromMillis(expires)
	t.LastUsedAt = fromNullMillis(lastUsed)
	return t, nil
}

// GetAccessToken returns an access token's metadata, archived, expired
// or not (its bearer row may be gone: see DeleteExpired).
func (s *Store) GetAccessToken(ctx context.Context, id string) (store.AccessToken, error) {
	t, err := scanAccessToken(s.db.QueryRowContext(ctx,
		`SELECT `+accessTokenColumns+` FROM access_token WHERE id = ?`, id))
	if err != nil {
		return store.AccessToken{}, fmt.Errorf("get access token %s: %w", id, notFound(err))
	}
	return t, nil
}

// ListAccessTokens returns an org's access tokens, of q.UserID and of
// q.Kind when set, oldest first; an empty, non-nil slice when there are
// none. Archived and expired tokens are listed too: the query has no
// filter for them, so the caller decides what to show.
func (s *Store) ListAccessTokens(ctx context.Context, q store.AccessTokenQuery) ([]store.AccessToken, error) {
	query := `SELECT ` + accessTokenColumns + ` FROM access_token WHERE org_id = ?`
	args := []any{q.OrgID}
	if q.UserID != "" {
		query += ` AND user_id = ?`
		args = append(args, q.UserID)
	}
	if q.Kind != "" {
		query += ` AND kind = ?`
		args = append(args, q.Kind)
	}
	query += ` ORDER BY created_at, ` + s.d.OrderColumn

	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list access tokens of %s: %w", q.OrgID, err)
	}
	defer rows.Close()
	tokens := []store.AccessToken{}
	for rows.Next() {
		t, err := scanAccessToken(rows)
		if err != nil {
			return nil, fmt.Errorf("list access tokens of %s: %w", q.OrgID, err)
		}
		tokens = append(tokens, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list access tokens of %s: %w", q.OrgID, err)
	}
	return tokens, nil
}

// UpdateAccessTokenSigned applies the set fields of p to a token of orgID
// in one UPDATE, in one transaction with the use of the authorising user
// action and the audit entry (see inSigned); store.ErrNotFound when the
// token is not orgID's. Archiving also deactivates, whatever p.IsActive
// says. The bearer row is left alone: a deactivated token must be
// activatable again, which a revocation is not, so whoever verifies the
// bearer checks the metadata's IsActive and IsArchived.
func (s *Store) UpdateAccessTokenSigned(ctx context.Context, sg store.Signed, orgID, id string, p store.AccessTokenPatch) error {
	archive := p.IsArchived != nil && *p.IsArchived
	err := s.inSigned(ctx, sg, func(tx conn) error {
		// A nil pointer is NULL: COALESCE keeps the stored value.
		res, err := tx.ExecContext(ctx,
			`UPDATE access_token SET
				name = COALESCE(?, name),
				external_id = COALESCE(?, external_id),
				is_archived = COALESCE(?, is_archived),
				is_active = CASE WHEN ? THEN FALSE ELSE COALESCE(?, is_active) END
			WHERE id = ? AND org_id = ?`,
			p.Name, p.ExternalID, p.IsArchived, archive, p.IsActive, id, orgID)
		if err == nil {
			err = mustAffect(res)
		}
		if err != nil {
			return fmt.Errorf("update access token: %w", err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("update access token %s of org %s signed: %w", id, orgID, err)
	}
	return nil
}

// RecordTokenUse stores, in one UPDATE, when and for what (store.UseRead or
// store.UseSign) an access token was last used.
func (s *Store) RecordTokenUse(ctx context.Context, id string, at time.Time, purpose string) error {
	if purpose != store.UseRead && purpose != store.UseSign {
		return fmt.Errorf("record token use %s: unknown purpose %q", id, purpose)
	}
	err := s.write(ctx, func(db conn) error {
		return recordTokenUse(ctx, db, store.TokenUse{TokenID: id, At: at, Purpose: purpose})
	})
	if err != nil {
		return fmt.Errorf("record token use %s: %w", id, err)
	}
	return nil
}

// recordTokenUse is RecordTokenUse's statement, for any transaction.
func recordTokenUse(ctx context.Context, db conn, u store.TokenUse) error {
	res, err := db.ExecContext(ctx,
		`UPDATE access_token SET last_used_at = ?, last_used_for = ? WHERE id = ?`, millis(u.At), u.Purpose, u.TokenID)
	if err != nil {
		return err
	}
	return mustAffect(res)
}
