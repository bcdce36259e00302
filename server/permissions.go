package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"countersign/store"
	"countersign/webauthn"
)

// permissionView is spec §3 Permission.
type permissionView struct {
	ID          string   `json:"id"`
	Name        string   `json:"name"`
	Operations  []string `json:"operations"`
	Status      string   `json:"status"`
	IsImmutable bool     `json:"isImmutable"`
	IsArchived  bool     `json:"isArchived"`
	DateCreated string   `json:"dateCreated"`
	DateUpdated string   `json:"dateUpdated"`
}

func newPermissionView(p store.Permission) permissionView {
	ops := p.Operations
	if ops == nil {
		ops = []string{}
	}
	return permissionView{
		ID: p.ID, Name: p.Name, Operations: ops, Status: "Active", IsImmutable: p.IsImmutable, IsArchived: p.IsArchived,
		DateCreated: isoTime(p.CreatedAt), DateUpdated: isoTime(p.UpdatedAt),
	}
}

// assignmentView is spec §3 Assignment.
type assignmentView struct {
	ID           string `json:"id"`
	PermissionID string `json:"permissionId"`
	IdentityID   string `json:"identityId"`
	IsImmutable  bool   `json:"isImmutable"`
	DateCreated  string `json:"dateCreated"`
	DateUpdated  string `json:"dateUpdated"`
}

func newAssignmentView(a store.Assignment) assignmentView {
	return assignmentView{
		ID: a.ID, PermissionID: a.PermissionID, IdentityID: a.IdentityID, IsImmutable: a.IsImmutable,
		DateCreated: isoTime(a.CreatedAt), DateUpdated: isoTime(a.UpdatedAt),
	}
}

// validOperations: 1 or more operations, no repeats (which are known is
// the handler's check, requireKnownOperations).
func validOperations(ops []string) error {
	if len(ops) == 0 {
		return errors.New("operations must list at least one operation")
	}
	seen := map[string]bool{}
	for _, op := range ops {
		if seen[op] {
			return fmt.Errorf("operation %q is listed twice", op)
		}
		seen[op] = true
	}
	return nil
}

type createPermissionRequest struct {
	Name       string   `json:"name"`
	Operations []string `json:"operations"`
}

func (r *createPermissionRequest) validate() error {
	if err := checkName("name", r.Name); err != nil {
		return err
	}
	return validOperations(r.Operations)
}

// createPermission creates a named set of operations, all of which the
// caller must hold: nobody defines a permission stronger than themselves.
func (s *Server) createPermission(c echo.Context) error {
	var req createPermissionRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	ctx := c.Request().Context()
	caller := callerFrom(c)
	if err := s.requireKnownOperations(req.Operations); err != nil {
		return err
	}
	if err := s.requireHolds(ctx, caller, req.Operations); err != nil {
		return err
	}
	now := s.opts.Now().UTC()
	p := store.Permission{
		ID: store.NewID("pm"), OrgID: caller.User.OrgID, Name: strings.TrimSpace(req.Name), Operations: req.Operations,
		CreatedAt: now, UpdatedAt: now,
	}
	if err := s.store.CreatePermissionSigned(ctx, s.signedChange(c), p); err != nil {
		return fmt.Errorf("create permission %q: %w", p.Name, err)
	}
	return c.JSON(http.StatusOK, newPermissionView(p))
}

type permissionList struct {
	Items         []permissionView `json:"items"`
	NextPageToken string           `json:"nextPageToken,omitempty"`
}

func (s *Server) listPermissions(c echo.Context) error {
	p, err := pageOf(c)
	if err != nil {
		return err
	}
	perms, err := s.store.ListPermissions(c.Request().Context(), store.PageQuery{OrgID: callerFrom(c).User.OrgID, After: p.After, Limit: p.Limit + 1})
	if errors.Is(err, store.ErrNotFound) {
		return badRequest("paginationToken is not valid", err)
	}
	if err != nil {
		return fmt.Errorf("list permissions: %w", err)
	}
	out := permissionList{Items: make([]permissionView, 0, len(perms))}
	if len(perms) > p.Limit {
		perms = perms[:p.Limit]
		out.NextPageToken = perms[len(perms)-1].ID
	}
	for _, pm := range perms {
		out.Items = append(out.Items, newPermissionView(pm))
	}
	return c.JSON(http.StatusOK, out)
}

func (s *Server) orgPermission(c echo.Context) (store.Permission, error) {
	p, err := s.store.GetPermission(c.Request().Context(), callerFrom(c).User.OrgID, c.Param("permissionId"))
	if err != nil {
		return store.Permission{}, fmt.Errorf("load permission %s: %w", c.Param("permissionId"), err)
	}
	return p, nil
}

func (s *Server) getPermission(c echo.Context) error {
	p, err := s.orgPermission(c)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, newPermissionView(p))
}

type updatePermissionRequest struct {
	Name       *string   `json:"name"`
	Operations *[]string `json:"operations"`
}

func (r *updatePermissionRequest) validate() error {
	if err := checkOptionalName("name", r.Name); err != nil {
		return err
	}
	if r.Operations != nil {
		return validOperations(*r.Operations)
	}
	return nil
}

// updatePermission renames or changes a permission. New operations reach
// everyone it is assigned to, so the caller must hold them.
func (s *Server) updatePermission(c echo.Context) error {
	var req updatePermissionRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	if req.Operations != nil {
		ctx, caller := c.Request().Context(), callerFrom(c)
		if err := s.requireKnownOperations(*req.Operations); err != nil {
			return err
		}
		if err := s.requireHolds(ctx, caller, *req.Operations); err != nil {
			return err
		}
		perm, err := s.orgPermission(c)
		if err != nil {
			return err
		}
		// Operations it loses are taken from everyone holding it.
		if err := s.requireAuthorityToShrink(ctx, caller, perm, *req.Operations); err != nil {
			return err
		}
	}
	return s.patchPermission(c, store.PermissionPatch{Name: trimmed(req.Name), Operations: req.Operations})
}

type archivePermissionRequest struct {
	IsArchived *bool `json:"isArchived"`
}

func (r *archivePermissionRequest) validate() error {
	if r.IsArchived == nil {
		return errors.New("isArchived is required")
	}
	return nil
}

// archivePermission archives a permission, which takes its operations from
// everyone holding it (the caller needs authority over them), or
// unarchives it, which grants them again (the caller must hold them).
func (s *Server) archivePermission(c echo.Context) error {
	var req archivePermissionRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	perm, err := s.orgPermission(c)
	if err != nil {
		return err
	}
	ctx, caller := c.Request().Context(), callerFrom(c)
	if *req.IsArchived && !perm.IsArchived {
		err = s.requireAuthorityToShrink(ctx, caller, perm, nil)
	} else if !*req.IsArchived && perm.IsArchived {
		err = s.requireHolds(ctx, caller, perm.Operations)
	}
	if err != nil {
		return err
	}
	return s.patchPermission(c, store.PermissionPatch{IsArchived: req.IsArchived})
}

func (s *Server) patchPermission(c echo.Context, p store.PermissionPatch) error {
	perm, err := s.orgPermission(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	if err := s.store.UpdatePermissionSigned(ctx, s.signedChange(c), perm.OrgID, perm.ID, p); err != nil {
		return fmt.Errorf("update permission %s: %w", perm.ID, err)
	}
	if perm, err = s.store.GetPermission(ctx, perm.OrgID, perm.ID); err != nil {
		return fmt.Errorf("reload permission: %w", err)
	}
	return c.JSON(http.StatusOK, newPermissionView(perm))
}

type createAssignmentRequest struct {
	IdentityID string `json:"identityId"`
}

func (r *createAssignmentRequest) validate() error { return requireFields("identityId", r.IdentityID) }

// createAssignment grants a permission to a user, service account or PAT of
// the organisation. The caller must hold every operation it grants.
func (s *Server) createAssignment(c echo.Context) error {
	var req createAssignmentRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	perm, err := s.orgPermission(c)
	if err != nil {
		return err
	}
	if perm.IsArchived {
		return badRequest("permission "+perm.ID+" is archived", nil)
	}
	ctx := c.Request().Context()
	caller := callerFrom(c)
	if err := s.requireIdentity(c, req.IdentityID); err != nil {
		return err
	}
	if err := s.requireHolds(ctx, caller, perm.Operations); err != nil {
		return err
	}
	if err := s.requireScoped(ctx, req.IdentityID); err != nil {
		return err
	}
	now := s.opts.Now().UTC()
	a := store.Assignment{ID: store.NewID("as"), OrgID: perm.OrgID, PermissionID: perm.ID, IdentityID: req.IdentityID, CreatedAt: now, UpdatedAt: now}
	if err := s.store.CreateAssignmentSigned(ctx, s.signedChange(c), a); err != nil {
		return fmt.Errorf("assign %s to %s: %w", perm.ID, req.IdentityID, err)
	}
	return c.JSON(http.StatusOK, newAssignmentView(a))
}

// requireIdentity checks identityID names a user, service account or PAT
// of the caller's organisation (404 otherwise, also across organisations).
func (s *Server) requireIdentity(c echo.Context, identityID string) error {
	ctx := c.Request().Context()
	if strings.HasPrefix(identityID, "to-") {
		t, err := s.store.GetAccessToken(ctx, identityID)
		if err != nil {
			return fmt.Errorf("load token %s: %w", identityID, err)
		}
		if t.OrgID != callerFrom(c).User.OrgID || t.Kind != store.TokenPAT {
			return fmt.Errorf("token %s is not a PAT of this org: %w", identityID, store.ErrNotFound)
		}
		return nil
	}
	_, err := s.orgUser(c, identityID)
	return err
}

type assignmentList struct {
	Items         []assignmentView `json:"items"`
	NextPageToken string           `json:"nextPageToken,omitempty"`
}

func (s *Server) listAssignments(c echo.Context) error {
	perm, err := s.orgPermission(c)
	if err != nil {
		return err
	}
	p, err := pageOf(c)
	if err != nil {
		return err
	}
	as, err := s.store.ListPermissionAssignments(c.Request().Context(), store.PageQuery{OrgID: perm.OrgID, After: p.After, Limit: p.Limit + 1}, perm.ID)
	if errors.Is(err, store.ErrNotFound) {
		return badRequest("paginationToken is not valid", err)
	}
	if err != nil {
		return fmt.Errorf("list assignments of %s: %w", perm.ID, err)
	}
	out := assignmentList{Items: make([]assignmentView, 0, len(as))}
	if len(as) > p.Limit {
		as = as[:p.Limit]
		out.NextPageToken = as[len(as)-1].ID
	}
	for _, a := range as {
		out.Items = append(out.Items, newAssignmentView(a))
	}
	return c.JSON(http.StatusOK, out)
}

// requireScoped refuses to assign a permission to a PAT created without
// one: it holds all of its user's operations, fixed at creation (spec
// §6), so an assignment would not narrow it.
func (s *Server) requireScoped(ctx context.Context, identityID string) error {
	if !strings.HasPrefix(identityID, "to-") {
		return nil
	}
	t, err := s.store.GetAccessToken(ctx, identityID)
	if err != nil {
		return fmt.Errorf("load token %s: %w", identityID, err)
	}
	if t.Scope != store.ScopeAssignedOnly {
		return &APIError{
			Status: http.StatusBadRequest, Code: "pat_not_scoped",
			Message: fmt.Sprintf("token %s was created without a permission and holds all of its user's operations; "+
				"an assignment would not narrow it: create a token with permissionId instead", identityID),
		}
	}
	return nil
}

// deleteAssignment revokes an assignment: 204 with no body (spec §1.5).
// The caller needs authority over the identity losing it, and the last
// active administrator keeps full administration.
func (s *Server) deleteAssignment(c echo.Context) error {
	perm, err := s.orgPermission(c)
	if err != nil {
		return err
	}
	ctx, caller := c.Request().Context(), callerFrom(c)
	a, err := s.store.GetAssignment(ctx, perm.OrgID, c.Param("assignmentId"))
	if err != nil {
		return fmt.Errorf("load assignment %s: %w", c.Param("assignmentId"), err)
	}
	if a.PermissionID != perm.ID {
		return fmt.Errorf("assignment %s is of permission %s: %w", a.ID, a.PermissionID, store.ErrNotFound)
	}
	if err := s.requireAuthorityOver(ctx, caller, a.IdentityID, "revoke "+perm.Name+" from"); err != nil {
		return err
	}
	if perm.Name == webauthn.FullAdminPermission && strings.HasPrefix(a.IdentityID, "us-") {
		if err := s.requireAdminRemains(ctx, perm.OrgID, a.IdentityID); err != nil {
			return err
		}
	}
	if err := s.store.DeleteAssignmentSigned(c.Request().Context(), s.signedChange(c), perm.OrgID, perm.ID, c.Param("assignmentId")); err != nil {
		return fmt.Errorf("revoke assignment %s: %w", c.Param("assignmentId"), err)
	}
	return c.NoContent(http.StatusNoContent)
}
