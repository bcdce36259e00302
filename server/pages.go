package server

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"

	"countersign/store"
	"countersign/token"
	"countersign/views"
)

// Console routes. The JSON ones answer {"next": URL} and set the session
// cookie: the login token never reaches the page's JavaScript.
const (
	pathConsole             = "/"
	pathLogin               = "/login"
	pathRegister            = "/register"
	pathSessionLogin        = "/session/login"
	pathSessionRegistration = "/session/registration"
	pathSessionLogout       = "/session/logout"
)

// isPage tells whether an error should be answered with the HTML error page:
// a browser navigation (it accepts text/html) outside the JSON API.
func isPage(c echo.Context) bool {
	p := c.Request().URL.Path
	for _, prefix := range []string{"/auth", "/permissions", "/.well-known/", "/healthz", "/static/", "/session/login", "/session/registration",
		pathSessionRecovery, pathSessionCredentialCode, pathSessionQR} {
		if strings.HasPrefix(p, prefix) {
			return false
		}
	}
	return strings.Contains(c.Request().Header.Get(echo.HeaderAccept), "text/html")
}

// render writes a templ component as the whole response.
func (s *Server) render(c echo.Context, status int, cmp templ.Component) error {
	h := c.Response().Header()
	h.Set(echo.HeaderContentType, echo.MIMETextHTMLCharsetUTF8)
	h.Set("Cache-Control", "no-store")
	c.Response().WriteHeader(status)
	return cmp.Render(c.Request().Context(), c.Response().Writer)
}

func (s *Server) renderErrorPage(c echo.Context, e *APIError) error {
	title := http.StatusText(e.Status)
	msg := e.Message
	switch e.Code {
	case "not_found":
		title, msg = "Page not found", "There is nothing at this address."
	case "invalid_registration_code":
		title, msg = "This invitation can't be used", "The link is invalid, has expired or was already used. Ask your administrator for a new invitation."
	case "cross_origin":
		title, msg = "Request refused", "This request did not come from countersign's own pages, so it was refused."
	case "invalid_code":
		title, msg, _ = errorPageFor(e)
	case "internal":
		title, msg = "Something went wrong", "countersign could not complete this request. Try again in a moment."
	}
	return s.render(c, e.Status, views.ErrorPage(views.ErrorView{Status: e.Status, Title: title, Message: msg}))
}

// loginPage shows the sign-in form, or, when signed in, goes where the
// sign-in would (renew=1 shows the form anyway: a session about to end
// is renewed by signing in again). ?next= names the console page to return
// to, checked by returnPath.
func (s *Server) loginPage(c echo.Context) error {
	next := returnPath(c.QueryParam("next"))
	if _, err := s.sessionCaller(c); err == nil && c.QueryParam("renew") == "" {
		return c.Redirect(http.StatusSeeOther, next)
	}
	orgID, err := s.defaultOrgID(c)
	if err != nil {
		return err
	}
	finish := pathSessionLogin
	if next != pathConsole {
		finish += "?" + url.Values{"next": {next}}.Encode()
	}
	return s.render(c, http.StatusOK, views.LoginPage(views.LoginView{
		OrgID: orgID, InitURL: "/auth/login/init", FinishURL: finish,
	}))
}

// defaultOrgID is the organisation the sign-in page is for: ?org= or the
// server's first organisation.
func (s *Server) defaultOrgID(c echo.Context) (string, error) {
	if org := c.QueryParam("org"); org != "" {
		return org, nil
	}
	orgs, err := s.store.ListOrgs(c.Request().Context())
	if err != nil {
		return "", fmt.Errorf("list orgs: %w", err)
	}
	if len(orgs) == 0 {
		return "", nil
	}
	return orgs[0].ID, nil
}

// registerPage is the invitation link: it checks the invitation first so a
// bad link says so at once, before any passkey prompt.
func (s *Server) registerPage(c echo.Context) error {
	org, username, code := c.QueryParam("org"), c.QueryParam("username"), c.QueryParam("code")
	if err := s.ceremonies.CheckInvitation(c.Request().Context(), org, username, code); err != nil {
		return err
	}
	return s.render(c, http.StatusOK, views.RegisterPage(views.RegisterView{
		OrgID: org, Username: username, Code: code, ProvidersURL: pathPasskeyProviders,
		InitURL: "/auth/registration/init", FinishURL: pathSessionRegistration,
	}))
}

// sessionCaller authenticates the session cookie of a page request.
func (s *Server) sessionCaller(c echo.Context) (Caller, error) {
	tok := s.sessionTokenFrom(c.Request())
	if tok == "" {
		return Caller{}, fmt.Errorf("no session: %w", token.ErrInvalid)
	}
	return s.callerFor(c.Request().Context(), tok)
}

func humanTime(t time.Time) string { return t.UTC().Format("2 Jan 2006, 15:04 MST") }

// nextResponse tells the sign-in page where to go, and what to tell the
// browser about this person's passkeys first (the WebAuthn Signal API):
// their current name, and which of their passkeys still sign in.
type nextResponse struct {
	Next   string        `json:"next"`
	Signal *signInSignal `json:"signal,omitempty"`
}

type signInSignal struct {
	RPID                     string   `json:"rpId"`
	UserID                   string   `json:"userId"`
	Name                     string   `json:"name"`
	DisplayName              string   `json:"displayName"`
	AllAcceptedCredentialIDs []string `json:"allAcceptedCredentialIds"`
}

// signalFor lists what the browser is told after u signs in.
func (s *Server) signalFor(c echo.Context, u store.User) (*signInSignal, error) {
	creds, err := s.store.ListCredentials(c.Request().Context(), u.ID)
	if err != nil {
		return nil, fmt.Errorf("list credentials of %s: %w", u.ID, err)
	}
	sig := &signInSignal{RPID: s.ceremonies.RPID(), UserID: webauthnUserID(u), Name: u.Username, DisplayName: u.Name, AllAcceptedCredentialIDs: []string{}}
	for _, cr := range creds {
		if cr.Kind == store.CredentialFido2 && cr.IsActive && cr.TokenID == "" {
			sig.AllAcceptedCredentialIDs = append(sig.AllAcceptedCredentialIDs, cr.CredID)
		}
	}
	return sig, nil
}

// sessionLogin finishes a browser login: same body as /auth/login, but the
// token goes into the session cookie instead of the response.
func (s *Server) sessionLogin(c echo.Context) error {
	u, _, issued, err := s.finishLogin(c, store.ViaConsole)
	if err != nil {
		return err
	}
	return s.signedIn(c, u, issued)
}

// sessionRegistration finishes a browser registration and signs the new
// user in: the attestation just proved possession of the new passkey.
func (s *Server) sessionRegistration(c echo.Context) error {
	u, cred, err := s.finishRegistration(c)
	if err != nil {
		return err
	}
	return s.signIn(c, u, cred)
}

func (s *Server) signIn(c echo.Context, u store.User, cred store.Credential) error {
	issued, err := s.tokens.IssueLogin(c.Request().Context(), u)
	if err != nil {
		return fmt.Errorf("issue login token: %w", err)
	}
	s.recordSignIn(c, u, cred, issued.ID, store.ViaConsole)
	return s.signedIn(c, u, issued)
}

// signedIn starts the session of a sign-in's token and tells the page
// where to go.
func (s *Server) signedIn(c echo.Context, u store.User, issued token.Issued) error {
	if err := s.startSession(c, issued.Token); err != nil {
		return err
	}
	sig, err := s.signalFor(c, u)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, nextResponse{Next: returnPath(c.QueryParam("next")), Signal: sig})
}

// sessionLogout revokes the session's token and clears the cookie.
func (s *Server) sessionLogout(c echo.Context) error {
	if caller, err := s.sessionCaller(c); err == nil {
		if err := s.store.RevokeToken(c.Request().Context(), caller.Token.ID, s.opts.Now()); err != nil {
			return fmt.Errorf("revoke token %s: %w", caller.Token.ID, err)
		}
	}
	if err := s.endSession(c); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, pathLogin)
}
