package server

import (
	"net/http"

	"github.com/labstack/echo/v4"
)

// healthz is liveness: the process answers HTTP. It asks nothing of the
// store, so a database outage never gets a healthy process restarted;
// /readyz says whether to send it traffic.
func (s *Server) healthz(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
}

// jwks publishes the public keys tokens are signed with.
func (s *Server) jwks(c echo.Context) error {
	return c.JSON(http.StatusOK, s.tokens.JWKS())
}
