//go:build e2e

package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/playwright-community/playwright-go"

	"countersign/gateway"
	"countersign/guard"
)

// orders is a service behind the gateway: it keeps what the guard let
// through, with who sent it and who approved it.
type orders struct {
	mu  sync.Mutex
	got []guard.Identity
}

func (o *orders) start(t *testing.T, origin string) string {
	t.Helper()
	g, err := guard.New(guard.Config{JWKSURL: origin + "/.well-known/jwks.json", Issuer: origin, Audience: "orders"})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(g.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, _ := guard.IdentityFrom(r.Context())
		var order map[string]any
		body, _ := io.ReadAll(r.Body)
		json.Unmarshal(body, &order)
		o.mu.Lock()
		o.got = append(o.got, id)
		o.mu.Unlock()
		order["createdBy"] = id.Username
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		json.NewEncoder(w).Encode(order)
	})))
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestApproveAnUpstreamActionWithAPasskey: in the console's Services page a
// person sends an order to a service behind the gateway; the approval
// dialog shows the sentence the route's summary renders from the exact
// body, the passkey signs it, the service receives it with a verified
// identity and approval, and Activity lists it with the service's answer.
func TestApproveAnUpstreamActionWithAPasskey(t *testing.T) {
	svc := &orders{}
	srv := startServerWith(t, func(origin string) []gateway.Upstream {
		return []gateway.Upstream{{
			Name: "orders", Prefix: "/api/", URL: svc.start(t, origin),
			Routes: []gateway.Route{{
				Method: "POST", Path: "/api/orders", Operation: "Orders:Create",
				Summary: "Create an order of {/amount} {/currency} for {/customer}",
			}},
		}}
	})
	u := newBrowserUser(t, srv, touchID)
	u.register(srv.invite(t, "alice"), "alice")

	u.openConsole("/services", "services")
	for _, vp := range viewports {
		for _, scheme := range schemes {
			if err := u.page.SetViewportSize(vp.width, vp.height); err != nil {
				t.Fatal(err)
			}
			// Reduced motion: the page is not reloaded, and its buttons'
			// 120 ms colour transition would otherwise still run while
			// axe measures contrast (a race, lost on a busy machine).
			if err := u.page.EmulateMedia(playwright.PageEmulateMediaOptions{ColorScheme: scheme, ReducedMotion: playwright.ReducedMotionReduce}); err != nil {
				t.Fatal(err)
			}
			u.openConsole("/services", "services") // loaded afresh: no colour transition under way
			checkAccessible(t, u.page)
			checkLayout(t, u.page)
		}
	}
	route := u.byTestID("service-route")
	if err := route.GetByTestId("service-body").Fill(`{"amount": 12.5, "currency": "EUR", "customer": "ACME"}`); err != nil {
		t.Fatal(err)
	}
	u.clickIn(route, "service-send")
	u.expectApproval("POST", "/api/orders", "Create an order of 12.5 EUR for ACME")
	u.approveShown()
	u.expectDone("Create an order of 12.5 EUR for ACME")
	if err := expect.Locator(route.GetByTestId("service-answer")).ToContainText(`"createdBy": "alice"`); err != nil {
		t.Fatalf("the service's answer: %v", err)
	}
	svc.mu.Lock()
	got := append([]guard.Identity(nil), svc.got...)
	svc.mu.Unlock()
	if len(got) != 1 || got[0].Username != "alice" || got[0].Action == nil || got[0].Action.Summary != "Create an order of 12.5 EUR for ACME" {
		t.Fatalf("the service received %+v", got)
	}

	u.openConsole("/activity?kind=approvals", "activity")
	row := u.row("activity-row", "Create an order of 12.5 EUR for ACME")
	if err := expect.Locator(row.GetByTestId("activity-upstream")).ToHaveText("forwarded to orders, which answered 201"); err != nil {
		t.Fatalf("activity: %v", err)
	}
}
