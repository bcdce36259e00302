package server

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"countersign/store"
	"countersign/webauthn"
)

// serviceAccountView is spec §3 ServiceAccount.
type serviceAccountView struct {
	UserInfo     userView          `json:"userInfo"`
	AccessTokens []accessTokenView `json:"accessTokens"`
}

func (s *Server) serviceAccountView(c echo.Context, u store.User) (serviceAccountView, error) {
	info, err := s.userView(c, u)
	if err != nil {
		return serviceAccountView{}, err
	}
	ts, err := s.store.ListAccessTokens(c.Request().Context(), store.AccessTokenQuery{OrgID: u.OrgID, UserID: u.ID, Kind: store.TokenServiceAccount})
	if err != nil {
		return serviceAccountView{}, fmt.Errorf("list tokens of %s: %w", u.ID, err)
	}
	v := serviceAccountView{UserInfo: info, AccessTokens: make([]accessTokenView, 0, len(ts))}
	for _, t := range ts {
		tv, err := s.accessTokenView(c, t)
		if err != nil {
			return serviceAccountView{}, err
		}
		v.AccessTokens = append(v.AccessTokens, tv)
	}
	return v, nil
}

type createServiceAccountRequest struct {
	tokenKey
}

func (r *createServiceAccountRequest) validate() error {
	if r.SecondsValid != nil {
		return errors.New("secondsValid is for PATs; service accounts take daysValid")
	}
	return r.tokenKey.validate()
}

// createServiceAccount creates an organisation-wide machine identity with a
// Key credential and an access token shown once. Its permission, if any,
// may not exceed the creator's.
func (s *Server) createServiceAccount(c echo.Context) error {
	var req createServiceAccountRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	caller := callerFrom(c)
	now := s.opts.Now().UTC()
	name := strings.TrimSpace(req.Name)
	u := store.User{
		ID: store.NewID("us"), OrgID: caller.User.OrgID, Username: name + "@ServiceAccount", Name: name,
		Kind: store.KindCustomerEmployee, UserHandle: webauthn.EncodeBase64URL([]byte(store.NewID("sa"))),
		IsActive: true, IsRegistered: true, IsServiceAccount: true, ExternalID: req.ExternalID, CreatedAt: now,
	}
	t, cred, a, err := s.newAccessToken(c, store.TokenServiceAccount, u, req.tokenKey, func(string) string { return u.ID })
	if err != nil {
		return err
	}
	if err := s.store.CreateServiceAccountSigned(c.Request().Context(), s.signedChange(c), u, t, cred, a); err != nil {
		return fmt.Errorf("create service account %q: %w", name, err)
	}
	issued, err := s.tokens.SignAccessToken(t, u.Username)
	if err != nil {
		return err
	}
	v, err := s.serviceAccountView(c, u)
	if err != nil {
		return err
	}
	for i := range v.AccessTokens {
		if v.AccessTokens[i].TokenID == t.ID {
			v.AccessTokens[i].AccessToken = issued.Token
		}
	}
	return c.JSON(http.StatusOK, v)
}

type serviceAccountList struct {
	Items []serviceAccountView `json:"items"`
}

func (s *Server) listServiceAccounts(c echo.Context) error {
	users, err := s.store.ListUsers(c.Request().Context(), store.UserQuery{OrgID: callerFrom(c).User.OrgID, ServiceAccounts: ptr(true)})
	if err != nil {
		return fmt.Errorf("list service accounts: %w", err)
	}
	out := serviceAccountList{Items: make([]serviceAccountView, 0, len(users))}
	for _, u := range users {
		v, err := s.serviceAccountView(c, u)
		if err != nil {
			return err
		}
		out.Items = append(out.Items, v)
	}
	return c.JSON(http.StatusOK, out)
}

// orgServiceAccount loads a service account of the caller's organisation.
func (s *Server) orgServiceAccount(c echo.Context) (store.User, error) {
	u, err := s.orgUser(c, c.Param("serviceAccountId"))
	if err != nil {
		return store.User{}, err
	}
	if !u.IsServiceAccount {
		return store.User{}, fmt.Errorf("user %s is not a service account: %w", u.ID, store.ErrNotFound)
	}
	return u, nil
}

func (s *Server) getServiceAccount(c echo.Context) error {
	u, err := s.orgServiceAccount(c)
	if err != nil {
		return err
	}
	v, err := s.serviceAccountView(c, u)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, v)
}

func (s *Server) updateServiceAccount(c echo.Context) error {
	var req nameUpdate
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	return s.patchServiceAccount(c, store.UserPatch{Name: trimmed(req.Name), ExternalID: req.ExternalID})
}

// forceBody is the optional body of a service account's deactivation
// (spec §4.5): force bypasses policy approvals, which countersign does not
// have, so it changes nothing.
type forceBody struct {
	Force *bool `json:"force"`
}

func (s *Server) activateServiceAccount(c echo.Context) error {
	return s.patchServiceAccount(c, store.UserPatch{IsActive: ptr(true)})
}
func (s *Server) deactivateServiceAccount(c echo.Context) error {
	return s.patchServiceAccount(c, store.UserPatch{IsActive: ptr(false)})
}
func (s *Server) archiveServiceAccount(c echo.Context) error {
	return s.patchServiceAccount(c, store.UserPatch{IsArchived: ptr(true)})
}

// patchServiceAccount changes a service account; deactivating or archiving
// it stops its tokens at once (every request checks the user). The caller
// must hold every operation of the service account.
func (s *Server) patchServiceAccount(c echo.Context, p store.UserPatch) error {
	u, err := s.orgServiceAccount(c)
	if err != nil {
		return err
	}
	if p.IsActive != nil && *p.IsActive && u.IsArchived {
		return badRequest("an archived service account cannot be activated", nil)
	}
	ctx := c.Request().Context()
	if err := s.requireAuthorityOver(ctx, callerFrom(c), u.ID, "change the service account"); err != nil {
		return err
	}
	if err := s.store.UpdateUserSigned(ctx, s.signedChange(c), u.OrgID, u.ID, p); err != nil {
		return fmt.Errorf("update service account %s: %w", u.ID, err)
	}
	if u, err = s.store.GetUser(ctx, u.ID); err != nil {
		return fmt.Errorf("reload service account: %w", err)
	}
	v, err := s.serviceAccountView(c, u)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, v)
}
