package server

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"countersign/store"
)

// maxAuditRows caps one audit-log answer (spec §4.7).
const maxAuditRows = 100_000

var auditCSVHeader = []string{"Date Performed", "Audit Log ID", "User ID", "Username", "Primary Credential ID", "Action Path", "Summary"}

// listAuditLogs answers the organisation's audit log as CSV: inside a JSON
// string by default (the SDK calls response.json()), raw text/csv when the
// client asks for it.
func (s *Server) listAuditLogs(c echo.Context) error {
	q, err := s.auditQuery(c)
	if err != nil {
		return err
	}
	entries, err := s.store.ListAuditEntries(c.Request().Context(), q)
	if err != nil {
		return fmt.Errorf("list audit entries: %w", err)
	}
	truncated := len(entries) > maxAuditRows
	if truncated {
		entries = entries[:maxAuditRows]
	}
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	_ = w.Write(auditCSVHeader)
	for _, e := range entries {
		_ = w.Write(csvRow(isoTime(e.CreatedAt), e.ID, e.UserID, e.Username, e.CredentialID, e.Path, e.Summary))
	}
	w.Flush()
	if truncated {
		c.Response().Header().Set("X-Dfns-Result-Truncated", "true")
		fmt.Fprintf(&buf, "# TRUNCATED after %d rows: narrow startTime/endTime\n", maxAuditRows)
	}
	if prefersCSV(c.Request().Header.Get(echo.HeaderAccept)) {
		return c.Blob(http.StatusOK, "text/csv; charset=utf-8", buf.Bytes())
	}
	return c.JSON(http.StatusOK, buf.String())
}

// csvRow neutralises cells a spreadsheet would run as a formula (OWASP
// "CSV injection"): a cell starting with =, +, -, @, a tab or a carriage
// return is prefixed with a single quote. Usernames, paths and summaries
// carry names people chose.
func csvRow(cells ...string) []string {
	for i, v := range cells {
		if v != "" && strings.ContainsRune("=+-@\t\r", rune(v[0])) {
			cells[i] = "'" + v
		}
	}
	return cells
}

// prefersCSV: the client named text/csv before (or without) JSON.
func prefersCSV(accept string) bool {
	csvAt := strings.Index(accept, "text/csv")
	jsonAt := strings.Index(accept, "application/json")
	return csvAt >= 0 && (jsonAt < 0 || csvAt < jsonAt)
}

func (s *Server) auditQuery(c echo.Context) (store.AuditQuery, error) {
	now := s.opts.Now().UTC()
	q := store.AuditQuery{OrgID: callerFrom(c).User.OrgID, UserID: c.QueryParam("userId"), Start: now.AddDate(0, 0, -7), End: now.Add(time.Second), Limit: maxAuditRows + 1}
	for name, dst := range map[string]*time.Time{"startTime": &q.Start, "endTime": &q.End} {
		v := c.QueryParam(name)
		if v == "" {
			continue
		}
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return store.AuditQuery{}, badRequest(name+" must be an ISO-8601 time such as 2026-01-02T15:04:05.000Z", err)
		}
		*dst = t.UTC()
	}
	if !q.Start.Before(q.End) {
		return store.AuditQuery{}, badRequest("startTime must be before endTime", nil)
	}
	return q, nil
}

type auditAssertion struct {
	AuthenticatorData *string `json:"authenticatorData"`
	ClientData        string  `json:"clientData"`
	Signature         string  `json:"signature"`
}

type auditCredential struct {
	ID        string          `json:"id"`
	Kind      string          `json:"kind"`
	PublicKey string          `json:"publicKey"`
	Assertion *auditAssertion `json:"assertion"`
}

// auditLog is spec §4.7 AuditLog, plus the request that was executed.
type auditLog struct {
	ID                    string          `json:"id"`
	Action                string          `json:"action"`
	ActionToken           string          `json:"actionToken"`
	UserID                string          `json:"userId"`
	Username              string          `json:"username"`
	DatePerformed         string          `json:"datePerformed"`
	FirstFactorCredential auditCredential `json:"firstFactorCredential"`
	Summary               string          `json:"summary"`
	Method                string          `json:"method"`
	Path                  string          `json:"path"`
	Payload               string          `json:"payload"`
	Upstream              string          `json:"upstream,omitempty"`       // the gateway upstream it went to
	UpstreamStatus        string          `json:"upstreamStatus,omitempty"` // what that upstream answered
}

func newAuditLog(e store.AuditEntry) auditLog {
	a := &auditAssertion{ClientData: b64(e.ClientData), Signature: b64(e.Signature)}
	if len(e.AuthenticatorData) > 0 {
		ad := b64(e.AuthenticatorData)
		a.AuthenticatorData = &ad
	}
	return auditLog{
		ID: e.ID, Action: e.Method + " " + e.Path, ActionToken: e.ActionID, UserID: e.UserID, Username: e.Username,
		DatePerformed: isoTime(e.CreatedAt),
		FirstFactorCredential: auditCredential{
			ID: e.CredentialID, Kind: e.CredentialKind, PublicKey: e.CredentialPublicKey, Assertion: a,
		},
		Summary: e.Summary, Method: e.Method, Path: e.Path, Payload: string(e.Payload),
		Upstream: e.Upstream, UpstreamStatus: e.UpstreamStatus,
	}
}

func (s *Server) getAuditLog(c echo.Context) error {
	e, err := s.store.GetAuditEntry(c.Request().Context(), callerFrom(c).User.OrgID, c.Param("id"))
	if err != nil {
		return fmt.Errorf("get audit entry %s: %w", c.Param("id"), err)
	}
	return c.JSON(http.StatusOK, newAuditLog(e))
}
