// Command orders is a tiny service behind countersign's gateway: it keeps
// orders in memory and trusts only requests countersign forwarded, checked
// by the guard middleware. A POST /orders reaches it only once a person or
// machine holding Orders:Create has approved that exact order.
//
//	go run ./examples/orders -listen 127.0.0.1:9000 -countersign http://localhost:8080
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"net/http"
	"strconv"
	"sync"
	"time"

	"countersign/guard"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:9000", "address to listen on")
	origin := flag.String("countersign", "http://localhost:8080", "countersign's public origin (the assertions' issuer)")
	audience := flag.String("audience", "orders", "this upstream's name in countersign's configuration")
	jwks := flag.String("jwks", "", "where countersign's keys are (default: <countersign>/.well-known/jwks.json)")
	flag.Parse()
	if *jwks == "" {
		*jwks = *origin + "/.well-known/jwks.json"
	}
	g, err := guard.New(guard.Config{JWKSURL: *jwks, Issuer: *origin, Audience: *audience})
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("orders listening on %s, trusting assertions of %s for %q", *listen, *origin, *audience)
	srv := &http.Server{Addr: *listen, Handler: newService(g), ReadHeaderTimeout: 10 * time.Second}
	log.Fatal(srv.ListenAndServe())
}

// maxOrders bounds what the in-memory book keeps.
const maxOrders = 10_000

// order is what a client asks for; the service adds who asked and who
// approved.
type order struct {
	ID         string  `json:"id"`
	Amount     float64 `json:"amount"`
	Currency   string  `json:"currency"`
	Customer   string  `json:"customer"`
	CreatedBy  string  `json:"createdBy"`
	ApprovedBy string  `json:"approvedBy"`
	Approval   string  `json:"approval"`
}

type book struct {
	mu     sync.Mutex
	orders map[string]order
}

func newService(g *guard.Guard) http.Handler {
	b := &book{orders: map[string]order{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/health", func(w http.ResponseWriter, r *http.Request) {
		reply(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.Handle("POST /api/orders", g.Middleware(http.HandlerFunc(b.create)))
	mux.Handle("GET /api/orders/{id}", g.Middleware(http.HandlerFunc(b.get)))
	return mux
}

func (b *book) create(w http.ResponseWriter, r *http.Request) {
	id, _ := guard.IdentityFrom(r.Context())
	if id.Action == nil {
		reply(w, http.StatusForbidden, map[string]string{"error": "an order needs an approval"})
		return
	}
	var o order
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&o); err != nil || o.Amount <= 0 || o.Currency == "" || o.Customer == "" {
		reply(w, http.StatusBadRequest, map[string]string{"error": "an order is {amount > 0, currency, customer}"})
		return
	}
	o.CreatedBy, o.ApprovedBy, o.Approval = id.Username, id.Action.CredentialID, id.Action.ID
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.orders) >= maxOrders {
		reply(w, http.StatusInsufficientStorage, map[string]string{"error": "the order book is full"})
		return
	}
	o.ID = "o-" + strconv.Itoa(len(b.orders)+1)
	b.orders[o.ID] = o
	reply(w, http.StatusCreated, o)
}

func (b *book) get(w http.ResponseWriter, r *http.Request) {
	b.mu.Lock()
	o, ok := b.orders[r.PathValue("id")]
	b.mu.Unlock()
	if !ok {
		reply(w, http.StatusNotFound, map[string]string{"error": fmt.Sprintf("no order %q", r.PathValue("id"))})
		return
	}
	reply(w, http.StatusOK, o)
}

func reply(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if err := json.NewEncoder(w).Encode(v); err != nil && !errors.Is(err, http.ErrHandlerTimeout) {
		log.Printf("reply: %v", err)
	}
}
