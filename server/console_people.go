package server

import (
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"

	"countersign/store"
	"countersign/views"
	"countersign/webauthn"
)

// usersPage lists the organisation's people and invites new ones.
func (s *Server) usersPage(c echo.Context, caller Caller) error {
	f, err := s.frame(c, caller, "users")
	if err != nil {
		return err
	}
	ops, err := s.may(c, caller)
	if err != nil {
		return err
	}
	v := views.UsersView{
		Frame: f, CanRead: ops["Auth:Users:Read"], CanInvite: ops["Auth:Users:Create"],
		Invite: signedForm(http.MethodPost, apiUsers, map[string]string{"kind": store.KindCustomerEmployee}),
	}
	if v.CanRead {
		users, err := s.store.ListUsers(c.Request().Context(), store.UserQuery{OrgID: caller.User.OrgID, ServiceAccounts: ptr(false), Limit: consoleListLimit})
		if err != nil {
			return fmt.Errorf("list users: %w", err)
		}
		for _, u := range users {
			r, err := s.userRow(c, caller, ops, u)
			if err != nil {
				return err
			}
			v.Users = append(v.Users, r)
		}
	}
	return s.render(c, http.StatusOK, views.UsersPage(v))
}

func (s *Server) userRow(c echo.Context, caller Caller, ops map[string]bool, u store.User) (views.UserRow, error) {
	perms, err := s.permissionNames(c, u.ID)
	if err != nil {
		return views.UserRow{}, err
	}
	r := views.UserRow{Username: u.Username, UserID: u.ID, Kind: u.Kind, Permissions: perms, Status: active(u.IsActive), IsYou: u.ID == caller.User.ID}
	if u.IsActive && !u.IsRegistered {
		r.Status = views.Status{Label: "Invited", Kind: "pending"}
	}
	base := apiUsers + "/" + u.ID
	switch {
	case r.IsYou: // nobody locks themselves out
	case u.IsActive && ops["Auth:Users:Deactivate"]:
		a := signedAction("Deactivate", "deactivate-button", http.MethodPut, base+"/deactivate", empty)
		a.Danger = true
		r.Actions = append(r.Actions, a)
	case !u.IsActive && ops["Auth:Users:Activate"]:
		r.Actions = append(r.Actions, signedAction("Activate", "activate-button", http.MethodPut, base+"/activate", empty))
	}
	return r, nil
}

// permissionsPage lists the organisation's permissions, who holds them,
// and creates, assigns and archives them.
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
	for _, op := range webauthn.FullAdminOperations {
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
	if ops["Permissions:Assign"] {
		v.Identities = ids.options
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
		v.Rows = append(v.Rows, permissionRow(p, as, ids.labels, ops))
	}
	return s.render(c, http.StatusOK, views.PermissionsPage(v))
}

func permissionRow(p store.Permission, as []store.Assignment, labels map[string]string, ops map[string]bool) views.PermissionRow {
	r := views.PermissionRow{Name: p.Name, ID: p.ID, Operations: p.Operations, Status: active(true), Immutable: p.IsImmutable}
	for _, a := range as {
		label, ok := labels[a.IdentityID]
		if !ok {
			label = a.IdentityID
		}
		r.Assignees = append(r.Assignees, label)
	}
	base := apiPermissions + "/" + p.ID
	if p.IsArchived {
		r.Status = archived()
	}
	if !p.IsArchived && ops["Permissions:Assign"] {
		r.Assign = signedForm(http.MethodPost, base+"/assignments", empty)
	}
	if !p.IsImmutable && ops["Permissions:Archive"] {
		if p.IsArchived {
			r.Actions = append(r.Actions, signedAction("Unarchive", "unarchive-button", http.MethodPut, base+"/archive", map[string]bool{"isArchived": false}))
		} else {
			a := signedAction("Archive", "archive-button", http.MethodPut, base+"/archive", map[string]bool{"isArchived": true})
			a.Danger = true
			r.Actions = append(r.Actions, a)
		}
	}
	return r
}

// orgIdentities are who a permission can be assigned to: people, service
// accounts and personal access tokens, as choices and as labels by id.
type orgIdentities struct {
	options []views.Option
	labels  map[string]string
}

func (s *Server) identities(c echo.Context, orgID string) (orgIdentities, error) {
	ctx := c.Request().Context()
	out := orgIdentities{labels: map[string]string{}}
	users, err := s.store.ListUsers(ctx, store.UserQuery{OrgID: orgID, Limit: consoleListLimit})
	if err != nil {
		return out, fmt.Errorf("list users: %w", err)
	}
	for _, u := range users {
		label := u.Username
		if u.IsServiceAccount {
			label = u.Name + " (service account)"
		}
		out.labels[u.ID] = label
		out.options = append(out.options, views.Option{Value: u.ID, Label: label})
	}
	pats, err := s.store.ListAccessTokens(ctx, store.AccessTokenQuery{OrgID: orgID, Kind: store.TokenPAT})
	if err != nil {
		return out, fmt.Errorf("list PATs: %w", err)
	}
	owners := map[string]string{}
	for _, u := range users {
		owners[u.ID] = u.Username
	}
	for _, t := range pats {
		if t.IsArchived {
			continue
		}
		label := fmt.Sprintf("%s (access token of %s)", t.Name, owners[t.UserID])
		out.labels[t.ID] = label
		out.options = append(out.options, views.Option{Value: t.ID, Label: label})
	}
	return out, nil
}
