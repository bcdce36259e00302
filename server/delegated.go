package server

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"countersign/mailer"
	"countersign/store"
	"countersign/webauthn"
)

// The delegated flows (spec §4.1, §4.8): an application's backend, signed
// in as a service account, registers, signs in and recovers the end users
// of its application. Each is a signed request of the service account,
// audited under its name, and reaches end users only (kind EndUser, never
// the organisation's people, whom a delegated token would let it read as).
// What the end user then does with their credentials still takes their
// own signature: a delegated login token reads, and every change it asks
// for is approved by one of the end user's credentials.

type delegatedRegistrationRequest struct {
	Email      string `json:"email"`
	Kind       string `json:"kind"`
	ExternalID string `json:"externalId"`
}

func (r *delegatedRegistrationRequest) validate() error {
	if err := requireFields("email", r.Email, "kind", r.Kind); err != nil {
		return err
	}
	if r.Kind != store.KindEndUser {
		return errors.New("kind must be EndUser")
	}
	if !mailer.IsAddress(r.Email) {
		return errors.New("email must be an e-mail address")
	}
	if len(r.ExternalID) > 256 {
		return errors.New("externalId must be at most 256 characters")
	}
	return nil
}

type delegatedLoginRequest struct {
	Username string `json:"username"`
}

func (r *delegatedLoginRequest) validate() error {
	if err := requireFields("username", r.Username); err != nil {
		return err
	}
	return checkUsername(r.Username)
}

type delegatedRecoveryRequest struct {
	Username     string `json:"username"`
	CredentialID string `json:"credentialId"`
}

func (r *delegatedRecoveryRequest) validate() error {
	if err := requireFields("username", r.Username, "credentialId", r.CredentialID); err != nil {
		return err
	}
	if err := checkUsername(r.Username); err != nil {
		return err
	}
	if len(r.CredentialID) > maxCredentialIDLength {
		return errors.New("credentialId is too long")
	}
	return nil
}

// delegatedRegistration creates an end user and answers the registration
// challenge their device completes with POST /auth/registration. An end
// user created so whose registration never finished gets a new challenge
// (the earlier one, and its code, stop working); anyone else under that
// e-mail address is a conflict.
func (s *Server) delegatedRegistration(c echo.Context) error {
	var req delegatedRegistrationRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	ctx := c.Request().Context()
	caller := callerFrom(c)
	inv, err := s.ceremonies.NewInvitation(webauthn.InviteRequest{OrgID: caller.User.OrgID, Username: req.Email})
	if err != nil {
		return err
	}
	u, err := s.store.GetUserByUsername(ctx, caller.User.OrgID, inv.User.Username)
	switch {
	case errors.Is(err, store.ErrNotFound):
		inv.Invitation.User.Kind = store.KindEndUser
		inv.Invitation.User.ExternalID = req.ExternalID
		if err := s.store.CreateUserSigned(ctx, s.signedChange(c), inv.Invitation); err != nil {
			return fmt.Errorf("create end user %q: %w", req.Email, err)
		}
		u = inv.Invitation.User
	case err != nil:
		return fmt.Errorf("load user %q: %w", req.Email, err)
	default:
		if err := s.requireUnfinishedEndUser(c, caller, u, req.ExternalID); err != nil {
			return err
		}
		code := store.RegistrationCode{UserID: u.ID, CodeHash: inv.Invitation.Code.CodeHash, ExpiresAt: inv.ExpiresAt}
		if err := s.store.RenewRegistrationCodeSigned(ctx, s.signedChange(c), code); err != nil {
			return fmt.Errorf("renew the registration of %s: %w", u.ID, err)
		}
	}
	rc, err := s.ceremonies.BeginRegistration(ctx, u.OrgID, u.Username, inv.Code)
	if err != nil {
		return fmt.Errorf("begin the registration of %s: %w", u.ID, err)
	}
	temp, err := s.tokens.IssueTemp(rc.ID, rc.User)
	if err != nil {
		return fmt.Errorf("issue temporary token: %w", err)
	}
	return c.JSON(http.StatusOK, s.newRegistrationChallenge(rc.User, rc.Challenge, temp.Token))
}

// requireUnfinishedEndUser refuses to register again anyone but an active
// end user who has not registered, under the same external id.
func (s *Server) requireUnfinishedEndUser(c echo.Context, caller Caller, u store.User, externalID string) error {
	conflict := func(msg string) error {
		return &APIError{Status: http.StatusConflict, Code: "conflict", Message: msg}
	}
	switch {
	case u.Kind != store.KindEndUser || u.IsServiceAccount:
		return conflict("this e-mail address is already in use")
	case u.IsRegistered:
		return conflict("this end user has registered already: sign them in, or recover their account")
	case !u.IsActive || u.IsArchived:
		return conflict("this end user is deactivated")
	case externalID != "" && externalID != u.ExternalID:
		return conflict("this end user was created with another externalId")
	}
	return s.requireAuthorityOver(c.Request().Context(), caller, u.ID, "register")
}

// delegatedEndUser loads the end user a delegated login or recovery names:
// active, registered, of the caller's organisation, and no stronger than
// the caller. A person or service account under that name is not found,
// as nobody is: the answer does not tell a service account which of the
// organisation's people exist.
func (s *Server) delegatedEndUser(c echo.Context, username, verb string) (store.User, error) {
	caller := callerFrom(c)
	ctx := c.Request().Context()
	u, err := s.store.GetUserByUsername(ctx, caller.User.OrgID, strings.TrimSpace(username))
	if err == nil && (u.Kind != store.KindEndUser || u.IsServiceAccount) {
		err = fmt.Errorf("user %s is of kind %s: %w", u.ID, u.Kind, store.ErrNotFound)
	}
	if errors.Is(err, store.ErrNotFound) {
		return store.User{}, &APIError{Status: http.StatusNotFound, Code: "not_found",
			Message: fmt.Sprintf("no end user of this organisation has this username: only end users can be %s by delegation", verb), Err: err}
	}
	if err != nil {
		return store.User{}, fmt.Errorf("load user %q: %w", username, err)
	}
	switch {
	case !u.IsRegistered:
		return store.User{}, badRequest("this end user has not registered yet", nil)
	case !u.IsActive || u.IsArchived:
		return store.User{}, badRequest("this end user is deactivated", nil)
	}
	if err := s.requireAuthorityOver(ctx, caller, u.ID, "act for"); err != nil {
		return store.User{}, err
	}
	return u, nil
}

// delegatedLogin issues a login token for an end user (spec §4.1
// /auth/login/delegated), recorded with its sign-in event and the service
// account's signed request in one transaction.
func (s *Server) delegatedLogin(c echo.Context) error {
	var req delegatedLoginRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	u, err := s.delegatedEndUser(c, req.Username, "signed in")
	if err != nil {
		return err
	}
	rec := s.tokens.LoginRecord(u)
	rec.DelegatedBy = callerFrom(c).User.ID
	e := s.signInEvent(c, store.SignInSucceeded, store.ViaDelegated)
	e.OrgID, e.UserID, e.Username, e.TokenID = u.OrgID, u.ID, u.Username, rec.ID
	if err := s.store.IssueTokenSigned(c.Request().Context(), s.signedChange(c), rec, e); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return badRequest("this end user can no longer sign in", err)
		}
		return fmt.Errorf("issue a delegated login token for %s: %w", u.ID, err)
	}
	issued, err := s.tokens.SignLogin(rec, u.Username)
	if err != nil {
		return fmt.Errorf("sign the delegated login token: %w", err)
	}
	return c.JSON(http.StatusOK, loginResponse{Token: issued.Token})
}

// delegatedRecovery starts the recovery of an end user by their recovery
// key (spec §4.8 /auth/recover/user/delegated): the service account's
// signed request stands for the verification code a person would receive
// by mail, and the recovery itself is signed by the end user's recovery
// key as in /auth/recover/user.
func (s *Server) delegatedRecovery(c echo.Context) error {
	var req delegatedRecoveryRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	u, err := s.delegatedEndUser(c, req.Username, "recovered")
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	key, err := s.ceremonies.RecoveryKeyOf(ctx, u, req.CredentialID)
	if err != nil {
		return err
	}
	code := s.ceremonies.NewDelegatedRecoveryCode(u, callerFrom(c).User.ID)
	if err := s.store.PutCodeSigned(ctx, s.signedChange(c), code); err != nil {
		return fmt.Errorf("store the delegated recovery code of %s: %w", u.ID, err)
	}
	rc, err := s.ceremonies.BeginRecoveryWith(ctx, u, code.CodeHash, key)
	if err != nil {
		return fmt.Errorf("begin the recovery of %s: %w", u.ID, err)
	}
	out, err := s.newRecoveryChallenge(rc)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, out)
}
