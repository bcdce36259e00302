package sqlite

import (
	"context"
	"fmt"

	"countersign/store"
)

func insertPermission(ctx context.Context, db execer, p store.Permission) error {
	ops, err := encodeList(p.Operations)
	if err != nil {
		return err
	}
	_, err = db.ExecContext(ctx,
		`INSERT INTO permission (id, org_id, name, operations, is_immutable, is_archived, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		p.ID, p.OrgID, p.Name, ops, p.IsImmutable, p.IsArchived, millis(p.CreatedAt), millis(p.UpdatedAt))
	return mapErr(err)
}

func insertAssignment(ctx context.Context, db execer, a store.Assignment) error {
	_, err := db.ExecContext(ctx,
		`INSERT INTO assignment (id, org_id, permission_id, identity_id, is_immutable, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`,
		a.ID, a.OrgID, a.PermissionID, a.IdentityID, a.IsImmutable, millis(a.CreatedAt), millis(a.UpdatedAt))
	return mapErr(err)
}

// ListAssignments returns the permissions assigned to an identity, oldest
// assignment first, skipping archived permissions; an empty, non-nil slice
// when there are none.
func (s *Store) ListAssignments(ctx context.Context, identityID string) ([]store.AssignmentInfo, error) {
	rows, err := s.db.QueryContext(ctx,
		`SELECT a.id, p.id, p.name, p.operations
		FROM assignment a JOIN permission p ON p.id = a.permission_id
		WHERE a.identity_id = ? AND p.is_archived = 0
		ORDER BY a.created_at, a.id`, identityID)
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
