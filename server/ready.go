package server

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"

	"countersign/store"
)

// Drain turns /readyz unready: called as shutdown begins, so a load
// balancer stops sending new requests while those in flight finish.
func (s *Server) Drain() { s.draining.Store(true) }

// readyz answers 200 while the server should get traffic: it is not
// shutting down, the store takes a write and its schema has every migration this
// binary knows (with --migrate=false a server waits unready for them).
// Otherwise 503 with the reason.
func (s *Server) readyz(c echo.Context) error {
	if s.draining.Load() {
		return notReady("shutting down", nil)
	}
	ctx := c.Request().Context()
	if err := s.store.Ping(ctx); err != nil {
		// A write probe: a read-only or full disk is not ready either. An
		// unavailable store answers as every request it fails does (503,
		// Retry-After).
		if errors.Is(err, store.ErrUnavailable) {
			return fmt.Errorf("readiness probe: %w", err)
		}
		return notReady("store unavailable", fmt.Errorf("store probe: %w", err))
	}
	pending, err := s.store.PendingMigrations(ctx)
	if err != nil {
		return notReady("store unavailable", fmt.Errorf("read migration state: %w", err))
	}
	if pending > 0 {
		return notReady(fmt.Sprintf("%d database migrations pending", pending), nil)
	}
	return c.JSON(http.StatusOK, map[string]string{"status": "ready"})
}

func notReady(reason string, cause error) *APIError {
	return &APIError{Status: http.StatusServiceUnavailable, Code: "not_ready", Message: "not ready: " + reason, Err: cause}
}
