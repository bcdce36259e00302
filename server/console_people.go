package server

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"

	"countersign/store"
	"countersign/views"
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
	base := apiUsers + "/" + u.ID
	if u.IsActive && !u.IsRegistered {
		return s.invitedRow(c, caller, ops, u, r)
	}
	signal := "user:" + webauthnUserID(u)
	switch {
	case u.IsActive && ops["Auth:Users:Deactivate"]:
		a := signedAction("Deactivate", "deactivate-button", http.MethodPut, base+"/deactivate", empty)
		a.Danger, a.Row, a.Signal = true, u.Username, signal
		a.DisabledReason = s.refusal(c, caller, u, r.IsYou)
		r.Actions = append(r.Actions, a)
	case !u.IsActive && ops["Auth:Users:Activate"]:
		a := signedAction("Activate", "activate-button", http.MethodPut, base+"/activate", empty)
		a.Row = u.Username
		r.Actions = append(r.Actions, a)
	}
	if !r.IsYou && u.IsActive && u.IsRegistered && ops["Auth:Recover:Delegated"] {
		r.Actions = append(r.Actions, signedAction("Reset passkeys", "reset-button", http.MethodPost, base+"/recovery", empty))
	}
	return r, nil
}

// invitedRow is a person who has not registered yet: when their link
// expires, and the buttons that issue a new one or cancel the invitation.
func (s *Server) invitedRow(c echo.Context, caller Caller, ops map[string]bool, u store.User, r views.UserRow) (views.UserRow, error) {
	r.Status = views.Status{Label: "Invited", Kind: "pending"}
	code, err := s.store.GetRegistrationCode(c.Request().Context(), u.ID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		r.Invitation = "No link: issue a new one"
	case err != nil:
		return views.UserRow{}, fmt.Errorf("load the invitation of %s: %w", u.ID, err)
	case !code.ExpiresAt.After(s.opts.Now()):
		r.Invitation = "Link expired " + humanTime(code.ExpiresAt)
		r.Status = views.Status{Label: "Link expired", Kind: "inactive"}
	default:
		r.Invitation = "Link expires " + humanTime(code.ExpiresAt)
		r.InvitationExpiresISO = isoTime(code.ExpiresAt)
	}
	base := apiUsers + "/" + u.ID
	reason := s.refusal(c, caller, u, false)
	if ops["Auth:Users:Create"] {
		a := signedAction("Issue a new link", "reissue-button", http.MethodPost, base+"/invitation", empty)
		a.Row, a.DisabledReason, a.Reveal = u.Username, reason, "invite"
		r.Actions = append(r.Actions, a)
	}
	if ops["Auth:Users:Delete"] {
		a := signedAction("Cancel invitation", "cancel-invitation-button", http.MethodDelete, base, empty)
		a.Danger, a.Row, a.DisabledReason = true, u.Username, reason
		r.Actions = append(r.Actions, a)
	}
	return r, nil
}

// refusal is why the server would refuse the caller changing u (say, to
// deactivate them), or "" when it would not: the console disables the
// button and shows this instead of failing after the passkey prompt.
func (s *Server) refusal(c echo.Context, caller Caller, u store.User, isYou bool) string {
	if isYou {
		return "You can't deactivate yourself: another administrator can."
	}
	ctx := c.Request().Context()
	var apiErr *APIError
	if err := s.requireAuthorityOver(ctx, caller, u.ID, "change"); errors.As(err, &apiErr) {
		return "They hold operations you don't, so only someone holding those can change them."
	}
	if err := s.requireAdminRemains(ctx, caller.User.OrgID, u.ID); errors.As(err, &apiErr) {
		return "The last active administrator: make someone else an administrator first."
	}
	return ""
}
