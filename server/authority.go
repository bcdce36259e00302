package server

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"countersign/store"
	"countersign/webauthn"
)

// Authority over others (spec §6, issue 8): an identity that changes
// another (deactivates, archives, updates, revokes from, shrinks) must hold
// at least that identity's operations, so nobody can take power from, or
// lock out, someone stronger than themselves. And the organisation always
// keeps one active person holding full administration.

// identityOperationsOf returns the operations of a user, service account
// (us-…) or PAT (to-…) of orgID.
func (s *Server) identityOperationsOf(ctx context.Context, orgID, identityID string) (map[string]bool, error) {
	if strings.HasPrefix(identityID, "to-") {
		t, err := s.store.GetAccessToken(ctx, identityID)
		if err != nil {
			return nil, fmt.Errorf("load token %s: %w", identityID, err)
		}
		if t.OrgID != orgID {
			return nil, fmt.Errorf("token %s is of another org: %w", identityID, store.ErrNotFound)
		}
		if t.Kind != store.TokenPAT {
			return s.identityOperations(ctx, t.UserID, nil)
		}
		return s.identityOperations(ctx, t.UserID, &t)
	}
	return s.identityOperations(ctx, identityID, nil)
}

// requireAuthorityOver refuses unless the caller holds every operation the
// identity holds.
func (s *Server) requireAuthorityOver(ctx context.Context, caller Caller, identityID, verb string) error {
	mine, err := s.operations(ctx, caller)
	if err != nil {
		return err
	}
	theirs, err := s.identityOperationsOf(ctx, caller.User.OrgID, identityID)
	if err != nil {
		return err
	}
	var missing []string
	for op := range theirs {
		if !mine[op] {
			missing = append(missing, op)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	slices.Sort(missing)
	shown := missing
	if len(shown) > 3 {
		shown = append(shown[:3:3], fmt.Sprintf("and %d more", len(missing)-3))
	}
	return &APIError{
		Status: http.StatusForbidden, Code: "insufficient_authority",
		Message: fmt.Sprintf("cannot %s %s: it holds operations the caller does not (%s)", verb, identityID, strings.Join(shown, ", ")),
	}
}

// requireAuthorityToShrink refuses a change of perm's operations to newOps
// (nil: the permission is archived) unless the caller has authority over
// every holder that would lose an operation by it.
func (s *Server) requireAuthorityToShrink(ctx context.Context, caller Caller, perm store.Permission, newOps []string) error {
	holders, err := s.store.ListPermissionHolders(ctx, perm.OrgID, perm.ID)
	if err != nil {
		return fmt.Errorf("list holders of %s: %w", perm.ID, err)
	}
	for _, id := range holders {
		infos, err := s.store.ListAssignments(ctx, id)
		if err != nil {
			return fmt.Errorf("list assignments of %s: %w", id, err)
		}
		before, after := map[string]bool{}, map[string]bool{}
		for _, a := range infos {
			ops := a.Operations
			for _, op := range ops {
				before[op] = true
			}
			if a.PermissionID == perm.ID {
				ops = newOps
			}
			for _, op := range ops {
				after[op] = true
			}
		}
		for op := range before {
			if !after[op] {
				if err := s.requireAuthorityOver(ctx, caller, id, "take "+op+" from"); err != nil {
					return err
				}
				break
			}
		}
	}
	return nil
}

// requireAdminRemains refuses to deactivate, archive or revoke full
// administration from user userID when no other active, registered person
// of the organisation holds it: the organisation would have nobody left to
// administer it.
func (s *Server) requireAdminRemains(ctx context.Context, orgID, userID string) error {
	infos, err := s.store.ListAssignments(ctx, userID)
	if err != nil {
		return fmt.Errorf("list assignments of %s: %w", userID, err)
	}
	idx := slices.IndexFunc(infos, func(a store.AssignmentInfo) bool { return a.PermissionName == webauthn.FullAdminPermission })
	if idx < 0 {
		return nil
	}
	holders, err := s.store.ListPermissionHolders(ctx, orgID, infos[idx].PermissionID)
	if err != nil {
		return fmt.Errorf("list holders of %s: %w", infos[idx].PermissionID, err)
	}
	for _, id := range holders {
		if id == userID || !strings.HasPrefix(id, "us-") {
			continue
		}
		u, err := s.store.GetUser(ctx, id)
		if err != nil {
			return fmt.Errorf("load admin %s: %w", id, err)
		}
		if u.IsActive && !u.IsArchived && u.IsRegistered && !u.IsServiceAccount {
			return nil
		}
	}
	return &APIError{
		Status: http.StatusBadRequest, Code: "last_admin",
		Message: fmt.Sprintf("%s is the last active person holding %s: make someone else an administrator first", userID, webauthn.FullAdminPermission),
	}
}
