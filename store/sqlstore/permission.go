package sqlstore

import (
	"context"
	"fmt"

	"countersign/store"
)

func insertPermission(ctx context.Context, db conn, p store.Permission) error {
	ops, err := encodeList(p.Operations)
	if err != nil {
		return err
	}
	_, err = db.ExecContext(ctx,
		`INSERT INTO permission (id, org_id, name, operations, is_immutable, is_archived, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		p.ID, p.OrgID, p.Name, ops, p.IsImmutable, p.IsArchived, millis(p.CreatedAt), millis(p.UpdatedAt))
	return db.mapErr(err)
}

func insertAssignment(ctx context.Context, db conn, a store.Assignment) error {
	_, err := db.ExecContext(ctx,
		`INSERT INTO assignment (id, org_id, permission_id, identity_id, is_immutable, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`,
		a.ID, a.OrgID, a.PermissionID, a.IdentityID, a.IsImmutable, millis(a.CreatedAt), millis(a.UpdatedAt))
	return db.mapErr(err)
}

// ListAssignments returns the permissions assigned to an identity, oldest
// assignment first, skipping archived permissions; an empty, non-nil slice
// when there are none.
func (s *Store) ListAssignments(ctx context.Context, identityID string) ([]store.AssignmentInfo, error) {
	rows, err := s.db.QueryContext(ctx,
		`SELECT a.id, p.id, p.name, p.operations
		FROM assignment a JOIN permission p ON p.id = a.permission_id
		WHERE a.identity_id = ? AND p.is_archived = FALSE
		ORDER BY a.created_at, a.id`+s.d.ByteOrder, identityID)
	if err != nil {
		return nil, fmt.Errorf("list assignments of %s: %w", identityID, err)
	}
	defer rows.Close()
	infos := []store.AssignmentInfo{}
	for rows.Next() {
		var (
			info store.AssignmentInfo
			ops  string
		)
		if err := rows.Scan(&info.AssignmentID, &info.PermissionID, &info.PermissionName, &ops); err != nil {
			return nil, fmt.Errorf("list assignments of %s: %w", identityID, err)
		}
		if info.Operations, err = decodeList(ops); err != nil {
			return nil, fmt.Errorf("list assignments of %s: %w", identityID, err)
		}
		infos = append(infos, info)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list assignments of %s: %w", identityID, err)
	}
	return infos, nil
}

const permissionColumns = `id, org_id, name, operations, is_immutable, is_archived, created_at, updated_at`

func scanPermission(row scanner) (store.Permission, error) {
	var (
		p                store.Permission
		ops              string
		created, updated int64
	)
	if err := row.Scan(&p.ID, &p.OrgID, &p.Name, &ops, &p.IsImmutable, &p.IsArchived, &created, &updated); err != nil {
		return store.Permission{}, err
	}
	list, err := decodeList(ops)
	if err != nil {
		return store.Permission{}, err
	}
	p.Operations = list
	p.CreatedAt = fromMillis(created)
	p.UpdatedAt = fromMillis(updated)
	return p, nil
}

const assignmentColumns = `id, org_id, permission_id, identity_id, is_immutable, created_at, updated_at`

func scanAssignment(row scanner) (store.Assignment, error) {
	var (
		a                store.Assignment
		created, updated int64
	)
	if err := row.Scan(&a.ID, &a.OrgID, &a.PermissionID, &a.IdentityID, &a.IsImmutable, &created, &updated); err != nil {
		return store.Assignment{}, err
	}
	a.CreatedAt = fromMillis(created)
	a.UpdatedAt = fromMillis(updated)
	return a, nil
}

// CreatePermissionSigned inserts a permission in one transaction with the
// use of the authorising user action and the audit entry (see inSigned);
// store.ErrConflict when the org has a permission of that name, archived
// or not (the unique index on org_id and name, names compared exactly).
func (s *Store) CreatePermissionSigned(ctx context.Context, sg store.Signed, p store.Permission) error {
	err := s.inSigned(ctx, sg, func(tx conn) error {
		if err := insertPermission(ctx, tx, p); err != nil {
			return fmt.Errorf("insert permission: %w", err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("create permission %s signed: %w", p.ID, err)
	}
	return nil
}

// GetPermission returns a permission of orgID, archived or not; one of
// another org is store.ErrNotFound, like an unknown id.
func (s *Store) GetPermission(ctx context.Context, orgID, id string) (store.Permission, error) {
	p, err := scanPermission(s.db.QueryRowContext(ctx,
		`SELECT `+permissionColumns+` FROM permission WHERE id = ? AND org_id = ?`, id, orgID))
	if err != nil {
		return store.Permission{}, fmt.Errorf("get permission %s of org %s: %w", id, orgID, notFound(err))
	}
	return p, nil
}

// ListPermissions returns a page of an org's permissions, archived ones
// included, oldest first (see page.go): at most q.Limit (none when
// q.Limit <= 0) after the permission q.After, which must be one of the
// org's (store.ErrNotFound otherwise). An empty page is an empty,
// non-nil slice.
func (s *Store) ListPermissions(ctx context.Context, q store.PageQuery) ([]store.Permission, error) {
	k, err := s.cursorOf(ctx, "permission", "org_id", q.OrgID, q.After)
	if err != nil {
		return nil, fmt.Errorf("list permissions of %s: %w", q.OrgID, err)
	}
	after, args := k.where()
	args = append([]any{q.OrgID}, args...)
	args = append(args, s.limitArg(q.Limit))
	rows, err := s.db.QueryContext(ctx,
		`SELECT `+permissionColumns+` FROM permission WHERE org_id = ? AND `+after+`
		ORDER BY created_at, `+s.d.OrderColumn+` LIMIT ?`, args...)
	if err != nil {
		return nil, fmt.Errorf("list permissions of %s: %w", q.OrgID, err)
	}
	defer rows.Close()
	perms := []store.Permission{}
	for rows.Next() {
		p, err := scanPermission(rows)
		if err != nil {
			return nil, fmt.Errorf("list permissions of %s: %w", q.OrgID, err)
		}
		perms = append(perms, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list permissions of %s: %w", q.OrgID, err)
	}
	return perms, nil
}

// UpdatePermissionSigned applies the set fields of p to a permission of
// orgID, and sets its UpdatedAt to sg.Now, in one transaction with the use
// of the authorising user action and the audit entry (see inSigned).
// store.ErrNotFound when the permission is not orgID's; store.ErrImmutable
// for an immutable one, whatever p sets (an empty patch included);
// store.ErrConflict when the new name is taken in the org.
func (s *Store) UpdatePermissionSigned(ctx context.Context, sg store.Signed, orgID, id string, p store.PermissionPatch) error {
	var ops *string
	if p.Operations != nil {
		encoded, err := encodeList(*p.Operations)
		if err != nil {
			return fmt.Errorf("update permission %s of org %s signed: %w", id, orgID, err)
		}
		ops = &encoded
	}
	err := s.inSigned(ctx, sg, func(tx conn) error {
		// Checked inside the transaction, so the flag cannot change before
		// the UPDATE: in SQLite BEGIN IMMEDIATE holds the write lock; in
		// PostgreSQL the row is read locked (FOR NO KEY UPDATE, as the
		// UPDATE below would lock it).
		var immutable bool
		err := tx.QueryRowContext(ctx,
			`SELECT is_immutable FROM permission WHERE id = ? AND org_id = ?`+s.d.forNoKeyUpdate(),
			id, orgID).Scan(&immutable)
		if err != nil {
			return fmt.Errorf("read permission: %w", notFound(err))
		}
		if immutable {
			return store.ErrImmutable
		}
		// A nil pointer is NULL: COALESCE keeps the stored value.
		if _, err := tx.ExecContext(ctx,
			`UPDATE permission SET
				name = COALESCE(?, name),
				operations = COALESCE(?, operations),
				is_archived = COALESCE(?, is_archived),
				updated_at = ?
			WHERE id = ?`,
			p.Name, ops, p.IsArchived, millis(sg.Now), id); err != nil {
			return fmt.Errorf("update permission: %w", tx.mapErr(err))
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("update permission %s of org %s signed: %w", id, orgID, err)
	}
	return nil
}

// CreateAssignmentSigned inserts an assignment in one transaction with the
// use of the authorising user action and the audit entry (see inSigned).
// The permission must be one of a.OrgID and the identity a user or an
// access token of a.OrgID, else store.ErrNotFound: identity_id has no
// foreign key (it is either), so the store checks what it can. Whether the
// identity may hold the permission (archived permission, archived user, a
// token's bound by its user) is the caller's rule. store.ErrConflict when
// the identity already holds the permission.
func (s *Store) CreateAssignmentSigned(ctx context.Context, sg store.Signed, a store.Assignment) error {
	err := s.inSigned(ctx, sg, func(tx conn) error {
		var permission, identity bool
		err := tx.QueryRowContext(ctx,
			`SELECT
				EXISTS (SELECT 1 FROM permission WHERE id = ? AND org_id = ?),
				EXISTS (SELECT 1 FROM user_account WHERE id = ? AND org_id = ?)
					OR EXISTS (SELECT 1 FROM access_token WHERE id = ? AND org_id = ?)`,
			a.PermissionID, a.OrgID, a.IdentityID, a.OrgID, a.IdentityID, a.OrgID).Scan(&permission, &identity)
		switch {
		case err != nil:
			return fmt.Errorf("check assignment: %w", err)
		case !permission:
			return fmt.Errorf("permission %s of org %s: %w", a.PermissionID, a.OrgID, store.ErrNotFound)
		case !identity:
			return fmt.Errorf("identity %s of org %s: %w", a.IdentityID, a.OrgID, store.ErrNotFound)
		}
		if err := insertAssignment(ctx, tx, a); err != nil {
			return fmt.Errorf("insert assignment: %w", err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("create assignment %s signed: %w", a.ID, err)
	}
	return nil
}

// GetAssignment returns an assignment of orgID; another org's is
// store.ErrNotFound, like an unknown id.
func (s *Store) GetAssignment(ctx context.Context, orgID, id string) (store.Assignment, error) {
	a, err := scanAssignment(s.db.QueryRowContext(ctx,
		`SELECT `+assignmentColumns+` FROM assignment WHERE id = ? AND org_id = ?`, id, orgID))
	if err != nil {
		return store.Assignment{}, fmt.Errorf("get assignment %s: %w", id, notFound(err))
	}
	return a, nil
}

// ListPermissionHolders returns the identity ids a permission of orgID is
// assigned to, oldest assignment first; empty (non-nil) when none is.
func (s *Store) ListPermissionHolders(ctx context.Context, orgID, permissionID string) ([]string, error) {
	rows, err := s.db.QueryContext(ctx,
		`SELECT identity_id FROM assignment WHERE org_id = ? AND permission_id = ?
		ORDER BY created_at, `+s.d.OrderColumn, orgID, permissionID)
	if err != nil {
		return nil, fmt.Errorf("list holders of %s: %w", permissionID, err)
	}
	defer rows.Close()
	ids := []string{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("list holders of %s: %w", permissionID, err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list holders of %s: %w", permissionID, err)
	}
	return ids, nil
}

// ListPermissionAssignments returns a page of a permission's assignments,
// oldest first (see page.go): at most q.Limit (none when q.Limit <= 0)
// after the assignment q.After, which must be one of the permission's.
// The permission must be one of q.OrgID: another org's or an unknown
// permission is store.ErrNotFound, not an empty page, as GetPermission
// says, so that the API answers 404 for it either way. The permission's
// own archival does not hide its assignments here. An empty page is an
// empty, non-nil slice.
func (s *Store) ListPermissionAssignments(ctx context.Context, q store.PageQuery, permissionID string) ([]store.Assignment, error) {
	var one int
	err := s.db.QueryRowContext(ctx,
		`SELECT 1 FROM permission WHERE id = ? AND org_id = ?`, permissionID, q.OrgID).Scan(&one)
	if err != nil {
		return nil, fmt.Errorf("list assignments of permission %s of org %s: %w", permissionID, q.OrgID, notFound(err))
	}
	k, err := s.cursorOf(ctx, "assignment", "permission_id", permissionID, q.After)
	if err != nil {
		return nil, fmt.Errorf("list assignments of permission %s: %w", permissionID, err)
	}
	after, args := k.where()
	args = append([]any{permissionID}, args...)
	args = append(args, s.limitArg(q.Limit))
	rows, err := s.db.QueryContext(ctx,
		`SELECT `+assignmentColumns+` FROM assignment WHERE permission_id = ? AND `+after+`
		ORDER BY created_at, `+s.d.OrderColumn+` LIMIT ?`, args...)
	if err != nil {
		return nil, fmt.Errorf("list assignments of permission %s: %w", permissionID, err)
	}
	defer rows.Close()
	assignments := []store.Assignment{}
	for rows.Next() {
		a, err := scanAssignment(rows)
		if err != nil {
			return nil, fmt.Errorf("list assignments of permission %s: %w", permissionID, err)
		}
		assignments = append(assignments, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list assignments of permission %s: %w", permissionID, err)
	}
	return assignments, nil
}

// DeleteAssignmentSigned deletes an assignment of permissionID in orgID in
// one transaction with the use of the authorising user action and the
// audit entry (see inSigned); store.ErrNotFound when there is no such
// assignment (unknown, of another permission or org), store.ErrImmutable
// for an immutable one.
func (s *Store) DeleteAssignmentSigned(ctx context.Context, sg store.Signed, orgID, permissionID, assignmentID string) error {
	err := s.inSigned(ctx, sg, func(tx conn) error {
		// Read with the row locked in PostgreSQL (FOR UPDATE, as the
		// DELETE below would lock it), so the flag cannot change before
		// the DELETE; in SQLite BEGIN IMMEDIATE holds the write lock.
		var immutable bool
		err := tx.QueryRowContext(ctx,
			`SELECT is_immutable FROM assignment WHERE id = ? AND permission_id = ? AND org_id = ?`+s.d.forUpdate(),
			assignmentID, permissionID, orgID).Scan(&immutable)
		if err != nil {
			return fmt.Errorf("read assignment: %w", notFound(err))
		}
		if immutable {
			return store.ErrImmutable
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM assignment WHERE id = ?`, assignmentID); err != nil {
			return fmt.Errorf("delete assignment: %w", err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("delete assignment %s of permission %s signed: %w", assignmentID, permissionID, err)
	}
	return nil
}
