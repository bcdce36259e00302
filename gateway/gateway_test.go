package gateway

import (
	"encoding/json"
	"strings"
	"testing"
)

func orders() Upstream {
	return Upstream{
		Name: "orders", Prefix: "/api/", URL: "http://127.0.0.1:9000",
		Routes: []Route{
			{Method: "POST", Path: "/api/orders", Operation: "Orders:Create", Summary: "Create an order of {/amount} {/currency} for {/customer}"},
			{Method: "GET", Path: "/api/orders/:id", Operation: "Orders:Read"},
			{Method: "DELETE", Path: "/api/orders/:id", Operation: "Orders:Cancel"},
			{Method: "GET", Path: "/api/files/*", Operation: "Orders:Read"},
			{Method: "GET", Path: "/api/health", Public: true},
		},
	}
}

func mustCompile(t *testing.T, ups ...Upstream) []Compiled {
	t.Helper()
	c, err := Compile(ups)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestCompileReportsEveryProblemAtOnce(t *testing.T) {
	neg := -1.0
	bad := []Upstream{{
		Name: "Orders!", Prefix: "api", URL: "ftp://x", Timeout: "soon", MaxBody: "huge", RateLimit: &neg,
		Routes: []Route{
			{Method: "post", Path: "/api/x", Operation: "Orders:Create"},
			{Method: "POST", Path: "/other/x", Operation: "Orders:Create"},
			{Method: "POST", Path: "/api/x", Operation: "Auth:Users:Delete"},
			{Method: "POST", Path: "/api/x", Operation: "orders"},
			{Method: "POST", Path: "/api/x", Public: true},
			{Method: "GET", Path: "/api/../x", Operation: "Orders:Read"},
			{Method: "POST", Path: "/api/y", Operation: "Orders:Create", Summary: "Pay {amount}"},
			{Method: "POST", Path: "/api/z", Operation: "Orders:Create", Summary: "Pay {/amount"},
		},
	}, {Name: "b", Prefix: "/shop/", URL: "http://h"}}
	_, err := Compile(bad)
	if err == nil {
		t.Fatal("a bad configuration compiled")
	}
	for _, want := range []string{
		`name "Orders!"`, `prefix "api"`, `url "ftp://x"`, `timeout "soon"`, `max_body "huge"`, "rate_limit",
		`method "post"`, `not under the upstream's prefix`, "Dfns's own namespace", `operation "orders"`,
		"only GET and HEAD routes may be public", `segment ".."`, "{amount} is not a JSON Pointer", "a { without its }",
		"upstreams[1]: routes: an upstream without routes serves nothing",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the error does not report %q:\n%v", want, err)
		}
	}
}

func TestPrefixesMayNotOverlap(t *testing.T) {
	a, b := orders(), orders()
	b.Name, b.Prefix = "deep", "/api/v2/"
	for i := range b.Routes {
		b.Routes[i].Path = strings.Replace(b.Routes[i].Path, "/api/", "/api/v2/", 1)
	}
	if _, err := Compile([]Upstream{a, b}); err == nil || !strings.Contains(err.Error(), "overlaps") {
		t.Fatalf("overlapping prefixes: %v", err)
	}
	b.Prefix, b.Name = "/apiv2/", "other"
	for i := range b.Routes {
		b.Routes[i].Path = strings.Replace(b.Routes[i].Path, "/api/v2/", "/apiv2/", 1)
	}
	mustCompile(t, a, b) // /api/ and /apiv2/ share letters, not a prefix
	b.Name = "orders"
	if _, err := Compile([]Upstream{a, b}); err == nil || !strings.Contains(err.Error(), "also upstreams[0]") {
		t.Fatalf("a repeated name: %v", err)
	}
}

func TestMatchIsLiteral(t *testing.T) {
	u := &mustCompile(t, orders())[0]
	for _, tc := range []struct {
		method, path string
		want         string // the route's pattern, "" for no match
	}{
		{"POST", "/api/orders", "/api/orders"},
		{"GET", "/api/orders/o-1", "/api/orders/:id"},
		{"DELETE", "/api/orders/o-1", "/api/orders/:id"},
		{"GET", "/api/files/a/b/c", "/api/files/*"},
		{"GET", "/api/health", "/api/health"},
		{"PUT", "/api/orders/o-1", ""},
		{"POST", "/api/orders/", ""},
		{"POST", "/api/Orders", ""},
		{"GET", "/api/orders/", ""},
		{"GET", "/api/orders/o-1/x", ""},
		{"GET", "/api/orders%2Fo-1", ""},
		{"GET", "/api/orders/..", ""},
		{"GET", "/api/orders/%2e%2E", ""},
		{"GET", "/api/files/../../auth/users", ""},
		{"GET", "/api/files/%2E/x", ""},
		{"GET", "/api//orders/o-1", ""},
		// Segments an upstream could decode or clean into another route:
		// refused, never forwarded.
		{"GET", "/api/orders/o-1%2F..%2F..", ""},
		{"GET", "/api/orders/..%2Fadmin", ""},
		{"GET", "/api/orders/..%2f", ""},
		{"GET", "/api/orders/..;", ""},
		{"GET", "/api/orders/o-1;jsessionid=x", ""},
		{"GET", "/api/orders/..%5Cadmin", ""},
		{"GET", "/api/orders/a\\b", ""},
		{"GET", "/api/orders/%252e%252e", ""},
		{"GET", "/api/orders/o-1%00", ""},
		{"GET", "/api/orders/o-1%0a", ""},
		{"GET", "/api/orders/%zz", ""},
		{"GET", "/api/files/a/..%2F../b", ""},
		{"GET", "/api/orders/o%2D1", "/api/orders/:id"}, // plain once decoded: forwarded as sent
		{"GET", "/api/orders/caf%C3%A9", "/api/orders/:id"},
	} {
		r, ok := u.Match(tc.method, tc.path)
		got := ""
		if ok {
			got = r.Pattern
		}
		if got != tc.want {
			t.Errorf("%s %s matched %q, want %q", tc.method, tc.path, got, tc.want)
		}
	}
	if u.Forwarded("/api/orders") != "/api/orders" {
		t.Error("a path was changed without strip_prefix")
	}
	u.StripPrefix = true
	if got := u.Forwarded("/api/orders/o%2F1"); got != "/orders/o%2F1" {
		t.Errorf("stripped path = %q", got)
	}
	based := mustCompile(t, func() Upstream {
		o := orders()
		o.URL = "http://127.0.0.1:9000/shop/v1/"
		o.StripPrefix = true
		return o
	}())[0]
	if got := based.Forwarded("/api/orders/o-1"); got != "/shop/v1/orders/o-1" {
		t.Errorf("path under the url's own path = %q", got)
	}
}

func TestFindUpstream(t *testing.T) {
	ups := mustCompile(t, orders())
	for path, want := range map[string]bool{"/api/orders": true, "/api/": true, "/api": false, "/API/orders": false, "/apix/orders": false, "/auth/users": false} {
		if _, ok := Find(ups, path); ok != want {
			t.Errorf("Find(%q) = %v, want %v", path, ok, want)
		}
	}
}

func TestSummary(t *testing.T) {
	u := &mustCompile(t, orders())[0]
	post, _ := u.Match("POST", "/api/orders")
	body := func(s string) any {
		var v any
		dec := json.NewDecoder(strings.NewReader(s))
		dec.UseNumber()
		if err := dec.Decode(&v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	for in, want := range map[string]string{
		`{"amount":12.50,"currency":"EUR","customer":"ACME"}`:                         "Create an order of 12.50 EUR for ACME",
		`{"amount":1,"currency":"EUR"}`:                                               "Create an order of 1 EUR for (none)",
		`{"amount":"<b>9</b>","currency":"EUR\nX","customer":{"a":[1]}}`:              `Create an order of <b>9</b> EUR X for {"a":[1]}`,
		`{"amount":1,"currency":"EUR","customer":"` + strings.Repeat("x", 200) + `"}`: "Create an order of 1 EUR for " + strings.Repeat("x", 79) + "…",
		// A right-to-left override would show "EMCA" as "ACME" and the
		// rest reversed; C1 controls and line separators break the line.
		`{"amount":1,"currency":"EUR\u202e","customer":"\u2066EMCA\u2069\u0085\u2028x"}`: "Create an order of 1 EUR  for  EMCA   x",
	} {
		if got := u.Summary(post, "POST", "/api/orders", body(in)); got != want {
			t.Errorf("summary of %s = %q, want %q", in, got, want)
		}
	}
	get, _ := u.Match("GET", "/api/orders/o-1")
	if got := u.Summary(get, "GET", "/api/orders/o-1", nil); got != "GET /api/orders/o-1 on orders" {
		t.Errorf("default summary = %q", got)
	}
	pieces, err := parseSummary("a {/x~1y/0} b {/t~0}")
	if err != nil || pieces[1].pointer[0] != "x/y" || pieces[1].pointer[1] != "0" || pieces[3].pointer[0] != "t~" {
		t.Fatalf("pointer escapes: %+v, %v", pieces, err)
	}
	if got := render(lookup(body(`{"x/y":["first"]}`), pieces[1].pointer)); got != "first" {
		t.Fatalf("lookup = %q", got)
	}
}
