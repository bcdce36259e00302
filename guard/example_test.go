package guard_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"countersign/guard"
)

// A service behind countersign's gateway guards its routes with the
// middleware; the handler reads who sent the request, and who approved it.
func Example() {
	g, err := guard.New(guard.Config{
		JWKSURL:  "https://auth.example.com/.well-known/jwks.json",
		Issuer:   "https://auth.example.com",
		Audience: "orders", // the upstream's name in countersign's configuration
	})
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	mux.Handle("POST /orders", g.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, _ := guard.IdentityFrom(r.Context())
		fmt.Fprintf(w, "order placed by %s, approved with %s\n", id.Username, id.Action.CredentialID)
	})))

	// A request that did not come through the gateway has no assertion.
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest("POST", "/orders", strings.NewReader(`{"amount":1}`)))
	fmt.Println(rec.Code)
	// Output: 401
}
