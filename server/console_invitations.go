package server

import (
	"fmt"
	"net/http"
	"net/url"

	"github.com/labstack/echo/v4"

	"countersign/store"
	"countersign/webauthn"
)

// apiInvitation issues a pending user's invitation again: countersign's
// addition to spec §4.6, whose Dfns twin e-mails codes.
const apiInvitation = "/auth/users/:userId/invitation"

// invitationView is the user with the new one-time link to hand over.
type invitationView struct {
	userView
	ExpiresAt string `json:"registrationCodeExpiresAt"`
}

// reissueInvitation gives someone invited who has not registered a new
// one-time link, valid from now; the old link stops working. Whoever opens
// a link becomes that user, so the caller needs authority over them (any
// permission assigned to them ahead of registration).
func (s *Server) reissueInvitation(c echo.Context) error {
	u, err := s.orgUser(c, c.Param("userId"))
	if err != nil {
		return err
	}
	if u.IsServiceAccount || u.IsRegistered || u.IsArchived {
		return &APIError{Status: http.StatusBadRequest, Code: "not_invited",
			Message: fmt.Sprintf("%s has no pending invitation: it has registered, was cancelled, or is a service account", u.ID)}
	}
	ctx := c.Request().Context()
	caller := callerFrom(c)
	if err := s.requireAuthorityOver(ctx, caller, u.ID, "issue a new invitation for"); err != nil {
		return err
	}
	inv, err := s.ceremonies.NewInvitation(webauthn.InviteRequest{OrgID: u.OrgID, Username: u.Username})
	if err != nil {
		return err
	}
	code := store.RegistrationCode{UserID: u.ID, CodeHash: inv.Invitation.Code.CodeHash, ExpiresAt: inv.ExpiresAt}
	if err := s.store.RenewRegistrationCodeSigned(ctx, s.signedChange(c), code); err != nil {
		return fmt.Errorf("renew the invitation of %s: %w", u.ID, err)
	}
	v, err := s.userView(c, u)
	if err != nil {
		return err
	}
	v.RegistrationCode = inv.Code
	v.RegistrationURL = s.registrationURL(u.OrgID, u.Username, inv.Code)
	return c.JSON(http.StatusOK, invitationView{userView: v, ExpiresAt: isoTime(inv.ExpiresAt)})
}

// registrationURL is the link an invited person opens.
func (s *Server) registrationURL(orgID, username, code string) string {
	q := url.Values{"org": {orgID}, "username": {username}, "code": {code}}
	return s.opts.Origins[0] + pathRegister + "?" + q.Encode()
}
