package server

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"countersign/store"
	"countersign/views"
)

// activityPage shows the audit log, newest first: the organisation's with
// Auth:Logs:Read, otherwise the caller's own entries only.
func (s *Server) activityPage(c echo.Context, caller Caller) error {
	f, err := s.frame(c, caller, "activity")
	if err != nil {
		return err
	}
	ops, err := s.may(c, caller)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	v := views.ActivityView{Frame: f, OwnOnly: !ops["Auth:Logs:Read"], Limit: consoleActivityRows}
	q := store.AuditQuery{OrgID: caller.User.OrgID}
	if v.OwnOnly {
		q.UserID = caller.User.ID
	}
	entries, err := s.recentAudit(ctx, q, consoleActivityRows)
	if err != nil {
		return err
	}
	names := credentialNames{s: s, ctx: ctx, cache: map[string]string{}}
	for _, e := range entries {
		v.Rows = append(v.Rows, views.ActivityRow{
			Time: humanTime(e.CreatedAt), TimeISO: isoTime(e.CreatedAt), User: e.Username,
			Credential: names.of(e.CredentialID), Method: e.Method, Path: e.Path, Summary: e.Summary,
		})
	}
	return s.render(c, http.StatusOK, views.ActivityPage(v))
}

// recentAudit returns the newest n entries of q, newest first.
func (s *Server) recentAudit(ctx context.Context, q store.AuditQuery, n int) ([]store.AuditEntry, error) {
	q.Start, q.End = time.Unix(0, 0).UTC(), s.opts.Now().UTC().Add(time.Second)
	q.Limit, q.NewestFirst = n, true
	entries, err := s.store.ListAuditEntries(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("list audit entries: %w", err)
	}
	return entries, nil
}

// credentialNames names the credentials of audit entries, loading each once.
type credentialNames struct {
	s     *Server
	ctx   context.Context
	cache map[string]string
}

func (n credentialNames) of(id string) string {
	if name, ok := n.cache[id]; ok {
		return name
	}
	name := id
	if cr, err := n.s.store.GetCredential(n.ctx, id); err == nil && cr.Name != "" {
		name = cr.Name
		if cr.TokenID != "" {
			name += " (token key)"
		}
	}
	n.cache[id] = name
	return name
}
