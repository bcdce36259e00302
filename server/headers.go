package server

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"
)

// securityHeaders sets the headers every response carries, before anything
// else runs, so refusals of the body limit or of a panic carry them too: a
// strict CSP (no inline script or style), no framing, no sniffing, and a
// referrer only to the same origin (the invitation link carries its code
// in its query, and "no-referrer" would make browsers send Origin: null on
// same-origin form posts, which the Origin check must refuse). Nothing but
// the static assets may be stored by a cache: answers carry tokens,
// challenges and personal data. Under an https origin, HSTS keeps browsers
// on https.
func (s *Server) securityHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	hsts := strings.HasPrefix(s.opts.Origins[0], "https://")
	return func(c echo.Context) error {
		h := c.Response().Header()
		h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "+
			"connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		if !strings.HasPrefix(c.Request().URL.Path, "/static/") {
			h.Set("Cache-Control", "no-store")
		}
		if hsts {
			h.Set("Strict-Transport-Security", "max-age=31536000")
		}
		return next(c)
	}
}

// retryAfter is the Retry-After header of an answer that asks the client
// to come back: a rate limit (429) or a store that cannot serve now (503).
func retryAfter(status int, e *APIError) string {
	if e.RetryAfter > 0 {
		secs := int(e.RetryAfter.Seconds())
		if float64(secs) < e.RetryAfter.Seconds() {
			secs++
		}
		return strconv.Itoa(secs)
	}
	switch status {
	case http.StatusTooManyRequests:
		return "1"
	case http.StatusServiceUnavailable:
		return "5"
	}
	return ""
}
