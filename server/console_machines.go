package server

import (
	"fmt"
	"net/http"
	"slices"

	"github.com/labstack/echo/v4"

	"countersign/store"
	"countersign/views"
)

// tokensPage lists the caller's personal access tokens. Creating one needs
// Auth:Pats:Create; the rest is the caller's own business.
func (s *Server) tokensPage(c echo.Context, caller Caller) error {
	f, err := s.frame(c, caller, "tokens")
	if err != nil {
		return err
	}
	ops, err := s.may(c, caller)
	if err != nil {
		return err
	}
	ts, err := s.store.ListAccessTokens(c.Request().Context(), store.AccessTokenQuery{OrgID: caller.User.OrgID, UserID: caller.User.ID, Kind: store.TokenPAT})
	if err != nil {
		return fmt.Errorf("list PATs of %s: %w", caller.User.ID, err)
	}
	v := views.TokensView{Frame: f, CanCreate: ops["Auth:Pats:Create"], Create: signedForm(http.MethodPost, apiPATs, empty)}
	if v.CanCreate {
		if v.Permissions, err = s.grantablePermissions(c, caller.User.OrgID, ops); err != nil {
			return err
		}
	}
	now := s.opts.Now()
	for _, t := range ts {
		v.Tokens = append(v.Tokens, tokenRow(t, now, apiPATs+"/"+t.ID, true, true))
	}
	return s.render(c, http.StatusOK, views.TokensPage(v))
}

// serviceAccountsPage lists the organisation's service accounts, with the
// actions the caller's permissions allow.
func (s *Server) serviceAccountsPage(c echo.Context, caller Caller) error {
	f, err := s.frame(c, caller, "service-accounts")
	if err != nil {
		return err
	}
	ops, err := s.may(c, caller)
	if err != nil {
		return err
	}
	v := views.ServiceAccountsView{
		Frame: f, CanRead: ops["Auth:ServiceAccounts:Read"], CanCreate: ops["Auth:ServiceAccounts:Create"],
		Create: signedForm(http.MethodPost, apiServiceAccounts, empty),
	}
	if v.CanCreate {
		if v.Permissions, err = s.grantablePermissions(c, caller.User.OrgID, ops); err != nil {
			return err
		}
	}
	if v.CanRead {
		if v.Accounts, err = s.serviceAccountRows(c, caller, ops); err != nil {
			return err
		}
	}
	return s.render(c, http.StatusOK, views.ServiceAccountsPage(v))
}

func (s *Server) serviceAccountRows(c echo.Context, caller Caller, ops map[string]bool) ([]views.ServiceAccountRow, error) {
	ctx := c.Request().Context()
	users, err := s.store.ListUsers(ctx, store.UserQuery{OrgID: caller.User.OrgID, ServiceAccounts: ptr(true), Limit: consoleListLimit})
	if err != nil {
		return nil, fmt.Errorf("list service accounts: %w", err)
	}
	now := s.opts.Now()
	rows := make([]views.ServiceAccountRow, 0, len(users))
	for _, u := range users {
		ts, err := s.store.ListAccessTokens(ctx, store.AccessTokenQuery{OrgID: u.OrgID, UserID: u.ID, Kind: store.TokenServiceAccount})
		if err != nil {
			return nil, fmt.Errorf("list tokens of %s: %w", u.ID, err)
		}
		perms, err := s.permissionNames(c, u.ID)
		if err != nil {
			return nil, err
		}
		r := views.ServiceAccountRow{Name: u.Name, UserID: u.ID, Created: humanTime(u.CreatedAt), Permissions: perms, Status: active(u.IsActive)}
		for _, t := range ts {
			r.Tokens = append(r.Tokens, tokenRow(t, now, "", false, false))
		}
		base := apiServiceAccounts + "/" + u.ID
		switch {
		case u.IsActive && ops["Auth:ServiceAccounts:Deactivate"]:
			r.Actions = append(r.Actions, signedAction("Deactivate", "deactivate-button", http.MethodPut, base+"/deactivate", empty))
		case !u.IsActive && ops["Auth:ServiceAccounts:Activate"]:
			r.Actions = append(r.Actions, signedAction("Activate", "activate-button", http.MethodPut, base+"/activate", empty))
		}
		if ops["Auth:ServiceAccounts:Delete"] {
			a := signedAction("Archive", "archive-button", http.MethodDelete, base, empty)
			a.Danger = true
			r.Actions = append(r.Actions, a)
		}
		rows = append(rows, r)
	}
	return rows, nil
}

// grantablePermissions are the unarchived permissions whose every operation
// the caller holds: the only ones it may hand to a new identity.
func (s *Server) grantablePermissions(c echo.Context, orgID string, ops map[string]bool) ([]views.Option, error) {
	perms, err := s.store.ListPermissions(c.Request().Context(), store.PageQuery{OrgID: orgID, Limit: consoleListLimit})
	if err != nil {
		return nil, fmt.Errorf("list permissions: %w", err)
	}
	var out []views.Option
	for _, p := range perms {
		if !p.IsArchived && !slices.ContainsFunc(p.Operations, func(op string) bool { return !ops[op] }) {
			out = append(out, views.Option{Value: p.ID, Label: p.Name})
		}
	}
	return out, nil
}
