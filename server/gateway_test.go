package server

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"countersign/gateway"
	"countersign/guard"
)

// received is what the upstream got.
type received struct {
	Method, Path, RawPath, Query string
	Header                       http.Header
	Body                         string
	Identity                     guard.Identity
	Verified                     bool
}

// upstream records every request that reaches it; behind it, guard
// verifies the assertion.
type upstream struct {
	mu     sync.Mutex
	got    []received
	status int
	// breakOff: the answer announces more than it sends, then the
	// connection closes.
	breakOff bool
	srv      *httptest.Server
}

func (u *upstream) requests() []received {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]received(nil), u.got...)
}

// roundTripper sends the guard's JWKS requests to the harness's router.
type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// gatewayHarness is a harness whose server fronts a recording upstream
// "orders" under /api/.
func gatewayHarness(t testing.TB, edit func(*gateway.Upstream)) (*harness, *upstream) {
	t.Helper()
	h := newHarness(t)
	up := &upstream{status: http.StatusCreated}
	g, err := guard.New(guard.Config{
		JWKSURL: testOrigin + "/.well-known/jwks.json", Issuer: testOrigin, Audience: "orders", Now: h.clock,
		Client: &http.Client{Transport: roundTripper(func(r *http.Request) (*http.Response, error) {
			rec := httptest.NewRecorder()
			h.srv.ServeHTTP(rec, r)
			return rec.Result(), nil
		})},
	})
	if err != nil {
		t.Fatal(err)
	}
	verified := g.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, _ := guard.IdentityFrom(r.Context())
		up.record(r, id, true)
		w.Header().Set("Content-Type", "application/json")
		if up.breakOff {
			w.Header().Set("Content-Length", "1000")
			w.WriteHeader(up.status)
			io.WriteString(w, `{"ok":`)
			w.(http.Flusher).Flush()
			panic(http.ErrAbortHandler) // net/http closes the connection
		}
		w.WriteHeader(up.status)
		io.WriteString(w, `{"ok":true}`)
	}))
	up.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/health" || r.Header.Get("X-Countersign-Assertion") == "" {
			up.record(r, guard.Identity{}, false)
			w.WriteHeader(http.StatusOK)
			io.WriteString(w, `{"status":"unguarded"}`)
			return
		}
		verified.ServeHTTP(w, r)
	}))
	t.Cleanup(up.srv.Close)
	cfg := gateway.Upstream{
		Name: "orders", Prefix: "/api/", URL: up.srv.URL, Timeout: "2s",
		Routes: []gateway.Route{
			{Method: "POST", Path: "/api/orders", Operation: "Orders:Create", Summary: "Create an order of {/amount} {/currency} for {/customer}"},
			{Method: "GET", Path: "/api/orders/:id", Operation: "Orders:Read"},
			{Method: "DELETE", Path: "/api/orders/:id", Operation: "Orders:Cancel"},
			{Method: "GET", Path: "/api/health", Public: true},
		},
	}
	if edit != nil {
		edit(&cfg)
	}
	compiled, err := gateway.Compile([]gateway.Upstream{cfg})
	if err != nil {
		t.Fatal(err)
	}
	h.rebuild(t, Options{Upstreams: compiled})
	return h, up
}

func (u *upstream) record(r *http.Request, id guard.Identity, verified bool) {
	body, _ := io.ReadAll(r.Body)
	u.mu.Lock()
	defer u.mu.Unlock()
	u.got = append(u.got, received{Method: r.Method, Path: r.URL.Path, RawPath: r.URL.EscapedPath(), Query: r.URL.RawQuery,
		Header: r.Header.Clone(), Body: string(body), Identity: id, Verified: verified})
}

const orderBody = `{"amount":12.5,"currency":"EUR","customer":"ACME"}`

func TestGatewayForwardsOnlyWhatWasApproved(t *testing.T) {
	h, up := gatewayHarness(t, func(u *gateway.Upstream) {
		// A second method on the path a DELETE is approved for.
		u.Routes = append(u.Routes, gateway.Route{Method: "PUT", Path: "/api/orders/:id", Operation: "Orders:Cancel"})
	})
	owner := h.newActionUser("owner")

	t.Run("an approved request reaches the upstream once, exactly, with a verified identity", func(t *testing.T) {
		ua := h.signAction(owner.tok, owner.first, "POST", "/api/orders", orderBody)
		r := h.do("POST", "/api/orders", orderBody, "Authorization", "Bearer "+owner.tok, headerUserAction, ua,
			"Cookie", "countersign_session=stolen", "X-Countersign-Assertion", "forged", "X-Forwarded-For", "10.9.9.9")
		mustStatus(t, r, http.StatusCreated)
		got := up.requests()
		if len(got) != 1 {
			t.Fatalf("the upstream got %d requests", len(got))
		}
		g := got[0]
		if !g.Verified || g.Identity.UserID != owner.inv.User.ID || g.Identity.Kind != "user" || g.Identity.Action == nil ||
			g.Identity.Action.ID != ua || g.Identity.Action.Summary != "Create an order of 12.5 EUR for ACME" {
			t.Fatalf("identity = %+v (verified %v)", g.Identity, g.Verified)
		}
		if g.Body != orderBody || g.Method != "POST" || g.RawPath != "/api/orders" {
			t.Fatalf("upstream got %s %s %q", g.Method, g.RawPath, g.Body)
		}
		for _, name := range []string{"Authorization", "Cookie", headerUserAction} {
			if v := g.Header.Get(name); v != "" {
				t.Errorf("the upstream got %s: %s", name, v)
			}
		}
		if xff := g.Header.Get("X-Forwarded-For"); xff != "192.0.2.1" {
			t.Errorf("X-Forwarded-For = %q, want only the peer", xff)
		}
		entries := h.auditEntries(t, owner)
		last := entries[0]
		if last.Upstream != "orders" || last.UpstreamStatus != "201" || last.Summary != "Create an order of 12.5 EUR for ACME" {
			t.Fatalf("audit entry = %+v", last)
		}
		r = h.do("POST", "/api/orders", orderBody, "Authorization", "Bearer "+owner.tok, headerUserAction, ua)
		mustStatus(t, r, http.StatusBadRequest)
		if len(up.requests()) != 1 {
			t.Fatal("a reused approval reached the upstream")
		}
		samples := h.scrape()
		if n := value(samples, "countersign_gateway_upstream_requests_total", "upstream", "orders", "status", "201"); n != 1 {
			t.Errorf("upstream requests counted %v, want 1", n)
		}
		if n := value(samples, "countersign_user_actions_refused_total", "reason", "user_action_used"); n != 1 {
			t.Errorf("refused reused actions counted %v, want 1", n)
		}
	})
	t.Run("refused requests reach nothing", func(t *testing.T) {
		before := len(up.requests())
		// bob holds the orders' operations: what refuses him below is that
		// the approval is the owner's, not a missing permission.
		bob, bobTok, _ := h.member(t, "bob")
		clerks := h.createPermission(t, owner.tok, owner.first, "Clerks", "Orders:Create", "Orders:Read", "Orders:Cancel")
		h.assign(t, owner.tok, owner.first, clerks, bob.User.ID)
		_, carolTok, _ := h.member(t, "carol") // holds nothing
		uaOther := h.signAction(owner.tok, owner.first, "POST", "/api/orders", orderBody)
		uaDelete := h.signAction(owner.tok, owner.first, "DELETE", "/api/orders/o-1", "{}")
		expiring := h.signAction(owner.tok, owner.first, "POST", "/api/orders", orderBody)
		cases := []struct {
			name   string
			method string
			path   string
			body   string
			header []string
			status int
			code   string
		}{
			{"no route", "POST", "/api/refunds", orderBody, []string{"Authorization", "Bearer " + owner.tok}, http.StatusNotFound, "not_found"},
			{"no token", "GET", "/api/orders/o-1", "", nil, http.StatusUnauthorized, "unauthorized"},
			{"a bad token", "GET", "/api/orders/o-1", "", []string{"Authorization", "Bearer nope"}, http.StatusUnauthorized, "unauthorized"},
			{"an operation not held", "GET", "/api/orders/o-1", "", []string{"Authorization", "Bearer " + carolTok}, http.StatusForbidden, "permission_denied"},
			{"no approval", "POST", "/api/orders", orderBody, []string{"Authorization", "Bearer " + owner.tok}, http.StatusForbidden, "user_action_invalid"},
			{"another body", "POST", "/api/orders", `{"amount":1250,"currency":"EUR","customer":"ACME"}`, []string{"Authorization", "Bearer " + owner.tok, headerUserAction, uaOther}, http.StatusForbidden, "user_action_mismatch"},
			{"another path", "DELETE", "/api/orders/o-2", "{}", []string{"Authorization", "Bearer " + owner.tok, headerUserAction, uaDelete}, http.StatusForbidden, "user_action_mismatch"},
			{"another method", "PUT", "/api/orders/o-1", "{}", []string{"Authorization", "Bearer " + owner.tok, headerUserAction, uaDelete}, http.StatusForbidden, "user_action_mismatch"},
			{"another identity", "POST", "/api/orders", orderBody, []string{"Authorization", "Bearer " + bobTok, headerUserAction, uaOther}, http.StatusForbidden, "user_action_mismatch"},
			{"a dot segment", "GET", "/api/orders/..", "", []string{"Authorization", "Bearer " + owner.tok}, http.StatusNotFound, "not_found"},
			{"an encoded dot segment", "GET", "/api/orders/%2e%2e", "", []string{"Authorization", "Bearer " + owner.tok}, http.StatusNotFound, "not_found"},
			{"an encoded slash with a step up", "GET", "/api/orders/..%2F..%2Fauth%2Fusers", "", []string{"Authorization", "Bearer " + owner.tok}, http.StatusNotFound, "not_found"},
			{"a servlet step up", "GET", "/api/orders/..;", "", []string{"Authorization", "Bearer " + owner.tok}, http.StatusNotFound, "not_found"},
			{"a parent segment out of the prefix", "GET", "/api/../auth/users", "", []string{"Authorization", "Bearer " + owner.tok}, http.StatusNotFound, "not_found"},
			{"a doubled slash", "GET", "/api//orders/o-1", "", []string{"Authorization", "Bearer " + owner.tok}, http.StatusNotFound, "not_found"},
			{"an encoded slash", "GET", "/api/orders%2Fo-1", "", []string{"Authorization", "Bearer " + owner.tok}, http.StatusNotFound, "not_found"},
			{"another case", "GET", "/API/orders/o-1", "", []string{"Authorization", "Bearer " + owner.tok}, http.StatusNotFound, "not_found"},
			{"a trailing slash", "POST", "/api/orders/", orderBody, []string{"Authorization", "Bearer " + owner.tok}, http.StatusNotFound, "not_found"},
		}
		for _, tc := range cases {
			var body any
			if tc.body != "" {
				body = tc.body
			}
			r := h.do(tc.method, tc.path, body, tc.header...)
			if r.Status != tc.status || r.errorCode(t) != tc.code {
				t.Errorf("%s: %d %s, want %d %s", tc.name, r.Status, r.Body, tc.status, tc.code)
			}
			if !json.Valid(r.Body) {
				t.Errorf("%s: the answer is not JSON: %s", tc.name, r.Body)
			}
		}
		h.advance(6 * time.Minute)
		mustStatus(t, h.do("POST", "/api/orders", orderBody, "Authorization", "Bearer "+owner.tok, headerUserAction, expiring), http.StatusForbidden)
		if n := len(up.requests()); n != before {
			t.Fatalf("refused requests reached the upstream: %d new", n-before)
		}
	})
	t.Run("a public route needs no token and carries no assertion", func(t *testing.T) {
		r := h.do("GET", "/api/health", nil, "X-Countersign-Assertion", "forged by the client")
		mustStatus(t, r, http.StatusOK)
		got := up.requests()
		if last := got[len(got)-1]; last.Verified || last.Header.Get("X-Countersign-Assertion") != "" {
			t.Fatalf("a public request carried an assertion: %+v", last)
		}
	})
}

// auditEntries lists the caller's organisation's audit entries, newest
// first, with their upstream fields.
func (h *harness) auditEntries(t *testing.T, u actionUser) []auditLogEntry {
	t.Helper()
	entries, err := h.st.ListAuditEntries(t.Context(), auditAll(h, u))
	if err != nil {
		t.Fatal(err)
	}
	out := make([]auditLogEntry, len(entries))
	for i, e := range entries {
		out[len(entries)-1-i] = auditLogEntry{Summary: e.Summary, Upstream: e.Upstream, UpstreamStatus: e.UpstreamStatus}
	}
	return out
}

type auditLogEntry struct{ Summary, Upstream, UpstreamStatus string }

func TestGatewaySpendsTheApprovalBeforeForwarding(t *testing.T) {
	t.Run("an upstream error does not give the approval back", func(t *testing.T) {
		h, up := gatewayHarness(t, nil)
		up.status = http.StatusInternalServerError
		owner := h.newActionUser("owner")
		ua := h.signAction(owner.tok, owner.first, "POST", "/api/orders", orderBody)
		mustStatus(t, h.do("POST", "/api/orders", orderBody, "Authorization", "Bearer "+owner.tok, headerUserAction, ua), http.StatusInternalServerError)
		mustStatus(t, h.do("POST", "/api/orders", orderBody, "Authorization", "Bearer "+owner.tok, headerUserAction, ua), http.StatusBadRequest)
		if len(up.requests()) != 1 || h.auditEntries(t, owner)[0].UpstreamStatus != "500" {
			t.Fatalf("requests %d, audit %+v", len(up.requests()), h.auditEntries(t, owner)[0])
		}
	})
	t.Run("20 concurrent uses of one approval reach the upstream once", func(t *testing.T) {
		h, up := gatewayHarness(t, nil)
		owner := h.newActionUser("owner")
		ua := h.signAction(owner.tok, owner.first, "POST", "/api/orders", orderBody)
		statuses := make([]int, 20)
		var wg sync.WaitGroup
		for i := range statuses {
			wg.Go(func() {
				statuses[i] = h.do("POST", "/api/orders", orderBody, "Authorization", "Bearer "+owner.tok, headerUserAction, ua).Status
			})
		}
		wg.Wait()
		created := 0
		for _, s := range statuses {
			switch s {
			case http.StatusCreated:
				created++
			case http.StatusBadRequest:
			default:
				t.Fatalf("statuses = %v", statuses)
			}
		}
		if created != 1 || len(up.requests()) != 1 {
			t.Fatalf("%d created, %d upstream requests; want 1 and 1", created, len(up.requests()))
		}
	})
	t.Run("an answer that breaks off is still noted in the audit entry", func(t *testing.T) {
		h, up := gatewayHarness(t, nil)
		up.breakOff = true
		owner := h.newActionUser("owner")
		ua := h.signAction(owner.tok, owner.first, "POST", "/api/orders", orderBody)
		req := httptest.NewRequest("POST", "/api/orders", strings.NewReader(orderBody))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+owner.tok)
		req.Header.Set(headerUserAction, ua)
		// As served by an http.Server, where the proxy aborts the handler
		// (it only logs when no server is there).
		req = req.WithContext(context.WithValue(req.Context(), http.ServerContextKey, &http.Server{}))
		var aborted any
		func() {
			defer func() { aborted = recover() }()
			h.srv.ServeHTTP(httptest.NewRecorder(), req)
		}()
		if aborted != http.ErrAbortHandler {
			t.Fatalf("the relay of a broken-off answer ended with %v, want http.ErrAbortHandler (the connection closed)", aborted)
		}
		if got := h.auditEntries(t, owner)[0].UpstreamStatus; got != "201, broken off" {
			t.Fatalf("audit upstream status %q, want %q", got, "201, broken off")
		}
		mustStatus(t, h.do("POST", "/api/orders", orderBody, "Authorization", "Bearer "+owner.tok, headerUserAction, ua), http.StatusBadRequest)
	})
	t.Run("an unreachable upstream answers 502 JSON and the audit says so", func(t *testing.T) {
		h, up := gatewayHarness(t, nil)
		up.srv.Close()
		owner := h.newActionUser("owner")
		ua := h.signAction(owner.tok, owner.first, "POST", "/api/orders", orderBody)
		r := h.do("POST", "/api/orders", orderBody, "Authorization", "Bearer "+owner.tok, headerUserAction, ua)
		mustStatus(t, r, http.StatusBadGateway)
		if r.errorCode(t) != "upstream_unreachable" || h.auditEntries(t, owner)[0].UpstreamStatus != "unreachable" {
			t.Fatalf("%s, audit %+v", r.Body, h.auditEntries(t, owner)[0])
		}
		mustStatus(t, h.do("POST", "/api/orders", orderBody, "Authorization", "Bearer "+owner.tok, headerUserAction, ua), http.StatusBadRequest)
	})
	t.Run("an upstream that does not answer in time gets 504 JSON", func(t *testing.T) {
		release := make(chan struct{})
		h, _ := gatewayHarness(t, nil)
		slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-release }))
		defer slow.Close()
		defer close(release)
		compiled, _ := gateway.Compile([]gateway.Upstream{{Name: "orders", Prefix: "/api/", URL: slow.URL, Timeout: "200ms",
			Routes: []gateway.Route{{Method: "GET", Path: "/api/orders/:id", Operation: "Orders:Read"}}}})
		h.rebuild(t, Options{Upstreams: compiled})
		owner := h.newActionUser("owner")
		r := get(h, owner.tok, "/api/orders/o-1")
		mustStatus(t, r, http.StatusGatewayTimeout)
		if r.errorCode(t) != "upstream_timeout" {
			t.Fatalf("%s", r.Body)
		}
	})
}

func TestGatewayHeaderTricks(t *testing.T) {
	h, up := gatewayHarness(t, nil)
	owner := h.newActionUser("owner")
	srv := httptest.NewServer(h.srv)
	defer srv.Close()
	ua := h.signAction(owner.tok, owner.first, "POST", "/api/orders", orderBody)
	// Raw HTTP: Transfer-Encoding with a Content-Length, a hop-by-hop
	// header named in Connection, a forged forwarding chain and assertion.
	chunk := func(s string) string { return fmt.Sprintf("%x\r\n%s\r\n", len(s), s) }
	raw := "POST /api/orders HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer " + owner.tok + "\r\n" + headerUserAction + ": " + ua + "\r\n" +
		"Content-Type: application/json\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\nConnection: X-Secret\r\nX-Secret: from the client\r\n" +
		"X-Forwarded-For: 10.0.0.1\r\nX-Forwarded-Host: evil.example\r\nX-Countersign-Assertion: forged\r\nX-Countersign-User: us-admin\r\n\r\n" +
		chunk(orderBody) + "0\r\n\r\n"
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	io.WriteString(conn, raw)
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	t.Logf("the gateway answered %d to a body framed both by Transfer-Encoding and Content-Length", res.StatusCode)
	got := up.requests()
	if res.StatusCode != http.StatusCreated && res.StatusCode != http.StatusBadRequest {
		t.Fatalf("status %d", res.StatusCode)
	}
	if res.StatusCode == http.StatusBadRequest {
		if len(got) != 0 {
			t.Fatal("a refused request reached the upstream")
		}
		return // the server refused the ambiguous framing: nothing forwarded
	}
	if len(got) != 1 {
		t.Fatalf("upstream got %d requests", len(got))
	}
	g := got[0]
	if g.Body != orderBody || !g.Verified {
		t.Fatalf("upstream got %q (verified %v)", g.Body, g.Verified)
	}
	for _, name := range []string{"X-Secret", "X-Countersign-User", "Transfer-Encoding"} {
		if v := g.Header.Get(name); v != "" {
			t.Errorf("the upstream got %s: %s", name, v)
		}
	}
	if xff := g.Header.Get("X-Forwarded-For"); xff != "127.0.0.1" {
		t.Errorf("X-Forwarded-For = %q", xff)
	}
	if xfh := g.Header.Get("X-Forwarded-Host"); xfh != "localhost" {
		t.Errorf("X-Forwarded-Host = %q", xfh)
	}
}

func TestGatewayConfigOverlappingCountersignIsRefused(t *testing.T) {
	h := newHarness(t)
	for _, prefix := range []string{"/auth/shop/", "/permissions/x/", "/static/x/", "/session/x/", "/credentials/", "/.well-known/x/"} {
		compiled, err := gateway.Compile([]gateway.Upstream{{Name: "x", Prefix: prefix, URL: "http://127.0.0.1:1",
			Routes: []gateway.Route{{Method: "GET", Path: prefix + "a", Operation: "Shop:Read"}}}})
		if err != nil {
			t.Fatalf("%s: %v", prefix, err)
		}
		_, err = New(context.Background(), h.timed, h.cs, h.tokens, Options{Origins: []string{testOrigin}, Upstreams: compiled, Logger: h.log})
		if err == nil || !strings.Contains(err.Error(), "overlaps") || !strings.Contains(err.Error(), prefix) {
			t.Errorf("prefix %s: New = %v, want an overlap naming it", prefix, err)
		}
	}
}

func TestActionInitRefusesWhatTheGatewayWouldRefuse(t *testing.T) {
	h, _ := gatewayHarness(t, nil)
	owner := h.newActionUser("owner")
	_, bobTok, bobKey := h.member(t, "bob")
	for name, tc := range map[string]struct {
		tok, method, path string
		status            int
	}{
		"a route the upstream does not have": {owner.tok, "POST", "/api/refunds", http.StatusNotFound},
		"a read, which is never signed":      {owner.tok, "GET", "/api/orders/o-1", http.StatusNotFound},
		"an operation the caller lacks":      {bobTok, "POST", "/api/orders", http.StatusForbidden},
		"a dot segment":                      {owner.tok, "DELETE", "/api/orders/..", http.StatusNotFound},
		"an encoded slash with a step up":    {owner.tok, "DELETE", "/api/orders/o-1%2F..%2Fo-2", http.StatusNotFound},
		"a servlet step up":                  {owner.tok, "DELETE", "/api/orders/..;", http.StatusNotFound},
	} {
		key := owner.first
		if tc.tok == bobTok {
			key = bobKey
		}
		_, r := h.trySign(tc.tok, key, tc.method, tc.path, orderBody)
		if r.Status != tc.status {
			t.Errorf("%s: init answered %d, want %d: %s", name, r.Status, tc.status, r.Body)
		}
	}
	r := h.do("POST", "/auth/action/init", map[string]string{"userActionHttpMethod": "POST", "userActionHttpPath": "/api/orders", "userActionPayload": orderBody},
		"Authorization", "Bearer "+owner.tok)
	mustStatus(t, r, http.StatusOK)
	if s := r.json(t)["summary"]; s != "Create an order of 12.5 EUR for ACME" {
		t.Fatalf("summary = %v", s)
	}
}

func TestDeclaredOperationsAreGrantable(t *testing.T) {
	h, up := gatewayHarness(t, nil)
	owner := h.newActionUser("owner")
	bob, bobTok, bobKey := h.member(t, "bob")
	makers := h.createPermission(t, owner.tok, owner.first, "order makers", "Orders:Create")
	h.assign(t, owner.tok, owner.first, makers, bob.User.ID)
	ua := h.signAction(bobTok, bobKey, "POST", "/api/orders", orderBody)
	mustStatus(t, h.do("POST", "/api/orders", orderBody, "Authorization", "Bearer "+bobTok, headerUserAction, ua), http.StatusCreated)
	mustStatus(t, get(h, bobTok, "/api/orders/o-1"), http.StatusForbidden)
	if len(up.requests()) != 1 {
		t.Fatalf("upstream got %d", len(up.requests()))
	}
	r := h.signedJSON(t, owner.tok, owner.first, "POST", "/permissions", map[string]any{"name": "typo", "operations": []string{"Orders:Creat"}})
	mustStatus(t, r, http.StatusBadRequest)
}

func TestGatewayStripsThePrefixUnderTheUpstreamsOwnPath(t *testing.T) {
	h, up := gatewayHarness(t, func(u *gateway.Upstream) { u.URL += "/base/"; u.StripPrefix = true })
	owner := h.newActionUser("owner")
	ua := h.signAction(owner.tok, owner.first, "POST", "/api/orders", orderBody)
	mustStatus(t, h.do("POST", "/api/orders?dry=1", orderBody, "Authorization", "Bearer "+owner.tok, headerUserAction, ua), http.StatusCreated)
	got := up.requests()
	if len(got) != 1 || got[0].RawPath != "/base/orders" || got[0].Query != "dry=1" || !got[0].Verified {
		t.Fatalf("the upstream got %+v", got)
	}
}

// A signed body must travel in its sealed challenge: one that would not
// fit is refused at /auth/action/init, before anyone is asked to sign,
// rather than after the signature; one that fits goes through.
func TestGatewayRefusesBeforeTheSignatureABodyTooLargeToSign(t *testing.T) {
	h, up := gatewayHarness(t, nil) // max_body: the default 1 MiB
	owner := h.newActionUser("owner")
	fits := `{"amount":1,"currency":"EUR","customer":"` + strings.Repeat("a", 100<<10) + `"}`
	ua := h.signAction(owner.tok, owner.first, "POST", "/api/orders", fits)
	mustStatus(t, h.signedDo(owner.tok, ua, "POST", "/api/orders", fits), http.StatusCreated)
	for _, big := range []string{
		`{"amount":1,"currency":"EUR","customer":"` + strings.Repeat("a", 300<<10) + `"}`, // under max_body, over what seals
		`{"amount":1,"currency":"EUR","customer":"` + strings.Repeat("<", 60<<10) + `"}`,  // small, but every byte escaped
	} {
		ua, r := h.trySign(owner.tok, owner.first, "POST", "/api/orders", big)
		if ua != "" || r.Status != http.StatusRequestEntityTooLarge || r.errorCode(t) != "body_too_large" {
			t.Fatalf("a %d-byte body: init answered %d %s, want 413 body_too_large", len(big), r.Status, r.Body)
		}
	}
	if n := len(up.requests()); n != 1 {
		t.Fatalf("the upstream got %d requests, want the one that fits", n)
	}
}
