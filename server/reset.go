package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/labstack/echo/v4"

	"countersign/mailer"
	"countersign/store"
	"countersign/webauthn"
)

// Administrator-assisted reset: for a person without a recovery key, an
// administrator with authority over them issues a one-time reset link
// (a signed, audited change). Opening it registers a new passkey and
// retires every earlier credential and token, as a recovery does.

// resetLinkView answers the issue of a reset link. With e-mail configured
// and an address for a username, the link goes to the person only: the
// administrator never holds it (else they could become that person).
type resetLinkView struct {
	UserID     string `json:"userId"`
	Username   string `json:"username"`
	Expiration string `json:"expiration"`
	Emailed    bool   `json:"emailed"`
	ResetURL   string `json:"resetUrl,omitempty"`
}

// issueReset issues a reset link for the user of the path. The caller
// needs Auth:Recover:Delegated (the operation of recovering someone else,
// spec §7) and authority over the person: nobody resets someone stronger,
// so a reset can never take over a stronger account. Nobody resets
// themselves (they add a passkey from Credentials), a service account
// has no passkeys, and an unregistered user needs an invitation instead.
func (s *Server) issueReset(c echo.Context) error {
	u, err := s.orgUser(c, c.Param("userId"))
	if err != nil {
		return err
	}
	caller := callerFrom(c)
	switch {
	case u.IsServiceAccount:
		return fmt.Errorf("user %s is a service account: %w", u.ID, store.ErrNotFound)
	case u.ID == caller.User.ID:
		return badRequest("you cannot reset your own account: add a passkey from Credentials instead", nil)
	case !u.IsRegistered:
		return badRequest("this user has not registered yet: send them a new invitation instead", nil)
	case !u.IsActive || u.IsArchived:
		return badRequest("this user is deactivated: activate them first", nil)
	}
	ctx := c.Request().Context()
	if err := s.requireAuthorityOver(ctx, caller, u.ID, "reset"); err != nil {
		return err
	}
	link := s.ceremonies.NewResetLink(u, caller.User.ID)
	url := s.link(pathRecover, resetQuery(link.Code))
	out := resetLinkView{UserID: u.ID, Username: u.Username, Expiration: isoTime(link.ExpiresAt)}
	if s.canMail(u.Username) {
		// Mail first, then store: a mail that cannot go out leaves no
		// link behind and the action unused, and the answer says why.
		if err := s.sendResetMail(ctx, u, caller, url, link); err != nil {
			return &APIError{Status: http.StatusBadGateway, Code: "mail_failed",
				Message: "the reset link could not be e-mailed, so none was issued: try again later", Err: err}
		}
		out.Emailed = true
	} else {
		out.ResetURL = url
	}
	if err := s.store.PutCodeSigned(ctx, s.signedChange(c), link.Stored); err != nil {
		return fmt.Errorf("store reset link of %s: %w", u.ID, err)
	}
	return c.JSON(http.StatusOK, out)
}

func resetQuery(code string) url.Values { return url.Values{"reset": {code}} }

func (s *Server) sendResetMail(ctx context.Context, u store.User, caller Caller, link string, l webauthn.ResetLink) error {
	m, err := mailReset.message(u.Username, mailView{
		Username: u.Username, Org: s.orgName(ctx, u.OrgID), Link: link,
		ExpiresIn: expiresIn(l.ExpiresAt.Sub(s.opts.Now())), Issuer: "Your administrator " + caller.User.Username,
	})
	if err != nil {
		return err
	}
	return s.opts.Mail.Send(ctx, m)
}

// resendCodeRequest is spec §4.1 PUT /auth/registration/code.
type resendCodeRequest struct {
	Username string `json:"username"`
	OrgID    string `json:"orgId"`
}

func (r *resendCodeRequest) validate() error {
	if err := requireFields("username", r.Username, "orgId", r.OrgID); err != nil {
		return err
	}
	return checkUsername(r.Username)
}

var registrationCodeSent = messageResponse{Message: "If this user is invited and has not registered yet, a new registration link is on its way to their e-mail address."}

// resendRegistrationCode e-mails an invited user a new registration link,
// replacing the old code. Like a recovery code, it answers alike and as
// fast whatever the username: the work happens in the mailer's queue.
func (s *Server) resendRegistrationCode(c echo.Context) error {
	var req resendCodeRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	if s.opts.Mail == nil {
		return errNoMail("a registration code")
	}
	if err := s.allowMail(c.RealIP(), "registration", req.OrgID, req.Username); err != nil {
		return err
	}
	s.opts.Mail.Later(func(ctx context.Context) (mailer.Message, bool) { return s.resendMail(ctx, req) })
	return c.JSON(http.StatusOK, registrationCodeSent)
}

func (s *Server) resendMail(ctx context.Context, req resendCodeRequest) (mailer.Message, bool) {
	u, err := s.ceremonies.LookUpInvitee(ctx, req.OrgID, req.Username)
	if err != nil || !mailer.IsAddress(u.Username) {
		if err != nil && !errors.Is(err, store.ErrNotFound) && !errors.Is(err, webauthn.ErrRegistered) {
			s.log.Error("resend registration code", "cause", err.Error())
		}
		return mailer.Message{}, false
	}
	inv, err := s.ceremonies.Reinvite(ctx, u.OrgID, u.Username)
	if err != nil {
		s.log.Error("resend registration code", "cause", err.Error())
		return mailer.Message{}, false
	}
	m, err := mailResend.message(u.Username, mailView{
		Username: u.Username, Org: s.orgName(ctx, u.OrgID), Link: s.registrationURL(inv.User.OrgID, inv.User.Username, inv.Code),
		ExpiresIn: expiresIn(inv.ExpiresAt.Sub(s.opts.Now())),
	})
	if err != nil {
		s.log.Error("compose resend mail", "cause", err.Error())
		return mailer.Message{}, false
	}
	return m, true
}

// mailInvitation e-mails a new user their link, when the username is an
// address and e-mail is configured; the answer tells whether it went.
func (s *Server) mailInvitation(ctx context.Context, inv webauthn.Invited) bool {
	if !s.canMail(inv.User.Username) {
		return false
	}
	m, err := mailInvitation.message(inv.User.Username, mailView{
		Username: inv.User.Username, Org: s.orgName(ctx, inv.User.OrgID), Link: s.registrationURL(inv.User.OrgID, inv.User.Username, inv.Code),
		ExpiresIn: expiresIn(inv.ExpiresAt.Sub(s.opts.Now())),
	})
	if err == nil {
		err = s.opts.Mail.Send(ctx, m)
	}
	if err != nil {
		s.log.Error("mail invitation", "user", inv.User.ID, "cause", err.Error())
		return false
	}
	return true
}
