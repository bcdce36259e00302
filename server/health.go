package server

import (
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"
)

// healthz answers 200 when the store takes a write: a probe row is written
// and committed (reads alone may still work on a full or read-only disk).
// Otherwise 503 with Retry-After, like every request the store fails.
func (s *Server) healthz(c echo.Context) error {
	if err := s.store.Ping(c.Request().Context()); err != nil {
		return fmt.Errorf("store probe: %w", err)
	}
	return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
}

// jwks publishes the public keys tokens are signed with.
func (s *Server) jwks(c echo.Context) error {
	return c.JSON(http.StatusOK, s.tokens.JWKS())
}
