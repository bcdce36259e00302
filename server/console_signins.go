package server

import (
	"context"
	"strings"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"countersign/store"
	"countersign/webauthn"
)

// maxUserAgent bounds the user agent a sign-in event keeps: the header is
// the client's to fill.
const maxUserAgent = 256

// recordSignIn notes a successful sign-in and the login token it issued,
// for Activity and the sessions list. A failure to note it does not fail
// the sign-in (it is logged).
func (s *Server) recordSignIn(c echo.Context, u store.User, cred store.Credential, tokenID, via string) {
	s.saveSignIn(c.Request().Context(), s.signInRecord(c, u, cred, tokenID, via))
}

// signInRecord is the event of a successful sign-in, for the login's own
// transaction to record (finishLogin) or recordSignIn.
func (s *Server) signInRecord(c echo.Context, u store.User, cred store.Credential, tokenID, via string) store.SignInEvent {
	e := s.signInEvent(c, store.SignInSucceeded, via)
	e.OrgID, e.UserID, e.Username, e.CredentialID, e.TokenID = u.OrgID, u.ID, u.Username, cred.ID, tokenID
	return e
}

// recordFailedSignIn notes a refused sign-in with a credential countersign
// knows, attributed to its owner and organisation, with a reason read from
// their state. An assertion naming no known credential names no
// organisation to file it under; it is only logged, like every failure.
func (s *Server) recordFailedSignIn(c echo.Context, a webauthn.Assertion) {
	ctx := c.Request().Context()
	cred, err := s.store.GetCredentialByCredID(ctx, a.CredID)
	if err != nil || cred.TokenID != "" {
		return
	}
	e := s.signInEvent(c, store.SignInFailed, viaOf(c))
	e.OrgID, e.UserID, e.CredentialID = cred.OrgID, cred.UserID, cred.ID
	e.Reason = "The signature was not accepted"
	if u, err := s.store.GetUser(ctx, cred.UserID); err == nil {
		e.Username = u.Username
		if !u.IsActive || u.IsArchived {
			e.Reason = "The user is deactivated"
		}
	}
	if !cred.IsActive {
		e.Reason = "The credential is deactivated"
	}
	s.saveSignIn(ctx, e)
}

func (s *Server) signInEvent(c echo.Context, outcome, via string) store.SignInEvent {
	ua := c.Request().UserAgent()
	if len(ua) > maxUserAgent {
		ua = ua[:maxUserAgent]
		for !utf8.ValidString(ua) {
			ua = ua[:len(ua)-1]
		}
	}
	return store.SignInEvent{
		ID: store.NewID("si"), Outcome: outcome, Via: via, ClientIP: c.RealIP(), UserAgent: ua, CreatedAt: s.opts.Now().UTC(),
	}
}

func (s *Server) saveSignIn(ctx context.Context, e store.SignInEvent) {
	if err := s.store.RecordSignIn(ctx, e); err != nil {
		s.log.Error("record sign-in", "outcome", e.Outcome, "user", e.UserID, "cause", err.Error())
	}
}

// viaOf tells the console's sign-in from the API's.
func viaOf(c echo.Context) string {
	if strings.HasPrefix(c.Request().URL.Path, pathSessionLogin) {
		return store.ViaConsole
	}
	return store.ViaAPI
}

// browserName reads a user agent for a person: "Chrome on Linux". It knows
// the common browsers and systems; anything else is "Unknown browser".
func browserName(ua string) string {
	browser := "Unknown browser"
	for _, b := range []struct{ token, name string }{
		{"Edg/", "Edge"}, {"OPR/", "Opera"}, {"Firefox/", "Firefox"}, {"HeadlessChrome/", "Chrome (headless)"},
		{"Chrome/", "Chrome"}, {"Chromium/", "Chromium"}, {"Safari/", "Safari"}, {"node", "Node.js"}, {"curl/", "curl"},
		{"Go-http-client/", "Go"},
	} {
		if strings.Contains(ua, b.token) {
			browser = b.name
			break
		}
	}
	for _, o := range []struct{ token, name string }{
		{"Android", "Android"}, {"iPhone", "iOS"}, {"iPad", "iPadOS"}, {"Mac OS X", "macOS"}, {"Windows", "Windows"},
		{"CrOS", "ChromeOS"}, {"Linux", "Linux"},
	} {
		if strings.Contains(ua, o.token) {
			return browser + " on " + o.name
		}
	}
	return browser
}
