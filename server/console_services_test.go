package server

import (
	"net/http"
	"strings"
	"testing"
)

func TestServicesPage(t *testing.T) {
	h, _ := gatewayHarness(t, nil)
	owner := h.signInConsole("owner")
	bob := h.signInConsole("bob")

	t.Run("it lists every route, with a form where the person holds the operation", func(t *testing.T) {
		r := h.page(owner, pathServices)
		mustStatus(t, r, http.StatusOK)
		body := string(r.Body)
		for _, want := range []string{"/api/orders", "/api/orders/:id", "Orders:Create", "Public: no sign-in needed", `data-form="upstream-request"`,
			`&#34;amount&#34;`, `&#34;currency&#34;`, `&#34;customer&#34;`} {
			if !strings.Contains(body, want) {
				t.Errorf("the services page lacks %q", want)
			}
		}
		if n := strings.Count(body, `data-testid="service-send"`); n != 4 {
			t.Errorf("the owner gets %d send buttons, want one per route (4)", n)
		}
	})
	t.Run("a person without the operations gets no form but the public route's", func(t *testing.T) {
		body := string(h.page(bob, pathServices).Body)
		if n := strings.Count(body, `data-testid="service-send"`); n != 1 {
			t.Errorf("bob gets %d send buttons, want only the public route's", n)
		}
		if !strings.Contains(body, "You do not hold this operation.") {
			t.Error("the refusal is not said")
		}
	})
	t.Run("the menu shows Services, and Permissions offers the declared operations", func(t *testing.T) {
		if !strings.Contains(string(h.page(owner, pathConsole).Body), `data-testid="nav-services"`) {
			t.Error("no Services in the menu")
		}
		perms := string(h.page(owner, pathPermissionsPage).Body)
		for _, op := range []string{"Orders:Create", "Orders:Read", "Orders:Cancel"} {
			if !strings.Contains(perms, `value="`+op+`"`) {
				t.Errorf("Permissions does not offer %s", op)
			}
		}
	})
	t.Run("without upstreams the menu has no Services", func(t *testing.T) {
		plain := newHarness(t)
		u := plain.signInConsole("alice")
		if strings.Contains(string(plain.page(u, pathConsole).Body), `data-testid="nav-services"`) {
			t.Error("Services in the menu of a server without upstreams")
		}
	})
}
