package server

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
)

// unmatchedRoute labels requests outside the route table, so a scan of
// random paths adds no metric series.
const unmatchedRoute = "unmatched"

// ceremonyRoutes name the routes that finish a ceremony, for the ceremony
// metric. The begin steps (…/init) are not counted: only a finish has an
// outcome.
var ceremonyRoutes = map[string]string{
	"POST /auth/registration":         "registration",
	"POST " + pathSessionRegistration: "registration",
	"POST /auth/login":                "login",
	"POST " + pathSessionLogin:        "login",
	"POST /auth/action":               "action",
	"POST /auth/credentials":          "credential",
}

// requestNote is where handleError leaves what the request log line needs
// of a failure: the code answered and the cause, which the client never
// sees. observe puts a fresh one in each request's context.
type requestNote struct {
	code  string
	cause error
}

type noteKey struct{}

func noteFrom(c echo.Context) *requestNote {
	n, _ := c.Request().Context().Value(noteKey{}).(*requestNote)
	return n
}

// observe is the outermost middleware: it answers a failed request through
// the error handler itself, so that the status is known here, then writes
// the one log line of the request and counts it in the metrics. Labels come
// from the route table (c.Path()), never from the raw path.
func (s *Server) observe(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		note := &requestNote{}
		req := c.Request()
		c.SetRequest(req.WithContext(context.WithValue(req.Context(), noteKey{}, note)))
		if err := next(c); err != nil {
			c.Error(err)
		}
		elapsed := time.Since(start)
		status := c.Response().Status
		route := s.routeLabel(c)
		method := methodLabel(c.Request().Method)
		s.metrics.Request(route, method, status, elapsed)
		s.countOutcome(method+" "+route, status, note.code)
		s.logRequest(c, route, status, elapsed, note)
		return nil
	}
}

// routeLabel is the matched route pattern, or unmatchedRoute when the
// path is not in the route table (Echo then reports a partial match).
func (s *Server) routeLabel(c echo.Context) string {
	if p := c.Path(); s.routePaths[p] {
		return p
	}
	return unmatchedRoute
}

// methodLabel keeps the method label to the standard methods.
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions:
		return m
	}
	return "OTHER"
}

// countOutcome counts ceremonies and user actions. A signed route's
// request either consumed its user action (2xx: the change, the
// consumption and the audit entry are one transaction) or was refused, by
// the code it was answered with.
func (s *Server) countOutcome(route string, status int, code string) {
	ok := status >= 200 && status < 300
	outcome := code
	if ok {
		outcome = "success"
	} else if outcome == "" {
		outcome = "http_" + http.StatusText(status)
	}
	if name, isCeremony := ceremonyRoutes[route]; isCeremony {
		s.metrics.Ceremony(name, outcome)
		if name == "action" && ok {
			s.metrics.UserActionIssued()
		}
	}
	if _, signed := s.guarded[route]; signed {
		if ok {
			s.metrics.UserActionConsumed()
		} else {
			s.metrics.UserActionRefused(outcome)
		}
	}
}

// logRequest writes the request's one line: request id, method, route and
// path (never the query, which may hold a registration code), status,
// latency, the identity (user and token ids, never a token) and, for a
// failure, the code answered and its whole cause.
func (s *Server) logRequest(c echo.Context, route string, status int, elapsed time.Duration, note *requestNote) {
	req := c.Request()
	attrs := []slog.Attr{
		slog.String("request_id", c.Response().Header().Get(echo.HeaderXRequestID)),
		slog.String("method", req.Method),
		slog.String("route", route),
		slog.String("path", req.URL.Path),
		slog.Int("status", status),
		slog.Float64("latency_ms", float64(elapsed.Microseconds())/1000),
		slog.String("ip", c.RealIP()),
	}
	if caller := callerFrom(c); caller.User.ID != "" {
		attrs = append(attrs, slog.String("user", caller.User.ID), slog.String("token_id", caller.Token.ID))
	}
	level := slog.LevelInfo
	if note.code != "" {
		attrs = append(attrs, slog.String("code", note.code))
	}
	if note.cause != nil {
		attrs = append(attrs, slog.String("cause", note.cause.Error()))
	}
	if status >= 500 {
		level = slog.LevelError
	}
	s.log.LogAttrs(req.Context(), level, "request", attrs...)
}
