package server

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
)

// sample is one line of the Prometheus text format.
type sample struct {
	name   string
	labels map[string]string
	value  float64
}

// scrape GETs the metrics handler, as Prometheus does, and parses its samples.
func (h *harness) scrape() []sample {
	h.t.Helper()
	rec := httptest.NewRecorder()
	h.metrics.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != http.StatusOK {
		h.t.Fatalf("GET /metrics = %d", rec.Code)
	}
	var out []sample
	sc := bufio.NewScanner(rec.Body)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		series, val, _ := strings.Cut(line, " ")
		v, err := strconv.ParseFloat(val, 64)
		if err != nil {
			h.t.Fatalf("metric line %q: %v", line, err)
		}
		s := sample{name: series, labels: map[string]string{}, value: v}
		if name, rest, ok := strings.Cut(series, "{"); ok {
			s.name = name
			for _, pair := range strings.Split(strings.TrimSuffix(rest, "}"), ",") {
				k, v, _ := strings.Cut(pair, "=")
				s.labels[k] = strings.Trim(v, `"`)
			}
		}
		out = append(out, s)
	}
	return out
}

// value is the sample of name with exactly these labels, or 0 when absent
// (a counter that was never incremented is not exported).
func value(samples []sample, name string, labels ...string) float64 {
	for _, s := range samples {
		if s.name != name || len(s.labels) != len(labels)/2 {
			continue
		}
		match := true
		for i := 0; i+1 < len(labels); i += 2 {
			if s.labels[labels[i]] != labels[i+1] {
				match = false
			}
		}
		if match {
			return s.value
		}
	}
	return 0
}

func TestMetricsCountLoginsActionsAndRefusals(t *testing.T) {
	h := newHarness(t)
	u := h.newActionUser("metrics@example.com") // registers, logs in, adds a key through a signed request

	// A failed login: the right user, a signature of another challenge.
	li := h.loginInit(u.inv.Org.ID, u.inv.User.Username)
	cd, sig := u.first.Sign("not the challenge")
	mustStatus(t, h.do("POST", "/auth/login", keyAssertion(li.ChallengeIdentifier, u.first.CredID, cd, sig)), http.StatusUnauthorized)

	// A signed rename, then its replay, and a request without a user action.
	body := `{"credentialUuid":"` + u.secondUUID + `","name":"renamed"}`
	ua := h.signAction(u.tok, u.first, "PUT", "/auth/credentials/name", body)
	mustStatus(t, h.signedDo(u.tok, ua, "PUT", "/auth/credentials/name", body), http.StatusOK)
	mustStatus(t, h.signedDo(u.tok, ua, "PUT", "/auth/credentials/name", body), http.StatusBadRequest)
	mustStatus(t, h.do("PUT", "/auth/credentials/name", body, "Authorization", "Bearer "+u.tok), http.StatusForbidden)
	// Paths outside the route table, and one with an id in it.
	mustStatus(t, h.do("GET", "/wp-login.php?user=admin", nil), http.StatusNotFound)
	mustStatus(t, h.do("GET", "/auth/users/us-not-there", nil, "Authorization", "Bearer "+u.tok), http.StatusNotFound)

	m := h.scrape()
	for _, c := range []struct {
		what string
		got  float64
		want float64
	}{
		{"registrations", value(m, "countersign_ceremonies_total", "ceremony", "registration", "outcome", "success"), 1},
		{"logins", value(m, "countersign_ceremonies_total", "ceremony", "login", "outcome", "success"), 1},
		{"failed logins", value(m, "countersign_ceremonies_total", "ceremony", "login", "outcome", "authentication_failed"), 1},
		{"action ceremonies", value(m, "countersign_ceremonies_total", "ceremony", "action", "outcome", "success"), 2},
		{"credentials added", value(m, "countersign_ceremonies_total", "ceremony", "credential", "outcome", "success"), 1},
		{"user actions issued", value(m, "countersign_user_actions_issued_total"), 2},
		{"user actions consumed", value(m, "countersign_user_actions_consumed_total"), 2},
		{"replays refused", value(m, "countersign_user_actions_refused_total", "reason", "user_action_used"), 1},
		{"unsigned requests refused", value(m, "countersign_user_actions_refused_total", "reason", "user_action_invalid"), 1},
		{"renames answered 200", value(m, "countersign_http_requests_total", "route", "/auth/credentials/name", "method", "PUT", "status", "200"), 1},
		{"renames answered 400", value(m, "countersign_http_requests_total", "route", "/auth/credentials/name", "method", "PUT", "status", "400"), 1},
		{"logins answered 401", value(m, "countersign_http_requests_total", "route", "/auth/login", "method", "POST", "status", "401"), 1},
		{"unknown paths", value(m, "countersign_http_requests_total", "route", "unmatched", "method", "GET", "status", "404"), 1},
		{"user lookups by pattern", value(m, "countersign_http_requests_total", "route", "/auth/users/:userId", "method", "GET", "status", "404"), 1},
		{"login latencies observed", value(m, "countersign_http_request_duration_seconds_count", "route", "/auth/login", "method", "POST"), 2},
		{"stored challenges consumed", value(m, "countersign_store_operations_total", "op", "ConsumeChallenge", "result", "ok"), 2},          // registration, 1 credential
		{"sealed challenges finished", value(m, "countersign_store_operations_total", "op", "RecordAssertion", "result", "ok"), 3},           // 1 login, 2 actions
		{"sealed challenges burned by a failure", value(m, "countersign_store_operations_total", "op", "SpendChallenge", "result", "ok"), 1}, // the failed login
	} {
		if c.got != c.want {
			t.Errorf("%s: got %v, want %v", c.what, c.got, c.want)
		}
	}
	for _, s := range m {
		for k, v := range s.labels {
			if strings.Contains(v, "wp-login") || strings.Contains(v, "us-not-there") || strings.Contains(v, "?") {
				t.Errorf("label %s=%q of %s comes from a raw path", k, v, s.name)
			}
		}
	}
	if value(m, "go_goroutines") == 0 {
		t.Error("the Go runtime's metrics are missing")
	}
	if value(m, "countersign_store_operation_duration_seconds_count", "op", "GetUser") == 0 {
		t.Error("store latency is not observed")
	}
}

func TestRateLimitRefusalsAreCounted(t *testing.T) {
	h := newHarness(t)
	srv, err := New(context.Background(), h.st, h.cs, h.tokens, Options{Origins: []string{testOrigin}, RateLimit: 1, Now: h.clock,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Metrics: h.metrics})
	if err != nil {
		t.Fatal(err)
	}
	h.srv = srv
	limited := 0
	for i := 0; i < 10; i++ {
		if h.do("POST", "/auth/login/init", map[string]string{"orgId": "or-x", "username": "x"}).Status == http.StatusTooManyRequests {
			limited++
		}
	}
	if limited == 0 {
		t.Fatal("ten requests at once under a limit of 1/s were all served")
	}
	if got := value(h.scrape(), "countersign_rate_limited_total", "route", "/auth/login/init"); got != float64(limited) {
		t.Fatalf("rate_limited_total = %v, want %d", got, limited)
	}
}

func TestMetricsAreNotServedOnThePublicListener(t *testing.T) {
	h := newHarness(t)
	r := h.do("GET", "/metrics", nil)
	if r.Status != http.StatusNotFound || strings.Contains(string(r.Body), "countersign_http_requests_total") {
		t.Fatalf("GET /metrics on the API = %d %s", r.Status, r.Body)
	}
}
