package server

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"countersign/store"
	"countersign/views"
)

const (
	// pathActivityExport answers the filtered log as CSV or JSON.
	pathActivityExport = "/activity/export"
	activityPageSize   = 50
	// maxActivityExport caps one export: narrow the dates for more.
	maxActivityExport = 10_000
)

// Kinds of Activity entries, as the kind filter names them.
const (
	kindApproval      = "approvals"
	kindSignIn        = "sign-ins"
	kindFailedSignIn  = "failed"
	activityDateInput = "2006-01-02"
)

// activityFilter is what the Activity page shows: whose entries, which
// kind, between which days (in the person's time zone), older than what.
type activityFilter struct {
	Person   string
	Kind     string
	From, To string // YYYY-MM-DD as typed
	TZ       int    // minutes east of UTC of the person's browser
	Before   time.Time
	start    time.Time
	end      time.Time
}

// activityFilterOf reads the filter from the query; bad values are
// ignored, never an error, since they come from a form or a bookmark.
func (s *Server) activityFilterOf(c echo.Context, caller Caller, orgWide bool) activityFilter {
	q := c.Request().URL.Query()
	f := activityFilter{Person: q.Get("person"), Kind: q.Get("kind"), From: q.Get("from"), To: q.Get("to")}
	if tz, err := strconv.Atoi(q.Get("tz")); err == nil && tz >= -14*60 && tz <= 14*60 {
		f.TZ = tz
	}
	if !orgWide || !strings.HasPrefix(f.Person, "us-") {
		f.Person = ""
	}
	if !orgWide {
		f.Person = caller.User.ID
	}
	if !slices.Contains([]string{kindApproval, kindSignIn, kindFailedSignIn}, f.Kind) {
		f.Kind = ""
	}
	zone := time.FixedZone("browser", f.TZ*60)
	f.start, f.end = time.Unix(0, 0).UTC(), s.opts.Now().UTC().Add(time.Second)
	if d, err := time.ParseInLocation(activityDateInput, f.From, zone); err == nil {
		f.start = d.UTC()
	} else {
		f.From = ""
	}
	if d, err := time.ParseInLocation(activityDateInput, f.To, zone); err == nil {
		f.end = d.AddDate(0, 0, 1).UTC()
	} else {
		f.To = ""
	}
	if ms, err := strconv.ParseInt(q.Get("before"), 10, 64); err == nil && ms > 0 {
		f.Before = time.UnixMilli(ms).UTC()
		if f.Before.Before(f.end) {
			f.end = f.Before
		}
	}
	return f
}

// query is the filter as URL parameters, with before when set.
func (f activityFilter) query(before time.Time) url.Values {
	v := url.Values{}
	for k, val := range map[string]string{"person": f.Person, "kind": f.Kind, "from": f.From, "to": f.To} {
		if val != "" {
			v.Set(k, val)
		}
	}
	if f.TZ != 0 {
		v.Set("tz", strconv.Itoa(f.TZ))
	}
	if !before.IsZero() {
		v.Set("before", strconv.FormatInt(before.UnixMilli(), 10))
	}
	return v
}

// activityItem is an approval or a sign-in, in one timeline.
type activityItem struct {
	at     time.Time
	id     string
	audit  *store.AuditEntry
	signIn *store.SignInEvent
}

// activityItems returns up to n entries the filter selects, newest first.
func (s *Server) activityItems(ctx context.Context, orgID string, f activityFilter, n int) ([]activityItem, error) {
	var items []activityItem
	if f.Kind == "" || f.Kind == kindApproval {
		entries, err := s.store.ListAuditEntries(ctx, store.AuditQuery{OrgID: orgID, UserID: f.Person, Start: f.start, End: f.end, Limit: n, NewestFirst: true})
		if err != nil {
			return nil, fmt.Errorf("list audit entries: %w", err)
		}
		for i := range entries {
			items = append(items, activityItem{at: entries[i].CreatedAt, id: entries[i].ID, audit: &entries[i]})
		}
	}
	if f.Kind != kindApproval {
		q := store.SignInQuery{OrgID: orgID, UserID: f.Person, Start: f.start, End: f.end, Limit: n}
		switch f.Kind {
		case kindSignIn:
			q.Outcome = store.SignInSucceeded
		case kindFailedSignIn:
			q.Outcome = store.SignInFailed
		}
		events, err := s.store.ListSignInEvents(ctx, q)
		if err != nil {
			return nil, fmt.Errorf("list sign-ins: %w", err)
		}
		for i := range events {
			items = append(items, activityItem{at: events[i].CreatedAt, id: events[i].ID, signIn: &events[i]})
		}
	}
	slices.SortFunc(items, func(a, b activityItem) int {
		if c := b.at.Compare(a.at); c != 0 {
			return c
		}
		return strings.Compare(b.id, a.id)
	})
	if len(items) > n {
		items = items[:n]
	}
	return items, nil
}

// pageOfItems cuts a page off items (newest first, at most size+1 long)
// and returns the cursor of the next page, zero when there is none. A page
// never ends inside a run of entries of the same millisecond, so the next
// page, which starts before the cursor, misses none of them.
func pageOfItems(items []activityItem, size int) ([]activityItem, time.Time) {
	if len(items) <= size {
		return items, time.Time{}
	}
	k := size
	for k > 0 && items[k-1].at.Equal(items[k].at) {
		k--
	}
	if k == 0 {
		k = size // a whole page of one millisecond: rare, and the rest of it is dropped
	}
	return items[:k], items[k].at.Add(time.Millisecond)
}

// activityPage is the security log: approvals, sign-ins and refused
// sign-ins, newest first, filtered and paged; the organisation's with
// Auth:Logs:Read, otherwise the caller's own.
func (s *Server) activityPage(c echo.Context, caller Caller) error {
	fr, err := s.frame(c, caller, "activity")
	if err != nil {
		return err
	}
	ops, err := s.may(c, caller)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	orgWide := ops["Auth:Logs:Read"]
	f := s.activityFilterOf(c, caller, orgWide)
	items, err := s.activityItems(ctx, caller.User.OrgID, f, activityPageSize+1)
	if err != nil {
		return err
	}
	shown, next := pageOfItems(items, activityPageSize)
	if err := s.loadSignatures(ctx, caller.User.OrgID, shown); err != nil {
		return err
	}
	v := views.ActivityView{
		Frame: fr, OwnOnly: !orgWide, Filter: views.ActivityFilter{Person: f.Person, Kind: f.Kind, From: f.From, To: f.To},
		ExportCSV:  pathActivityExport + "?" + withFormat(f.query(time.Time{}), "csv"),
		ExportJSON: pathActivityExport + "?" + withFormat(f.query(time.Time{}), "json"),
	}
	if !next.IsZero() {
		v.OlderURL = pathActivity + "?" + f.query(next).Encode()
	}
	if !f.Before.IsZero() {
		v.NewestURL = pathActivity + "?" + f.query(time.Time{}).Encode()
	}
	if orgWide {
		if v.People, err = s.peopleOptions(ctx, caller.User.OrgID); err != nil {
			return err
		}
	}
	names := credentialNames{s: s, ctx: ctx, cache: map[string]string{}}
	for _, it := range shown {
		v.Rows = append(v.Rows, activityRow(it, names))
	}
	return s.render(c, http.StatusOK, views.ActivityPage(v))
}

// loadSignatures reads the whole audit entry of each approval among items:
// a listing leaves out the signed body and the assertion (they can be
// large), and the page and the export show them.
func (s *Server) loadSignatures(ctx context.Context, orgID string, items []activityItem) error {
	for i, it := range items {
		if it.audit == nil {
			continue
		}
		full, err := s.store.GetAuditEntry(ctx, orgID, it.audit.ID)
		if err != nil {
			return fmt.Errorf("load audit entry %s: %w", it.audit.ID, err)
		}
		items[i].audit = &full
	}
	return nil
}

// spreadsheetSafe keeps a cell a spreadsheet would run as a formula (names
// and user agents are anyone's to choose) as text, by a leading quote.
func spreadsheetSafe(v string) string {
	if v != "" && strings.ContainsRune("=+-@\t\r", rune(v[0])) {
		return "'" + v
	}
	return v
}

func withFormat(q url.Values, format string) string {
	q.Set("format", format)
	return q.Encode()
}

// peopleOptions are the organisation's people, for the person filter.
func (s *Server) peopleOptions(ctx context.Context, orgID string) ([]views.Option, error) {
	users, err := s.store.ListUsers(ctx, store.UserQuery{OrgID: orgID, IncludeArchived: true, Limit: consoleListLimit})
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	out := make([]views.Option, 0, len(users))
	for _, u := range users {
		label := u.Username
		if u.IsServiceAccount {
			label = u.Name + " (service account)"
		}
		out = append(out, views.Option{Value: u.ID, Label: label})
	}
	return out, nil
}

func activityRow(it activityItem, names credentialNames) views.ActivityRow {
	r := views.ActivityRow{ID: it.id, Time: humanTime(it.at), TimeISO: isoTime(it.at)}
	if a := it.audit; a != nil {
		r.Kind, r.KindLabel = "approval", "Approval"
		r.User, r.Credential, r.Method, r.Path, r.Summary = a.Username, names.of(a.CredentialID), a.Method, a.Path, a.Summary
		r.Upstream = upstreamWords(a.Upstream, a.UpstreamStatus)
		r.Signature = &views.ActivitySignature{
			AuditID: a.ID, CredentialID: a.CredentialID, CredentialKind: a.CredentialKind, PublicKey: a.CredentialPublicKey,
			Payload: prettyJSON(a.Payload), ClientData: prettyJSON(a.ClientData),
			AuthenticatorData: b64(a.AuthenticatorData), Signature: b64(a.Signature),
		}
		return r
	}
	e := it.signIn
	r.User, r.Credential = e.Username, names.of(e.CredentialID)
	where := fmt.Sprintf("from %s (%s)", orDash(e.ClientIP), browserName(e.UserAgent))
	via := map[string]string{store.ViaConsole: "the console", store.ViaAPI: "the API"}[e.Via]
	if e.Outcome == store.SignInSucceeded && e.Via == store.ViaDelegated {
		r.Kind, r.KindLabel, r.Credential = "sign-in", "Sign-in", "-"
		r.Summary = fmt.Sprintf("Signed in by delegation %s: a login token asked for by a service account, whose signed request is its own entry", where)
		return r
	}
	if e.Outcome == store.SignInSucceeded {
		r.Kind, r.KindLabel = "sign-in", "Sign-in"
		r.Summary = fmt.Sprintf("Signed in to %s with %q %s", via, r.Credential, where)
		return r
	}
	r.Kind, r.KindLabel = "failed", "Refused sign-in"
	r.Summary = fmt.Sprintf("A sign-in to %s with %q was refused %s: %s", via, r.Credential, where, lowerFirst(e.Reason))
	return r
}

// upstreamWords says where the gateway forwarded a request and what came
// back, "" for countersign's own routes.
func upstreamWords(upstream, status string) string {
	switch {
	case upstream == "":
		return ""
	case status == "":
		return "forwarded to " + upstream + ", no answer yet"
	case strings.Trim(status, "0123456789") == "":
		return "forwarded to " + upstream + ", which answered " + status
	case strings.HasSuffix(status, upstreamBrokenOff):
		return "forwarded to " + upstream + ", which answered " + strings.TrimSuffix(status, upstreamBrokenOff) + " but broke off midway"
	}
	return "forwarded to " + upstream + ": " + status
}

func lowerFirst(s string) string {
	if s == "" {
		return "no reason given"
	}
	return strings.ToLower(s[:1]) + s[1:]
}

func orDash(s string) string {
	if s == "" {
		return "an unknown address"
	}
	return s
}

// prettyJSON indents JSON for reading; anything else is shown as text.
func prettyJSON(b []byte) string {
	var out bytes.Buffer
	if len(b) == 0 {
		return "(none)"
	}
	if json.Indent(&out, b, "", "  ") != nil {
		return string(b)
	}
	return out.String()
}

// activityExport answers what the Activity page's filter selects, up to
// maxActivityExport entries newest first, as a CSV or JSON file.
func (s *Server) activityExport(c echo.Context, caller Caller) error {
	ops, err := s.may(c, caller)
	if err != nil {
		return err
	}
	f := s.activityFilterOf(c, caller, ops["Auth:Logs:Read"])
	items, err := s.activityItems(c.Request().Context(), caller.User.OrgID, f, maxActivityExport+1)
	if err != nil {
		return err
	}
	truncated := len(items) > maxActivityExport
	if truncated {
		items = items[:maxActivityExport]
		c.Response().Header().Set("X-Dfns-Result-Truncated", "true")
	}
	if err := s.loadSignatures(c.Request().Context(), caller.User.OrgID, items); err != nil {
		return err
	}
	names := credentialNames{s: s, ctx: c.Request().Context(), cache: map[string]string{}}
	records := make([]exportRecord, 0, len(items))
	for _, it := range items {
		records = append(records, newExportRecord(it, names))
	}
	stamp := s.opts.Now().UTC().Format("20060102-150405")
	c.Response().Header().Set("Cache-Control", "no-store")
	if c.QueryParam("format") == "json" {
		c.Response().Header().Set(echo.HeaderContentDisposition, `attachment; filename="countersign-activity-`+stamp+`.json"`)
		return c.JSON(http.StatusOK, exportFile{Truncated: truncated, Entries: records})
	}
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	_ = w.Write([]string{"Time", "Kind", "Entry ID", "User ID", "Username", "Credential ID", "Credential", "Method", "Path", "Summary", "Client address", "User agent"})
	for _, r := range records {
		row := []string{r.Time, r.Kind, r.ID, r.UserID, r.Username, r.CredentialID, r.Credential, r.Method, r.Path, r.Summary, r.ClientIP, r.UserAgent}
		for i := range row {
			row[i] = spreadsheetSafe(row[i])
		}
		_ = w.Write(row)
	}
	w.Flush()
	if truncated {
		fmt.Fprintf(&buf, "# TRUNCATED after %d entries: narrow the dates\n", maxActivityExport)
	}
	c.Response().Header().Set(echo.HeaderContentDisposition, `attachment; filename="countersign-activity-`+stamp+`.csv"`)
	return c.Blob(http.StatusOK, "text/csv; charset=utf-8", buf.Bytes())
}

type exportFile struct {
	Truncated bool           `json:"truncated"`
	Entries   []exportRecord `json:"entries"`
}

// exportRecord is one exported entry; an approval carries its signature,
// so the export can be checked without countersign.
type exportRecord struct {
	Time              string `json:"time"`
	Kind              string `json:"kind"`
	ID                string `json:"id"`
	UserID            string `json:"userId"`
	Username          string `json:"username"`
	CredentialID      string `json:"credentialId"`
	Credential        string `json:"credential"`
	Method            string `json:"method,omitempty"`
	Path              string `json:"path,omitempty"`
	Summary           string `json:"summary"`
	Upstream          string `json:"upstream,omitempty"`
	UpstreamStatus    string `json:"upstreamStatus,omitempty"`
	ClientIP          string `json:"clientAddress,omitempty"`
	UserAgent         string `json:"userAgent,omitempty"`
	Payload           string `json:"payload,omitempty"`
	PublicKey         string `json:"publicKey,omitempty"`
	ClientData        string `json:"clientData,omitempty"`
	AuthenticatorData string `json:"authenticatorData,omitempty"`
	Signature         string `json:"signature,omitempty"`
}

func newExportRecord(it activityItem, names credentialNames) exportRecord {
	row := activityRow(it, names)
	r := exportRecord{Time: row.TimeISO, Kind: row.Kind, ID: it.id, Username: row.User, Credential: row.Credential, Method: row.Method, Path: row.Path, Summary: row.Summary}
	if a := it.audit; a != nil {
		r.UserID, r.CredentialID, r.Payload, r.PublicKey = a.UserID, a.CredentialID, string(a.Payload), a.CredentialPublicKey
		r.Upstream, r.UpstreamStatus = a.Upstream, a.UpstreamStatus
		r.ClientData, r.AuthenticatorData, r.Signature = b64(a.ClientData), b64(a.AuthenticatorData), b64(a.Signature)
		return r
	}
	e := it.signIn
	r.UserID, r.CredentialID, r.ClientIP, r.UserAgent = e.UserID, e.CredentialID, e.ClientIP, e.UserAgent
	return r
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
