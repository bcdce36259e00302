package server

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/labstack/echo/v4"

	"countersign/store"
	"countersign/views"
)

const (
	// pathSessions lists the person's console sessions and login tokens.
	pathSessions = "/sessions"
	// apiSessionsRevoke signs sessions out (countersign's addition: spec
	// §4.1's logout ends only the caller's own token).
	apiSessionsRevoke = "/auth/sessions/revoke"
	// maxRevokedSessions bounds one revocation's list.
	maxRevokedSessions = 100
)

// sessionsPage lists the caller's active sessions (console sign-ins and
// login tokens for the API) with where they came from, and signs out
// every other one.
func (s *Server) sessionsPage(c echo.Context, caller Caller) error {
	f, err := s.frame(c, caller, "sessions")
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	tokens, err := s.store.ListActiveTokens(ctx, caller.User.ID, store.TokenLogin, s.opts.Now())
	if err != nil {
		return fmt.Errorf("list sessions of %s: %w", caller.User.ID, err)
	}
	if len(tokens) > consoleListLimit {
		tokens = tokens[:consoleListLimit] // the newest; "everywhere else" still ends them all
	}
	v := views.SessionsView{Frame: f}
	others := 0
	for _, t := range tokens {
		row := s.sessionRow(ctx, t, t.ID == caller.Token.ID)
		if !row.Current {
			others++
			a := signedAction("Sign out", "sign-out-session-button", http.MethodPut, apiSessionsRevoke, map[string][]string{"tokenIds": {t.ID}})
			a.Danger, a.Row = true, row.Device+", signed in "+row.SignedIn
			row.Actions = []views.SignedAction{a}
		}
		v.Sessions = append(v.Sessions, row)
	}
	all := signedAction("Sign out everywhere else", "sign-out-others-button", http.MethodPut, apiSessionsRevoke, map[string]bool{"allOthers": true})
	all.Danger = true
	if others == 0 {
		all.DisabledReason = "This is your only session."
	}
	v.SignOutOthers = all
	return s.render(c, http.StatusOK, views.SessionsPage(v))
}

func (s *Server) sessionRow(ctx context.Context, t store.Token, current bool) views.SessionRow {
	row := views.SessionRow{
		TokenID: t.ID, SignedIn: humanTime(t.CreatedAt), SignedInISO: isoTime(t.CreatedAt),
		Ends: humanTime(t.ExpiresAt), EndsISO: isoTime(t.ExpiresAt), Current: current, Device: "Unknown device", Via: "Unknown",
	}
	e, err := s.store.GetSignInByToken(ctx, t.ID)
	if err == nil {
		row.Device, row.Address = browserName(e.UserAgent), e.ClientIP
		row.Via = map[string]string{store.ViaConsole: "Console", store.ViaAPI: "API login token", store.ViaDelegated: "Delegated login token"}[e.Via]
		if cred, err := s.store.GetCredential(ctx, e.CredentialID); err == nil {
			row.Credential = cred.Name
		}
	}
	return row
}

// revokeSessionsRequest names the sessions to end: some (tokenIds), or
// every one but the caller's (allOthers).
type revokeSessionsRequest struct {
	TokenIDs  []string `json:"tokenIds"`
	AllOthers bool     `json:"allOthers"`
}

func (r *revokeSessionsRequest) validate() error {
	if r.AllOthers {
		if len(r.TokenIDs) > 0 {
			return fmt.Errorf("give tokenIds or allOthers, not both")
		}
		return nil
	}
	if len(r.TokenIDs) == 0 || len(r.TokenIDs) > maxRevokedSessions {
		return fmt.Errorf("tokenIds must list 1 to %d sessions", maxRevokedSessions)
	}
	return nil
}

type revokeSessionsResponse struct {
	Revoked int `json:"revoked"`
}

// revokeSessions signs out the listed sessions of the caller: their login
// tokens stop working at once. The caller's own session is refused here
// (Sign out ends it): the body names exactly what the passkey approved.
func (s *Server) revokeSessions(c echo.Context) error {
	var req revokeSessionsRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	caller := callerFrom(c)
	if slices.Contains(req.TokenIDs, caller.Token.ID) {
		return badRequest("tokenIds lists this session: sign out instead", nil)
	}
	ids := req.TokenIDs
	if req.AllOthers {
		var err error
		if ids, err = s.otherSessions(c.Request().Context(), caller); err != nil {
			return err
		}
	}
	n, err := s.store.RevokeTokensSigned(c.Request().Context(), s.signedChange(c), caller.User.ID, ids)
	if err != nil {
		return fmt.Errorf("revoke sessions of %s: %w", caller.User.ID, err)
	}
	return c.JSON(http.StatusOK, revokeSessionsResponse{Revoked: n})
}

// otherSessions are the ids of the caller's active login tokens but its own.
func (s *Server) otherSessions(ctx context.Context, caller Caller) ([]string, error) {
	tokens, err := s.store.ListActiveTokens(ctx, caller.User.ID, store.TokenLogin, s.opts.Now())
	if err != nil {
		return nil, fmt.Errorf("list sessions of %s: %w", caller.User.ID, err)
	}
	ids := make([]string, 0, len(tokens))
	for _, t := range tokens {
		if t.ID != caller.Token.ID {
			ids = append(ids, t.ID)
		}
	}
	return ids, nil
}

// sessionWords names the caller's sessions a revocation ends: "2 other
// sessions (Chrome on Linux, signed in …; …)", the first few by name.
// Tokens that are not the caller's active sessions are left out, as the
// revocation leaves them.
func (in summaryInput) sessionWords() string {
	ids := in.b.TokenIDs
	if in.b.AllOthers {
		ids, _ = in.s.otherSessions(in.ctx, in.caller)
	}
	var names []string
	for _, id := range ids {
		t, err := in.s.store.GetToken(in.ctx, id)
		if err != nil || t.UserID != in.caller.User.ID || t.Kind != store.TokenLogin || t.RevokedAt != nil || !t.ExpiresAt.After(in.s.opts.Now()) {
			continue
		}
		names = append(names, in.s.sessionRow(in.ctx, t, false).Device+", signed in "+humanTime(t.CreatedAt))
	}
	n := len(names)
	if n > 3 {
		names = append(names[:3:3], fmt.Sprintf("and %d more", n-3))
	}
	switch n {
	case 0:
		return "no active session of yours (nothing changes)"
	case 1:
		return "1 other session of yours (" + names[0] + ")"
	}
	return fmt.Sprintf("%d other sessions of yours (%s)", n, strings.Join(names, "; "))
}
