package server

import (
	"errors"
	"fmt"
	"net/http"
	"slices"

	"github.com/labstack/echo/v4"

	"countersign/store"
	"countersign/views"
	"countersign/webauthn"
)

// permissionsPage lists the organisation's permissions, who holds them,
// and creates, assigns, revokes and archives them.
func (s *Server) permissionsPage(c echo.Context, caller Caller) error {
	f, err := s.frame(c, caller, "permissions")
	if err != nil {
		return err
	}
	ops, err := s.may(c, caller)
	if err != nil {
		return err
	}
	v := views.PermissionsView{
		Frame: f, CanRead: ops["Permissions:Read"], CanCreate: ops["Permissions:Create"],
		Create: signedForm(http.MethodPost, apiPermissions, empty),
	}
	for _, op := range append(slices.Clone(webauthn.FullAdminOperations), s.gatewayOps...) {
		if ops[op] { // nobody grants what they do not hold
			v.Operations = append(v.Operations, op)
		}
	}
	if !v.CanRead {
		return s.render(c, http.StatusOK, views.PermissionsPage(v))
	}
	ids, err := s.identities(c, caller.User.OrgID)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	perms, err := s.store.ListPermissions(ctx, store.PageQuery{OrgID: caller.User.OrgID, Limit: consoleListLimit})
	if err != nil {
		return fmt.Errorf("list permissions: %w", err)
	}
	for _, p := range perms {
		as, err := s.store.ListPermissionAssignments(ctx, store.PageQuery{OrgID: p.OrgID, Limit: consoleListLimit}, p.ID)
		if err != nil {
			return fmt.Errorf("list assignments of %s: %w", p.ID, err)
		}
		v.Rows = append(v.Rows, s.permissionRow(c, caller, p, as, ids, ops))
	}
	return s.render(c, http.StatusOK, views.PermissionsPage(v))
}

func (s *Server) permissionRow(c echo.Context, caller Caller, p store.Permission, as []store.Assignment, ids orgIdentities, ops map[string]bool) views.PermissionRow {
	r := views.PermissionRow{Name: p.Name, ID: p.ID, Operations: p.Operations, Status: active(true), Immutable: p.IsImmutable}
	base := apiPermissions + "/" + p.ID
	held := map[string]bool{}
	for _, a := range as {
		held[a.IdentityID] = true
		who := ids.label(a.IdentityID)
		row := views.Assignee{Label: who}
		if ops["Permissions:Revoke"] {
			revoke := signedAction("Revoke", "revoke-button", http.MethodDelete, base+"/assignments/"+a.ID, empty)
			revoke.Danger, revoke.Row = true, p.Name+" from "+who
			revoke.DisabledReason = s.revokeRefusal(c, caller, p, a)
			row.Revoke = &revoke
		}
		r.Assignees = append(r.Assignees, row)
	}
	if p.IsArchived {
		r.Status = archived()
	}
	if !p.IsArchived && ops["Permissions:Assign"] {
		r.Assign = signedForm(http.MethodPost, base+"/assignments", empty)
		r.Choices = ids.choices(held)
	}
	if !p.IsImmutable && ops["Permissions:Archive"] {
		if p.IsArchived {
			a := signedAction("Unarchive", "unarchive-button", http.MethodPut, base+"/archive", map[string]bool{"isArchived": false})
			a.Row = p.Name
			r.Actions = append(r.Actions, a)
		} else {
			a := signedAction("Archive", "archive-button", http.MethodPut, base+"/archive", map[string]bool{"isArchived": true})
			a.Danger, a.Row = true, p.Name
			r.Actions = append(r.Actions, a)
		}
	}
	return r
}

// revokeRefusal is why revoking a would be refused, or "".
func (s *Server) revokeRefusal(c echo.Context, caller Caller, p store.Permission, a store.Assignment) string {
	if a.IsImmutable {
		return "Built in: the owner's full administration cannot be revoked."
	}
	ctx := c.Request().Context()
	var apiErr *APIError
	if err := s.requireAuthorityOver(ctx, caller, a.IdentityID, "revoke from"); errors.As(err, &apiErr) {
		return "They hold operations you don't, so only someone holding those can revoke this."
	}
	if p.Name == webauthn.FullAdminPermission {
		if err := s.requireAdminRemains(ctx, caller.User.OrgID, a.IdentityID); errors.As(err, &apiErr) {
			return "The last active administrator: make someone else an administrator first."
		}
	}
	return ""
}

// orgIdentities are who a permission can be assigned to: people, service
// accounts and personal access tokens, with what may stop an assignment.
type orgIdentities struct {
	order []string
	info  map[string]identityInfo
}

type identityInfo struct {
	label string
	// why not, when it cannot be given a permission: inactive, or a token
	// holding all of its user's rights (an assignment would not narrow it).
	unavailable string
}

func (ids orgIdentities) label(id string) string {
	if i, ok := ids.info[id]; ok {
		return i.label
	}
	return id
}

// choices are the assign list of a permission: it starts on a prompt, and
// identities that already hold it or cannot take it are shown but disabled.
func (ids orgIdentities) choices(held map[string]bool) []views.Option {
	out := make([]views.Option, 0, len(ids.order))
	for _, id := range ids.order {
		i := ids.info[id]
		o := views.Option{Value: id, Label: i.label}
		switch {
		case held[id]:
			o.Label, o.Disabled = i.label+" (already holds it)", true
		case i.unavailable != "":
			o.Label, o.Disabled = i.label+" ("+i.unavailable+")", true
		}
		out = append(out, o)
	}
	return out
}

func (s *Server) identities(c echo.Context, orgID string) (orgIdentities, error) {
	ctx := c.Request().Context()
	out := orgIdentities{info: map[string]identityInfo{}}
	users, err := s.store.ListUsers(ctx, store.UserQuery{OrgID: orgID, Limit: consoleListLimit})
	if err != nil {
		return out, fmt.Errorf("list users: %w", err)
	}
	owners := map[string]string{}
	for _, u := range users {
		i := identityInfo{label: u.Username}
		if u.IsServiceAccount {
			i.label = u.Name + " (service account)"
		}
		if !u.IsActive {
			i.unavailable = "inactive"
		}
		owners[u.ID] = u.Username
		out.info[u.ID] = i
		out.order = append(out.order, u.ID)
	}
	pats, err := s.store.ListAccessTokens(ctx, store.AccessTokenQuery{OrgID: orgID, Kind: store.TokenPAT})
	if err != nil {
		return out, fmt.Errorf("list PATs: %w", err)
	}
	for _, t := range pats {
		if t.IsArchived {
			continue
		}
		i := identityInfo{label: fmt.Sprintf("%s (access token of %s)", t.Name, owners[t.UserID])}
		switch {
		case !t.IsActive:
			i.unavailable = "inactive"
		case t.Scope != store.ScopeAssignedOnly:
			i.unavailable = "holds all of its user's rights"
		}
		out.info[t.ID] = i
		out.order = append(out.order, t.ID)
	}
	return out, nil
}
