package server

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"countersign/mailer"
	"countersign/store"
	"countersign/webauthn"
)

// userView is spec §3 User; a created user also carries its registration
// code and link, which the administrator hands over (no e-mail delivery).
type userView struct {
	UserID                string           `json:"userId"`
	Username              string           `json:"username"`
	Name                  string           `json:"name"`
	Kind                  string           `json:"kind"`
	CredentialUUID        string           `json:"credentialUuid"`
	OrgID                 string           `json:"orgId"`
	IsActive              bool             `json:"isActive"`
	IsServiceAccount      bool             `json:"isServiceAccount"`
	IsRegistered          bool             `json:"isRegistered"`
	IsSSORequired         bool             `json:"isSSORequired"`
	PermissionAssignments []assignmentInfo `json:"permissionAssignments"`
	ExternalID            string           `json:"externalId,omitempty"`
	RegistrationCode      string           `json:"registrationCode,omitempty"`
	RegistrationURL       string           `json:"registrationUrl,omitempty"`
	// RegistrationEmailed: the link was also e-mailed to the user.
	RegistrationEmailed bool `json:"registrationEmailed,omitempty"`
}

func (s *Server) userView(c echo.Context, u store.User) (userView, error) {
	assignments, err := s.assignmentInfos(c, u.ID)
	if err != nil {
		return userView{}, err
	}
	v := userView{
		UserID: u.ID, Username: u.Username, Name: u.Name, Kind: u.Kind, OrgID: u.OrgID, IsActive: u.IsActive,
		IsServiceAccount: u.IsServiceAccount, IsRegistered: u.IsRegistered, IsSSORequired: u.IsSSORequired,
		PermissionAssignments: assignments, ExternalID: u.ExternalID,
	}
	creds, err := s.store.ListCredentials(c.Request().Context(), u.ID)
	if err != nil {
		return userView{}, fmt.Errorf("list credentials of %s: %w", u.ID, err)
	}
	for _, cr := range creds {
		if cr.IsActive {
			v.CredentialUUID = cr.ID
			break
		}
	}
	return v, nil
}

type createUserRequest struct {
	Email         string `json:"email"`
	Kind          string `json:"kind"`
	PublicKey     string `json:"publicKey"`
	ExternalID    string `json:"externalId"`
	IsSSORequired bool   `json:"isSSORequired"`
}

func (r *createUserRequest) validate() error {
	if err := requireFields("email", r.Email, "kind", r.Kind); err != nil {
		return err
	}
	if r.PublicKey != "" {
		return errors.New("publicKey is not supported: the invited user registers their own credential")
	}
	if r.Kind != store.KindCustomerEmployee {
		return errors.New("kind must be CustomerEmployee")
	}
	if !mailer.IsAddress(r.Email) {
		return errors.New("email must be an e-mail address")
	}
	return nil
}

// createUser invites a user: the answer carries the one-time registration
// code and link to hand over.
func (s *Server) createUser(c echo.Context) error {
	var req createUserRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	caller := callerFrom(c)
	inv, err := s.ceremonies.NewInvitation(webauthn.InviteRequest{OrgID: caller.User.OrgID, Username: req.Email})
	if err != nil {
		return err
	}
	inv.Invitation.User.ExternalID = req.ExternalID
	inv.Invitation.User.IsSSORequired = req.IsSSORequired
	if err := s.store.CreateUserSigned(c.Request().Context(), s.signedChange(c), inv.Invitation); err != nil {
		return fmt.Errorf("create user %q: %w", req.Email, err)
	}
	v, err := s.userView(c, inv.Invitation.User)
	if err != nil {
		return err
	}
	v.RegistrationCode = inv.Code
	inv.User = inv.Invitation.User
	v.RegistrationURL = s.registrationURL(inv.User.OrgID, inv.User.Username, inv.Code)
	v.RegistrationEmailed = s.mailInvitation(c.Request().Context(), inv)
	return c.JSON(http.StatusOK, v)
}

type page struct {
	Limit int
	After string
}

// pageOf reads limit (default 50, 1 to 500) and paginationToken.
func pageOf(c echo.Context) (page, error) {
	p := page{Limit: 50, After: c.QueryParam("paginationToken")}
	if l := c.QueryParam("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > 500 {
			return page{}, badRequest("limit must be 1 to 500", err)
		}
		p.Limit = n
	}
	return p, nil
}

type userList struct {
	Items         []userView `json:"items"`
	NextPageToken string     `json:"nextPageToken,omitempty"`
}

func (s *Server) listUsers(c echo.Context) error {
	p, err := pageOf(c)
	if err != nil {
		return err
	}
	kind := c.QueryParam("kind")
	if kind != "" && kind != store.KindCustomerEmployee && kind != store.KindEndUser {
		return badRequest("kind must be CustomerEmployee or EndUser", nil)
	}
	users, err := s.store.ListUsers(c.Request().Context(), store.UserQuery{
		OrgID: callerFrom(c).User.OrgID, Kind: kind, After: p.After, Limit: p.Limit + 1,
	})
	if errors.Is(err, store.ErrNotFound) {
		return badRequest("paginationToken is not valid", err)
	}
	if err != nil {
		return fmt.Errorf("list users: %w", err)
	}
	out := userList{Items: []userView{}}
	if len(users) > p.Limit {
		users = users[:p.Limit]
		out.NextPageToken = users[len(users)-1].ID
	}
	for _, u := range users {
		v, err := s.userView(c, u)
		if err != nil {
			return err
		}
		out.Items = append(out.Items, v)
	}
	return c.JSON(http.StatusOK, out)
}

// orgUser loads a user of the caller's organisation; another
// organisation's user is not found.
func (s *Server) orgUser(c echo.Context, id string) (store.User, error) {
	u, err := s.store.GetUser(c.Request().Context(), id)
	if err != nil {
		return store.User{}, fmt.Errorf("load user %s: %w", id, err)
	}
	if u.OrgID != callerFrom(c).User.OrgID {
		return store.User{}, fmt.Errorf("user %s is of another org: %w", id, store.ErrNotFound)
	}
	return u, nil
}

func (s *Server) getUser(c echo.Context) error {
	u, err := s.orgUser(c, c.Param("userId"))
	if err != nil {
		return err
	}
	v, err := s.userView(c, u)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, v)
}

type updateUserRequest struct {
	IsSSORequired *bool `json:"isSSORequired"`
}

func (r *updateUserRequest) validate() error {
	if r.IsSSORequired == nil {
		return errors.New("isSSORequired is required")
	}
	return nil
}

func (s *Server) updateUser(c echo.Context) error {
	var req updateUserRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	return s.patchUser(c, store.UserPatch{IsSSORequired: req.IsSSORequired}, false)
}

func (s *Server) activateUser(c echo.Context) error {
	return s.patchUser(c, store.UserPatch{IsActive: ptr(true)}, false)
}
func (s *Server) deactivateUser(c echo.Context) error {
	return s.patchUser(c, store.UserPatch{IsActive: ptr(false)}, true)
}
func (s *Server) archiveUser(c echo.Context) error {
	return s.patchUser(c, store.UserPatch{IsArchived: ptr(true)}, true)
}

// patchUser changes a person (service accounts have their own routes).
// Nobody locks themselves out: the caller cannot deactivate or archive its
// own user. Nobody changes someone stronger: the caller must hold every
// operation of the user. And the last active administrator stays.
func (s *Server) patchUser(c echo.Context, p store.UserPatch, disables bool) error {
	u, err := s.orgUser(c, c.Param("userId"))
	if err != nil {
		return err
	}
	if u.IsServiceAccount {
		return fmt.Errorf("user %s is a service account: %w", u.ID, store.ErrNotFound)
	}
	caller := callerFrom(c)
	if disables && u.ID == caller.User.ID {
		return badRequest("you cannot deactivate or archive your own user", nil)
	}
	if p.IsActive != nil && *p.IsActive && u.IsArchived {
		return badRequest("an archived user cannot be activated", nil)
	}
	ctx := c.Request().Context()
	if err := s.requireAuthorityOver(ctx, caller, u.ID, "change the user"); err != nil {
		return err
	}
	if disables {
		if err := s.requireAdminRemains(ctx, u.OrgID, u.ID); err != nil {
			return err
		}
	}
	if err := s.store.UpdateUserSigned(ctx, s.signedChange(c), u.OrgID, u.ID, p); err != nil {
		return fmt.Errorf("update user %s: %w", u.ID, err)
	}
	if u, err = s.store.GetUser(ctx, u.ID); err != nil {
		return fmt.Errorf("reload user: %w", err)
	}
	v, err := s.userView(c, u)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, v)
}
