package sqlstore

import (
	"context"
	"fmt"
	"time"

	"countersign/store"
)

const auditEntryColumns = `id, org_id, user_id, username, action_id, credential_id,
	credential_kind, credential_public_key, method, path, payload, client_data,
	authenticator_data, signature, summary, created_at, upstream, upstream_status`

// insertAuditEntry writes an entry; only inSigned calls it, so every entry
// is written with the change and the action use it records.
func insertAuditEntry(ctx context.Context, db conn, e store.AuditEntry) error {
	_, err := db.ExecContext(ctx,
		`INSERT INTO audit_entry (`+auditEntryColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		e.ID, e.OrgID, e.UserID, e.Username, e.ActionID, e.CredentialID,
		e.CredentialKind, e.CredentialPublicKey, e.Method, e.Path, blob(e.Payload), blob(e.ClientData),
		blob(e.AuthenticatorData), blob(e.Signature), e.Summary, millis(e.CreatedAt), e.Upstream, e.UpstreamStatus)
	return db.mapErr(err)
}

// auditListColumns are what a listing reads: everything but the payload,
// the assertion and the public key, which only GetAuditEntry loads, so a
// listing costs the same whatever the signed bodies held.
const auditListColumns = `id, org_id, user_id, username, action_id, credential_id,
	credential_kind, method, path, summary, created_at, upstream, upstream_status`

func scanAuditListEntry(row scanner) (store.AuditEntry, error) {
	var (
		e       store.AuditEntry
		created int64
	)
	if err := row.Scan(&e.ID, &e.OrgID, &e.UserID, &e.Username, &e.ActionID, &e.CredentialID,
		&e.CredentialKind, &e.Method, &e.Path, &e.Summary, &created, &e.Upstream, &e.UpstreamStatus); err != nil {
		return store.AuditEntry{}, err
	}
	e.CreatedAt = fromMillis(created)
	return e, nil
}

func scanAuditEntry(row scanner) (store.AuditEntry, error) {
	var (
		e       store.AuditEntry
		created int64
	)
	if err := row.Scan(&e.ID, &e.OrgID, &e.UserID, &e.Username, &e.ActionID, &e.CredentialID,
		&e.CredentialKind, &e.CredentialPublicKey, &e.Method, &e.Path, &e.Payload, &e.ClientData,
		&e.AuthenticatorData, &e.Signature, &e.Summary, &created, &e.Upstream, &e.UpstreamStatus); err != nil {
		return store.AuditEntry{}, err
	}
	e.CreatedAt = fromMillis(created)
	return e, nil
}

// ListAuditEntries returns the org's entries created in [q.Start, q.End),
// of q.UserID only when it is set, oldest first (ties in insertion order,
// by Dialect.OrderColumn); an empty, non-nil slice when there are none.
// Entries are read without their large columns (auditListColumns).
//
// q.Limit <= 0 means no limit: the contract says "at most q.Limit", and a
// zero limit read literally would turn a forgotten Limit into an empty
// audit log. A caller that must bound the rows (the CSV export) sets it.
func (s *Store) ListAuditEntries(ctx context.Context, q store.AuditQuery) ([]store.AuditEntry, error) {
	query := `SELECT ` + auditListColumns + ` FROM audit_entry
		WHERE org_id = ? AND created_at >= ? AND created_at < ?`
	args := []any{q.OrgID, ceilMillis(q.Start), ceilMillis(q.End)}
	if q.UserID != "" {
		query += ` AND user_id = ?`
		args = append(args, q.UserID)
	}
	if q.NewestFirst {
		query += ` ORDER BY created_at DESC, ` + s.d.OrderColumn + ` DESC`
	} else {
		query += ` ORDER BY created_at, ` + s.d.OrderColumn
	}
	query += ` LIMIT ?`
	args = append(args, s.limitArg(q.Limit))

	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list audit entries of %s: %w", q.OrgID, err)
	}
	defer rows.Close()
	entries := []store.AuditEntry{}
	for rows.Next() {
		e, err := scanAuditListEntry(rows)
		if err != nil {
			return nil, fmt.Errorf("list audit entries of %s: %w", q.OrgID, err)
		}
		entries = append(entries, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list audit entries of %s: %w", q.OrgID, err)
	}
	return entries, nil
}

// GetAuditEntry returns one entry of an org; an entry of another org is
// store.ErrNotFound, like an unknown id.
func (s *Store) GetAuditEntry(ctx context.Context, orgID, id string) (store.AuditEntry, error) {
	e, err := scanAuditEntry(s.db.QueryRowContext(ctx,
		`SELECT `+auditEntryColumns+` FROM audit_entry WHERE id = ? AND org_id = ?`, id, orgID))
	if err != nil {
		return store.AuditEntry{}, fmt.Errorf("get audit entry %s of org %s: %w", id, orgID, notFound(err))
	}
	return e, nil
}

// ceilMillis is t in unix milliseconds rounded up, for range bounds: stored
// times are whole milliseconds, so "created_at >= ceil(start)" and
// "created_at < ceil(end)" keep exactly the stored instants in [start, end)
// even when a bound carries sub-millisecond digits.
func ceilMillis(t time.Time) int64 {
	ms := t.UnixMilli()
	if !fromMillis(ms).Equal(t) {
		ms++
	}
	return ms
}

// RecordSignedRequest uses the action and writes the audit entry in one
// transaction (inSigned with no change of the store's own).
func (s *Store) RecordSignedRequest(ctx context.Context, sg store.Signed) error {
	if err := s.inSigned(ctx, sg, func(conn) error { return nil }); err != nil {
		return fmt.Errorf("record signed request %s: %w", store.Ref(sg.ActionID), err)
	}
	return nil
}

// SetAuditUpstreamStatus sets the upstream status of an entry of orgID
// that names an upstream; store.ErrNotFound otherwise.
func (s *Store) SetAuditUpstreamStatus(ctx context.Context, orgID, auditID, status string) error {
	err := s.write(ctx, func(db conn) error {
		res, err := db.ExecContext(ctx,
			`UPDATE audit_entry SET upstream_status = ? WHERE id = ? AND org_id = ? AND upstream <> ''`,
			status, auditID, orgID)
		if err != nil {
			return err
		}
		return mustAffect(res)
	})
	if err != nil {
		return fmt.Errorf("set upstream status of %s: %w", auditID, err)
	}
	return nil
}
