package sqlstore

import (
	"context"
	"fmt"
	"time"

	"countersign/store"
)

// Invite writes the optional org, the user, its registration code and the
// optional permission and assignment in one transaction. With in.FirstOrg
// the transaction first takes the dialect's lock on the org table
// (SQLite's write lock is already held from BEGIN IMMEDIATE) and gives
// store.ErrConflict when an org exists, so of servers starting together on
// one new database exactly one creates it.
func (s *Store) Invite(ctx context.Context, in store.Invitation) error {
	err := s.inTx(ctx, func(tx conn) error {
		if in.FirstOrg {
			if err := requireNoOrg(ctx, tx); err != nil {
				return err
			}
		}
		return insertInvitation(ctx, tx, in)
	})
	if err != nil {
		return fmt.Errorf("invite %s: %w", in.User.ID, err)
	}
	return nil
}

// insertInvitation writes what Invite and CreateUserSigned write, with db
// inside their transaction.
func insertInvitation(ctx context.Context, db conn, in store.Invitation) error {
	if len(in.Code.CodeHash) == 0 {
		return fmt.Errorf("registration code hash is empty")
	}
	if in.Org != nil {
		if err := insertOrg(ctx, db, *in.Org); err != nil {
			return fmt.Errorf("insert org %s: %w", in.Org.ID, err)
		}
	}
	if err := insertUser(ctx, db, in.User); err != nil {
		return fmt.Errorf("insert user: %w", err)
	}
	// The code belongs to the invited user, whatever in.Code.UserID says.
	if _, err := db.ExecContext(ctx,
		`INSERT INTO registration_code (user_id, code_hash, expires_at) VALUES (?, ?, ?)`,
		in.User.ID, in.Code.CodeHash, millis(in.Code.ExpiresAt)); err != nil {
		return fmt.Errorf("insert registration code: %w", db.mapErr(err))
	}
	if in.Permission != nil {
		if err := insertPermission(ctx, db, *in.Permission); err != nil {
			return fmt.Errorf("insert permission %s: %w", in.Permission.ID, err)
		}
	}
	if in.Assignment != nil {
		if err := insertAssignment(ctx, db, *in.Assignment); err != nil {
			return fmt.Errorf("insert assignment %s: %w", in.Assignment.ID, err)
		}
	}
	return nil
}

// requireNoOrg locks the org table against concurrent inserts until the
// transaction ends, then checks it is empty.
func requireNoOrg(ctx context.Context, tx conn) error {
	if tx.d.LockOrgs != "" {
		if _, err := tx.ExecContext(ctx, tx.d.LockOrgs); err != nil {
			return fmt.Errorf("lock org table: %w", err)
		}
	}
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM org`).Scan(&n); err != nil {
		return fmt.Errorf("count orgs: %w", err)
	}
	if n > 0 {
		return fmt.Errorf("an organisation exists already: %w", store.ErrConflict)
	}
	return nil
}

func insertOrg(ctx context.Context, db conn, o store.Org) error {
	_, err := db.ExecContext(ctx,
		`INSERT INTO org (id, name, created_at) VALUES (?, ?, ?)`,
		o.ID, o.Name, millis(o.CreatedAt))
	return db.mapErr(err)
}

// GetOrg returns one organisation.
func (s *Store) GetOrg(ctx context.Context, id string) (store.Org, error) {
	o, err := scanOrg(s.db.QueryRowContext(ctx,
		`SELECT id, name, created_at FROM org WHERE id = ?`, id))
	if err != nil {
		return store.Org{}, fmt.Errorf("get org %s: %w", id, notFound(err))
	}
	return o, nil
}

// ListOrgs returns every organisation, oldest first.
func (s *Store) ListOrgs(ctx context.Context) ([]store.Org, error) {
	rows, err := s.db.QueryContext(ctx,
		`SELECT id, name, created_at FROM org ORDER BY created_at, id`)
	if err != nil {
		return nil, fmt.Errorf("list orgs: %w", err)
	}
	defer rows.Close()
	orgs := []store.Org{}
	for rows.Next() {
		o, err := scanOrg(rows)
		if err != nil {
			return nil, fmt.Errorf("list orgs: %w", err)
		}
		orgs = append(orgs, o)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list orgs: %w", err)
	}
	return orgs, nil
}

func scanOrg(row scanner) (store.Org, error) {
	var (
		o       store.Org
		created int64
	)
	if err := row.Scan(&o.ID, &o.Name, &created); err != nil {
		return store.Org{}, err
	}
	o.CreatedAt = fromMillis(created)
	return o, nil
}

const userColumns = `id, org_id, username, name, kind, user_handle,
	is_active, is_registered, is_service_account, is_archived, is_sso_required,
	external_id, created_at`

func insertUser(ctx context.Context, db conn, u store.User) error {
	_, err := db.ExecContext(ctx,
		`INSERT INTO user_account (id, org_id, username, username_key, name, kind, user_handle,
			is_active, is_registered, is_service_account, is_archived, is_sso_required,
			external_id, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		u.ID, u.OrgID, u.Username, usernameKey(u.Username), u.Name, u.Kind, u.UserHandle,
		u.IsActive, u.IsRegistered, u.IsServiceAccount, u.IsArchived, u.IsSSORequired,
		u.ExternalID, millis(u.CreatedAt))
	return db.mapErr(err)
}

func scanUser(row scanner) (store.User, error) {
	var (
		u       store.User
		created int64
	)
	if err := row.Scan(&u.ID, &u.OrgID, &u.Username, &u.Name, &u.Kind, &u.UserHandle,
		&u.IsActive, &u.IsRegistered, &u.IsServiceAccount, &u.IsArchived, &u.IsSSORequired,
		&u.ExternalID, &created); err != nil {
		return store.User{}, err
	}
	u.CreatedAt = fromMillis(created)
	return u, nil
}

// GetUser returns a user by id.
func (s *Store) GetUser(ctx context.Context, id string) (store.User, error) {
	u, err := scanUser(s.db.QueryRowContext(ctx,
		`SELECT `+userColumns+` FROM user_account WHERE id = ?`, id))
	if err != nil {
		return store.User{}, fmt.Errorf("get user %s: %w", id, notFound(err))
	}
	return u, nil
}

// GetUserByUsername returns the user of an organisation with that username,
// compared case-insensitively.
func (s *Store) GetUserByUsername(ctx context.Context, orgID, username string) (store.User, error) {
	u, err := scanUser(s.db.QueryRowContext(ctx,
		`SELECT `+userColumns+` FROM user_account WHERE org_id = ? AND username_key = ?`,
		orgID, usernameKey(username)))
	if err != nil {
		return store.User{}, fmt.Errorf("get user %q in org %s: %w", username, orgID, notFound(err))
	}
	return u, nil
}

// GetUserByHandle returns the user with that WebAuthn user handle.
func (s *Store) GetUserByHandle(ctx context.Context, handle string) (store.User, error) {
	u, err := scanUser(s.db.QueryRowContext(ctx,
		`SELECT `+userColumns+` FROM user_account WHERE user_handle = ?`, handle))
	if err != nil {
		return store.User{}, fmt.Errorf("get user by handle: %w", notFound(err))
	}
	return u, nil
}

// GetRegistrationCode returns the user's pending registration code, expired
// or not (DeleteExpired sweeps expired ones).
func (s *Store) GetRegistrationCode(ctx context.Context, userID string) (store.RegistrationCode, error) {
	var (
		c       = store.RegistrationCode{UserID: userID}
		expires int64
	)
	err := s.db.QueryRowContext(ctx,
		`SELECT code_hash, expires_at FROM registration_code WHERE user_id = ?`, userID).
		Scan(&c.CodeHash, &expires)
	if err != nil {
		return store.RegistrationCode{}, fmt.Errorf("get registration code of %s: %w", userID, notFound(err))
	}
	c.ExpiresAt = fromMillis(expires)
	return c, nil
}

// RenewRegistrationCode writes a new code for a user who has not
// registered, in one statement: the INSERT selects from the user row, so an
// unknown or registered user inserts nothing and is reported not found.
func (s *Store) RenewRegistrationCode(ctx context.Context, code store.RegistrationCode) error {
	return s.write(ctx, func(db conn) error { return renewRegistrationCode(ctx, db, code) })
}

// RenewRegistrationCodeSigned is RenewRegistrationCode under a user action,
// with its audit entry (see inSigned).
func (s *Store) RenewRegistrationCodeSigned(ctx context.Context, sg store.Signed, code store.RegistrationCode) error {
	if err := s.inSigned(ctx, sg, func(tx conn) error { return renewRegistrationCode(ctx, tx, code) }); err != nil {
		return fmt.Errorf("renew registration code signed: %w", err)
	}
	return nil
}

func renewRegistrationCode(ctx context.Context, db conn, code store.RegistrationCode) error {
	res, err := db.ExecContext(ctx,
		`INSERT INTO registration_code (user_id, code_hash, expires_at)
		SELECT id, ?, ? FROM user_account WHERE id = ? AND NOT is_registered AND NOT is_service_account AND NOT is_archived
		ON CONFLICT (user_id) DO UPDATE SET code_hash = excluded.code_hash, expires_at = excluded.expires_at`,
		blob(code.CodeHash), millis(code.ExpiresAt), code.UserID)
	if err != nil {
		return fmt.Errorf("renew registration code of %s: %w", code.UserID, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("renew registration code of %s: %w", code.UserID, err)
	}
	if n == 0 {
		return fmt.Errorf("renew registration code of %s: %w", code.UserID, store.ErrNotFound)
	}
	return nil
}

// CompleteRegistration consumes the code, inserts the credentials, marks
// the user registered and records the result, all in one transaction: any
// failure leaves the code, the credentials and the user as they were.
func (s *Store) CompleteRegistration(ctx context.Context, r store.Registration) error {
	if len(r.Credentials) == 0 {
		return fmt.Errorf("complete registration of %s: no credential", r.UserID)
	}
	err := s.inTx(ctx, func(tx conn) error {
		// The code's existence, hash and expiry are checked by the DELETE
		// itself: only the caller whose DELETE removed the row goes on.
		res, err := tx.ExecContext(ctx,
			`DELETE FROM registration_code WHERE user_id = ? AND code_hash = ? AND expires_at > ?`,
			r.UserID, blob(r.CodeHash), millis(r.Now))
		if err != nil {
			return fmt.Errorf("consume registration code: %w", err)
		}
		if err := mustAffect(res); err != nil {
			return fmt.Errorf("consume registration code: %w", err)
		}
		for _, c := range r.Credentials {
			if c.UserID != r.UserID {
				return fmt.Errorf("credential %s belongs to user %q", c.ID, c.UserID)
			}
			if err := insertCredential(ctx, tx, c); err != nil {
				return fmt.Errorf("insert credential %s: %w", c.ID, err)
			}
		}
		res, err = tx.ExecContext(ctx,
			`UPDATE user_account SET is_registered = TRUE WHERE id = ?`, r.UserID)
		if err != nil {
			return fmt.Errorf("mark registered: %w", err)
		}
		if err := mustAffect(res); err != nil {
			return fmt.Errorf("mark registered: %w", err)
		}
		if _, err := tx.ExecContext(ctx,
			`INSERT INTO registration_result (ceremony_id, user_id, credential_id, request_hash, expires_at)
			VALUES (?, ?, ?, ?, ?)`,
			r.CeremonyID, r.UserID, r.Credentials[0].ID, blob(r.RequestHash), millis(r.ResultUntil)); err != nil {
			return fmt.Errorf("record registration result: %w", tx.mapErr(err))
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("complete registration of %s: %w", r.UserID, err)
	}
	return nil
}

// GetRegistrationResult returns the recorded result of a completed
// registration ceremony while it is unexpired at now.
func (s *Store) GetRegistrationResult(ctx context.Context, ceremonyID string, now time.Time) (store.RegistrationResult, error) {
	var (
		r       = store.RegistrationResult{CeremonyID: ceremonyID}
		expires int64
	)
	err := s.db.QueryRowContext(ctx,
		`SELECT user_id, credential_id, request_hash, expires_at FROM registration_result
		WHERE ceremony_id = ? AND expires_at > ?`, ceremonyID, millis(now)).
		Scan(&r.UserID, &r.CredentialID, &r.RequestHash, &expires)
	if err != nil {
		return store.RegistrationResult{}, fmt.Errorf("get registration result %s: %w", ceremonyID, notFound(err))
	}
	r.ExpiresAt = fromMillis(expires)
	return r, nil
}

// CreateUserSigned writes what Invite writes, without an org, in one
// transaction with the use of the authorising user action and the audit
// entry (see inSigned). An in.Org is a caller's bug: it is refused before
// anything is written.
func (s *Store) CreateUserSigned(ctx context.Context, sg store.Signed, in store.Invitation) error {
	if in.Org != nil {
		return fmt.Errorf("create user %s signed: an org cannot be created with it", in.User.ID)
	}
	err := s.inSigned(ctx, sg, func(tx conn) error {
		return insertInvitation(ctx, tx, in)
	})
	if err != nil {
		return fmt.Errorf("create user %s signed: %w", in.User.ID, err)
	}
	return nil
}

// ListUsers returns a page of an org's users, oldest first (see page.go):
// at most q.Limit (none when q.Limit <= 0) after the user q.After, which
// must be a user of the org (store.ErrNotFound otherwise; archived or
// filtered out is fine). Archived users are left out unless
// q.IncludeArchived. An empty page is an empty, non-nil slice.
func (s *Store) ListUsers(ctx context.Context, q store.UserQuery) ([]store.User, error) {
	k, err := s.cursorOf(ctx, "user_account", "org_id", q.OrgID, q.After)
	if err != nil {
		return nil, fmt.Errorf("list users of %s: %w", q.OrgID, err)
	}
	after, args := k.where()
	query := `SELECT ` + userColumns + ` FROM user_account WHERE org_id = ? AND ` + after
	args = append([]any{q.OrgID}, args...)
	if q.Kind != "" {
		query += ` AND kind = ?`
		args = append(args, q.Kind)
	}
	if q.ServiceAccounts != nil {
		query += ` AND is_service_account = ?`
		args = append(args, *q.ServiceAccounts)
	}
	if !q.IncludeArchived {
		query += ` AND is_archived = FALSE`
	}
	query += ` ORDER BY created_at, ` + s.d.OrderColumn + ` LIMIT ?`
	args = append(args, s.limitArg(q.Limit))

	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list users of %s: %w", q.OrgID, err)
	}
	defer rows.Close()
	users := []store.User{}
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, fmt.Errorf("list users of %s: %w", q.OrgID, err)
		}
		users = append(users, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list users of %s: %w", q.OrgID, err)
	}
	return users, nil
}

// UpdateUserSigned applies the set fields of p to a user of orgID in one
// UPDATE, in one transaction with the use of the authorising user action
// and the audit entry (see inSigned); store.ErrNotFound when the user is
// not orgID's. Archiving also deactivates, whatever p.IsActive says;
// unarchiving leaves IsActive as it is (or as p sets it). Deactivating or
// archiving revokes the user's unrevoked login tokens, and those it asked
// for by delegation, in the same transaction.
func (s *Store) UpdateUserSigned(ctx context.Context, sg store.Signed, orgID, id string, p store.UserPatch) error {
	archive := p.IsArchived != nil && *p.IsArchived
	disable := archive || (p.IsActive != nil && !*p.IsActive)
	err := s.inSigned(ctx, sg, func(tx conn) error {
		// A nil pointer is NULL: COALESCE keeps the stored value.
		res, err := tx.ExecContext(ctx,
			`UPDATE user_account SET
				name = COALESCE(?, name),
				external_id = COALESCE(?, external_id),
				is_sso_required = COALESCE(?, is_sso_required),
				is_archived = COALESCE(?, is_archived),
				is_active = CASE WHEN ? THEN FALSE ELSE COALESCE(?, is_active) END
			WHERE id = ? AND org_id = ?`,
			p.Name, p.ExternalID, p.IsSSORequired, p.IsArchived, archive, p.IsActive, id, orgID)
		if err == nil {
			err = mustAffect(res)
		}
		if err != nil {
			return fmt.Errorf("update user: %w", err)
		}
		if disable {
			if _, err := tx.ExecContext(ctx,
				`UPDATE token SET revoked_at = ? WHERE revoked_at IS NULL AND ((user_id = ? AND kind = ?) OR (delegated_by = ? AND delegated_by <> ''))`,
				millis(sg.Now), id, store.TokenLogin, id); err != nil {
				return fmt.Errorf("revoke login tokens: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("update user %s of org %s signed: %w", id, orgID, err)
	}
	return nil
}
