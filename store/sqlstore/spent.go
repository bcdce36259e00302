package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"countersign/store"
)

// SpendChallenge records a sealed challenge as spent; store.ErrConflict
// when it already was (the primary key decides, so of concurrent callers
// in any replica exactly one succeeds).
func (s *Store) SpendChallenge(ctx context.Context, c store.SpentChallenge) error {
	if err := s.write(ctx, func(db conn) error { return insertSpent(ctx, db, c) }); err != nil {
		return fmt.Errorf("spend challenge %s: %w", store.Ref(c.ID), err)
	}
	return nil
}

func insertSpent(ctx context.Context, db conn, c store.SpentChallenge) error {
	_, err := db.ExecContext(ctx, `INSERT INTO spent_challenge (id, expires_at) VALUES (?, ?)`, c.ID, millis(c.ExpiresAt))
	return db.mapErr(err)
}

// errUserGone stops RecordAssertion's transaction when the user a login
// token is for was deactivated or archived after the assertion was
// verified: nothing of it is written, and the challenge is spent alone.
var errUserGone = errors.New("the user is no longer active")

// errNotRecorded stops RecordAssertion's transaction after the challenge
// was spent but the credential's use could not be recorded: the spending
// commits, the rest is not written.
var errNotRecorded = errors.New("credential use not recorded")

// RecordAssertion spends the challenge, records the credential's use and
// writes the login token or user action, in one transaction. The challenge
// goes first: a replay stops there (store.ErrConflict) before it writes
// anything. The use is the conditional UPDATE of RecordCredentialUse; when
// it changes no row (a counter that lost a race, a credential deactivated
// meanwhile) the transaction commits with the challenge spent alone, so
// the failed attempt burns it as any failed attempt does.
func (s *Store) RecordAssertion(ctx context.Context, r store.AssertionRecord) error {
	if r.Token != nil && r.Action != nil {
		return fmt.Errorf("record assertion of challenge %s: a login token and a user action at once", store.Ref(r.Challenge.ID))
	}
	notRecorded := false
	err := s.inTx(ctx, func(tx conn) error {
		if err := insertSpent(ctx, tx, r.Challenge); err != nil {
			return fmt.Errorf("spend challenge: %w", err)
		}
		err := recordCredentialUse(ctx, tx, r.CredentialID, r.Use)
		if errors.Is(err, store.ErrNotFound) {
			notRecorded = true
			return nil // commit the spending alone
		}
		if err != nil {
			return fmt.Errorf("record credential use: %w", err)
		}
		if r.TokenUse != nil {
			if err := recordTokenUse(ctx, tx, *r.TokenUse); err != nil {
				return fmt.Errorf("record token use: %w", err)
			}
		}
		if r.Token != nil {
			if err := insertTokenOfActiveUser(ctx, tx, *r.Token, false); err != nil {
				return fmt.Errorf("insert token %s: %w", r.Token.ID, err)
			}
		}
		if r.SignIn != nil {
			if err := insertSignIn(ctx, tx, *r.SignIn); err != nil {
				return fmt.Errorf("record sign-in %s: %w", r.SignIn.ID, err)
			}
		}
		if r.Action != nil {
			if err := insertUserAction(ctx, tx, *r.Action); err != nil {
				return fmt.Errorf("insert user action %s: %w", store.Ref(r.Action.ID), err)
			}
		}
		return nil
	})
	if err == nil && notRecorded {
		err = s.whyNotRecorded(ctx, r.CredentialID, r.Use)
	}
	if errors.Is(err, errUserGone) {
		err = fmt.Errorf("token %s: user %s: %w", r.Token.ID, r.Token.UserID, store.ErrNotFound)
		if serr := s.SpendChallenge(ctx, r.Challenge); serr != nil && !errors.Is(serr, store.ErrConflict) {
			err = errors.Join(err, serr)
		}
	}
	if err != nil {
		return fmt.Errorf("record assertion of challenge %s: %w", store.Ref(r.Challenge.ID), err)
	}
	return nil
}

// GetBearer returns a token, its user and, for a machine identity, its
// access token, in one query. kind is what the token's verified claims say
// it is: for a login token, which has no access token, the query reads two
// tables and 20 columns instead of three and 34 (the check every request of
// a person makes). The token's stored kind is returned either way, for the
// caller to compare with the claims.
func (s *Store) GetBearer(ctx context.Context, tokenID, kind string) (store.Bearer, error) {
	var (
		b                              store.Bearer
		tCreated, tExpires, uCreated   int64
		revoked                        sql.NullInt64
		aID, aOrg, aKind, aName, aUser sql.NullString
		aCred, aExt, aFor, aScope      sql.NullString
		aActive, aArchived             sql.NullBool
		aCreated, aExpires, aUsed      sql.NullInt64
	)
	u := &b.User
	dest := []any{&b.Token.ID, &b.Token.Kind, &b.Token.OrgID, &b.Token.UserID, &tCreated, &tExpires, &revoked,
		&u.ID, &u.OrgID, &u.Username, &u.Name, &u.Kind, &u.UserHandle,
		&u.IsActive, &u.IsRegistered, &u.IsServiceAccount, &u.IsArchived, &u.IsSSORequired,
		&u.ExternalID, &uCreated}
	query := loginBearerQuery
	if kind != store.TokenLogin {
		query = machineBearerQuery
		dest = append(dest, &aID, &aOrg, &aKind, &aName, &aUser, &aCred, &aExt,
			&aActive, &aArchived, &aCreated, &aExpires, &aUsed, &aFor, &aScope)
	}
	if err := s.db.QueryRowContext(ctx, query, tokenID).Scan(dest...); err != nil {
		return store.Bearer{}, fmt.Errorf("get bearer %s: %w", tokenID, notFound(err))
	}
	b.Token.CreatedAt, b.Token.ExpiresAt, b.Token.RevokedAt = fromMillis(tCreated), fromMillis(tExpires), fromNullMillis(revoked)
	u.CreatedAt = fromMillis(uCreated)
	if aID.Valid {
		b.Access = &store.AccessToken{
			ID: aID.String, OrgID: aOrg.String, Kind: aKind.String, Name: aName.String, UserID: aUser.String,
			CredentialID: aCred.String, ExternalID: aExt.String, IsActive: aActive.Bool, IsArchived: aArchived.Bool,
			CreatedAt: fromMillis(aCreated.Int64), ExpiresAt: fromMillis(aExpires.Int64),
			LastUsedAt: fromNullMillis(aUsed), LastUsedFor: aFor.String, Scope: aScope.String,
		}
	}
	return b, nil
}

const bearerColumns = `t.id, t.kind, t.org_id, t.user_id, t.created_at, t.expires_at, t.revoked_at,
	u.id, u.org_id, u.username, u.name, u.kind, u.user_handle,
	u.is_active, u.is_registered, u.is_service_account, u.is_archived, u.is_sso_required,
	u.external_id, u.created_at`

const (
	loginBearerQuery = `SELECT ` + bearerColumns + `
		FROM token t JOIN user_account u ON u.id = t.user_id
		WHERE t.id = ?`
	machineBearerQuery = `SELECT ` + bearerColumns + `,
			a.id, a.org_id, a.kind, a.name, a.user_id, a.credential_id, a.external_id,
			a.is_active, a.is_archived, a.created_at, a.expires_at, a.last_used_at, a.last_used_for, a.scope
		FROM token t
		JOIN user_account u ON u.id = t.user_id
		LEFT JOIN access_token a ON a.id = t.id
		WHERE t.id = ?`
)
