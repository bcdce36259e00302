package server

import (
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"
)

// healthz answers 200 once the store answers.
func (s *Server) healthz(c echo.Context) error {
	if _, err := s.store.GetOrg(c.Request().Context(), "or-healthz-probe"); err != nil && !isNotFound(err) {
		return fmt.Errorf("store probe: %w", err)
	}
	return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
}

// jwks publishes the public keys tokens are signed with.
func (s *Server) jwks(c echo.Context) error {
	return c.JSON(http.StatusOK, s.tokens.JWKS())
}
