package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"countersign/store"
)

// scanner is what *sql.Row and *sql.Rows share.
type scanner interface {
	Scan(dest ...any) error
}

// Invite writes the optional org, the user, its registration code and the
// optional permission and assignment in one transaction.
func (s *Store) Invite(ctx context.Context, in store.Invitation) error {
	if len(in.Code.CodeHash) == 0 {
		return fmt.Errorf("invite %s: registration code hash is empty", in.User.ID)
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if in.Org != nil {
			if err := insertOrg(ctx, tx, *in.Org); err != nil {
				return fmt.Errorf("insert org %s: %w", in.Org.ID, err)
			}
		}
		if err := insertUser(ctx, tx, in.User); err != nil {
			return fmt.Errorf("insert user: %w", err)
		}
		// The code belongs to the invited user, whatever in.Code.UserID says.
		if _, err := tx.ExecContext(ctx,
			`INSERT INTO registration_code (user_id, code_hash, expires_at) VALUES (?, ?, ?)`,
			in.User.ID, in.Code.CodeHash, millis(in.Code.ExpiresAt)); err != nil {
			return fmt.Errorf("insert registration code: %w", mapErr(err))
		}
		if in.Permission != nil {
			if err := insertPermission(ctx, tx, *in.Permission); err != nil {
				return fmt.Errorf("insert permission %s: %w", in.Permission.ID, err)
			}
		}
		if in.Assignment != nil {
			if err := insertAssignment(ctx, tx, *in.Assignment); err != nil {
				return fmt.Errorf("insert assignment %s: %w", in.Assignment.ID, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("invite %s: %w", in.User.ID, err)
	}
	return nil
}

func insertOrg(ctx context.Context, db execer, o store.Org) error {
	_, err := db.ExecContext(ctx,
		`INSERT INTO org (id, name, created_at) VALUES (?, ?, ?)`,
		o.ID, o.Name, millis(o.CreatedAt))
	return mapErr(err)
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
	is_active, is_registered, is_service_account, created_at`

func insertUser(ctx context.Context, db execer, u store.User) error {
	_, err := db.ExecContext(ctx,
		`INSERT INTO user_account (id, org_id, username, username_key, name, kind, user_handle,
			is_active, is_registered, is_service_account, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		u.ID, u.OrgID, u.Username, usernameKey(u.Username), u.Name, u.Kind, u.UserHandle,
		u.IsActive, u.IsRegistered, u.IsServiceAccount, millis(u.CreatedAt))
	return mapErr(err)
}

func scanUser(row scanner) (store.User, error) {
	var (
		u       store.User
		created int64
	)
	if err := row.Scan(&u.ID, &u.OrgID, &u.Username, &u.Name, &u.Kind, &u.UserHandle,
		&u.IsActive, &u.IsRegistered, &u.IsServiceAccount, &created); err != nil {
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

// CompleteRegistration consumes the code, inserts the credentials and marks
// the user registered, all in one transaction: any failure leaves the code,
// the credentials and the user as they were.
func (s *Store) CompleteRegistration(ctx context.Context, userID string, codeHash []byte, now time.Time, creds []store.Credential) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		// The code's existence, hash and expiry are checked by the DELETE
		// itself: only the caller whose DELETE removed the row goes on.
		res, err := tx.ExecContext(ctx,
			`DELETE FROM registration_code WHERE user_id = ? AND code_hash = ? AND expires_at > ?`,
			userID, blob(codeHash), millis(now))
		if err != nil {
			return fmt.Errorf("consume registration code: %w", err)
		}
		if err := mustAffect(res); err != nil {
			return fmt.Errorf("consume registration code: %w", err)
		}
		for _, c := range creds {
			if c.UserID != userID {
				return fmt.Errorf("credential %s belongs to user %q", c.ID, c.UserID)
			}
			if err := insertCredential(ctx, tx, c); err != nil {
				return fmt.Errorf("insert credential %s: %w", c.ID, err)
			}
		}
		res, err = tx.ExecContext(ctx,
			`UPDATE user_account SET is_registered = 1 WHERE id = ?`, userID)
		if err != nil {
			return fmt.Errorf("mark registered: %w", err)
		}
		if err := mustAffect(res); err != nil {
			return fmt.Errorf("mark registered: %w", err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("complete registration of %s: %w", userID, err)
	}
	return nil
}
