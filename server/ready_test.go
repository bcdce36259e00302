package server

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"testing"
)

// migrationsBehind is a store whose schema lacks migrations, or whose
// database does not answer.
type migrationsBehind struct {
	Store
	pending int
	err     error
}

func (m migrationsBehind) PendingMigrations(ctx context.Context) (int, error) {
	return m.pending, m.err
}

func TestReadiness(t *testing.T) {
	h := newHarness(t)
	mustStatus(t, h.do("GET", "/readyz", nil), http.StatusOK)

	for _, tc := range []struct {
		name  string
		store migrationsBehind
		want  string
	}{
		{"a schema missing migrations is not ready", migrationsBehind{pending: 2}, "not ready: 2 database migrations pending"},
		{"a store that does not answer is not ready", migrationsBehind{err: errors.New("connection refused")}, "not ready: store unavailable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.store.Store = h.st
			srv, err := New(context.Background(), tc.store, h.cs, h.tokens, Options{Origins: []string{testOrigin}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
			if err != nil {
				t.Fatal(err)
			}
			hh := &harness{t: t, srv: srv, st: h.st, now: h.now}
			r := hh.do("GET", "/readyz", nil)
			mustStatus(t, r, http.StatusServiceUnavailable)
			if msg, _ := r.json(t)["message"].(string); msg != tc.want || r.errorCode(t) != "not_ready" {
				t.Fatalf("readyz = %s, want %q", r.Body, tc.want)
			}
			mustStatus(t, hh.do("GET", "/healthz", nil), http.StatusOK) // liveness does not depend on the store
		})
	}

	t.Run("a draining server is not ready, and still live", func(t *testing.T) {
		h.srv.Drain()
		r := h.do("GET", "/readyz", nil)
		mustStatus(t, r, http.StatusServiceUnavailable)
		if msg, _ := r.json(t)["message"].(string); msg != "not ready: shutting down" {
			t.Fatalf("readyz while draining: %s", r.Body)
		}
		mustStatus(t, h.do("GET", "/healthz", nil), http.StatusOK)
	})
}
