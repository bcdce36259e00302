package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"countersign/gateway"
	"countersign/store"
	"countersign/token"
	"countersign/webauthn"
)

// The gateway (spec/gateway.md): countersign in front of another HTTP
// service. A request under an upstream's prefix is matched to one of its
// routes, authenticated and authorised exactly as the Auth API's own, and a
// state-changing one must carry a user action checked by the same code;
// the action is spent and the audit entry written before anything is
// forwarded. The upstream receives the verified bytes and a signed
// assertion of who sent them, never the caller's credentials.

// reservedPrefixes are countersign's own namespaces: no upstream prefix
// may overlap them, whether or not a route is registered there today.
var reservedPrefixes = []string{"/auth/", "/permissions", "/.well-known/", "/healthz", "/static/", "/session/", "/console/"}

// mountUpstreams checks that no upstream prefix overlaps countersign's own
// routes, then routes every request under each prefix to the gateway.
func (s *Server) mountUpstreams() error {
	var errs []error
	for i := range s.upstreams {
		up := &s.upstreams[i]
		for _, r := range s.echo.Routes() {
			if overlaps(up.Prefix, r.Path) {
				errs = append(errs, fmt.Errorf("upstream %s: prefix %q overlaps countersign's route %s %s", up.Name, up.Prefix, r.Method, r.Path))
				break
			}
		}
		for _, p := range reservedPrefixes {
			if strings.HasPrefix(up.Prefix, p) || strings.HasPrefix(p, up.Prefix) {
				errs = append(errs, fmt.Errorf("upstream %s: prefix %q overlaps countersign's own %q", up.Name, up.Prefix, p))
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	for i := range s.upstreams {
		up := &s.upstreams[i]
		s.proxies[up.Name] = s.newProxy(up)
		s.upstreamLimits[up.Name] = newLimiter(up.RateLimit, "this client on "+up.Name)
		s.echo.Any(up.Prefix+"*", s.gatewayRequest(up))
	}
	return nil
}

// overlaps tells whether prefix would capture the route path, or the
// route (a pattern with :params or *) paths under prefix.
func overlaps(prefix, route string) bool {
	static, dynamic := route, false
	if i := strings.IndexAny(route, ":*"); i >= 0 {
		static, dynamic = route[:i], true
	}
	return strings.HasPrefix(static, prefix) || (dynamic && strings.HasPrefix(prefix, static) && static != "/") ||
		static+"/" == prefix
}

// gatewayRoute is the upstream and route of a request, with the body read.
type gatewayRoute struct {
	up    *gateway.Compiled
	route *gateway.CompiledRoute
}

type gatewayKey struct{}

// gatewayRequest serves every request under up's prefix. Bad input gets
// the Auth API's answers, and nothing reaches the upstream: no route 404,
// no or bad token 401, operation not held 403, a bad or missing user
// action the guard's codes.
func (s *Server) gatewayRequest(up *gateway.Compiled) echo.HandlerFunc {
	forward := s.forward
	authenticated := s.authenticate(s.authorized(forward))
	return func(c echo.Context) error {
		req := c.Request()
		route, ok := up.Match(req.Method, req.URL.EscapedPath())
		if !ok {
			return &APIError{Status: http.StatusNotFound, Code: "not_found",
				Message: fmt.Sprintf("no route of %s serves %s %s", up.Name, req.Method, req.URL.EscapedPath())}
		}
		req.Body = http.MaxBytesReader(c.Response(), req.Body, up.MaxBody)
		c.SetRequest(req.WithContext(context.WithValue(req.Context(), gatewayKey{}, gatewayRoute{up: up, route: route})))
		if route.Public {
			if err := s.upstreamLimits[up.Name].allow("address\x00" + c.RealIP()); err != nil {
				return err
			}
			return forward(c)
		}
		return authenticated(c)
	}
}

func gatewayFrom(c echo.Context) gatewayRoute {
	g, _ := c.Request().Context().Value(gatewayKey{}).(gatewayRoute)
	return g
}

// authorized checks, after authenticate, the route's rate limit and
// operation, and for a state-changing route the user action, which it
// spends with the audit entry before next forwards anything.
func (s *Server) authorized(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		g, caller := gatewayFrom(c), callerFrom(c)
		if err := s.upstreamLimits[g.up.Name].allow("identity\x00" + caller.identity().ID); err != nil {
			return err
		}
		ops, err := s.operations(c.Request().Context(), caller)
		if err != nil {
			return err
		}
		if !ops[g.route.Operation] {
			return forbidden(caller, g.route.Operation)
		}
		if !g.route.Mutating() {
			return next(c)
		}
		if _, err := s.verifyUserAction(c, g.up.MaxBody); err != nil {
			s.metrics.UserActionRefused(toAPIError(err).Code)
			return err
		}
		sg := s.signedChange(c)
		sg.Audit.Upstream = g.up.Name
		if err := s.store.RecordSignedRequest(c.Request().Context(), sg); err != nil {
			s.metrics.UserActionRefused(toAPIError(err).Code)
			return fmt.Errorf("spend the action of %s %s: %w", c.Request().Method, c.Request().URL.EscapedPath(), err)
		}
		s.metrics.UserActionConsumed()
		c.SetRequest(c.Request().WithContext(context.WithValue(c.Request().Context(), spentKey{}, sg)))
		return next(c)
	}
}

type spentKey struct{}

// upstreamAnswer is what the proxy saw of the upstream, for the audit
// entry and the error answer.
type upstreamAnswer struct {
	status int
	err    error
}

type answerKey struct{}

// forward sends the request on with its assertion and relays the answer,
// streaming; then it adds the upstream's status to the audit entry of a
// signed request.
func (s *Server) forward(c echo.Context) error {
	g := gatewayFrom(c)
	req := c.Request()
	body, err := readBody(c)
	if err != nil {
		return err
	}
	assertion := ""
	if !g.route.Public {
		if assertion, err = s.assertion(c, g, body); err != nil {
			return err
		}
	}
	answer := &upstreamAnswer{}
	ctx := context.WithValue(req.Context(), answerKey{}, answer)
	ctx = context.WithValue(ctx, assertionKey{}, assertion)
	out := req.WithContext(ctx)
	out.Body = io.NopCloser(bytes.NewReader(body))
	out.ContentLength = int64(len(body))
	start := time.Now()
	brokenOff := true
	defer func() {
		// The proxy aborts the handler (panics with http.ErrAbortHandler,
		// which closes the connection) when an answer it began to relay
		// breaks off: the approval is spent and audited all the same, so
		// the entry says how the upstream's answer ended.
		if brokenOff {
			s.settleUpstream(c, g, answer, time.Since(start), true)
		}
	}()
	s.proxies[g.up.Name].ServeHTTP(c.Response(), out)
	brokenOff = false
	return s.settleUpstream(c, g, answer, time.Since(start), false)
}

// upstreamBrokenOff ends the audit's upstream status of an answer that
// stopped midway ("201, broken off").
const upstreamBrokenOff = ", broken off"

// settleUpstream counts the upstream's answer, notes it in the audit entry
// of a signed request, and returns the error the client gets when the
// upstream gave no answer.
func (s *Server) settleUpstream(c echo.Context, g gatewayRoute, answer *upstreamAnswer, elapsed time.Duration, brokenOff bool) error {
	req := c.Request()
	status := strconv.Itoa(answer.status)
	var apiErr *APIError
	switch {
	case brokenOff:
		status += upstreamBrokenOff
	case answer.err == nil:
	case errors.Is(answer.err, context.Canceled):
		status = "cancelled"
	case isTimeout(answer.err):
		status = "timeout"
		apiErr = &APIError{Status: http.StatusGatewayTimeout, Code: "upstream_timeout",
			Message: fmt.Sprintf("%s did not answer within %s", g.up.Name, g.up.Timeout), Err: answer.err}
	default:
		status = "unreachable"
		apiErr = &APIError{Status: http.StatusBadGateway, Code: "upstream_unreachable",
			Message: fmt.Sprintf("%s could not be reached", g.up.Name), Err: answer.err}
	}
	s.metrics.Upstream(g.up.Name, status, elapsed)
	if sg, ok := req.Context().Value(spentKey{}).(store.Signed); ok {
		// The approval is spent whatever the upstream answered; a failure to
		// note the answer does not change what the client gets.
		if err := s.store.SetAuditUpstreamStatus(context.WithoutCancel(req.Context()), sg.Audit.OrgID, sg.Audit.ID, status); err != nil {
			s.log.Error("record upstream status", "audit", sg.Audit.ID, "cause", err.Error())
		}
	}
	if apiErr != nil && !c.Response().Committed {
		return apiErr
	}
	return nil
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}

type assertionKey struct{}

// assertion signs what the upstream may rely on (spec §4): who, which
// request exactly, and for a signed one who approved what.
func (s *Server) assertion(c echo.Context, g gatewayRoute, body []byte) (string, error) {
	caller := callerFrom(c)
	req := c.Request()
	sum := sha256.Sum256(body)
	kind := token.AssertedUser
	switch caller.Token.Kind {
	case store.TokenPAT:
		kind = token.AssertedPAT
	case store.TokenServiceAccount:
		kind = token.AssertedServiceAccount
	}
	claims := token.AssertionClaims{
		OrgID: caller.User.OrgID, Username: caller.User.Username, Kind: kind, TokenID: caller.Token.ID,
		Req: token.Request{Method: req.Method, Path: g.up.Forwarded(req.URL.EscapedPath()), Query: req.URL.RawQuery, BodySHA256: hex.EncodeToString(sum[:])},
	}
	claims.Subject = caller.User.ID
	claims.ID = store.NewID("as")
	if sg, ok := req.Context().Value(spentKey{}).(store.Signed); ok {
		claims.ID = sg.ActionID
		claims.Act = &token.Action{CredentialID: sg.Audit.CredentialID, CredentialKind: sg.Audit.CredentialKind, Summary: sg.Audit.Summary}
	}
	return s.tokens.SignAssertion(g.up.Name, claims)
}

// newProxy forwards to up: the still-encoded path (its prefix stripped
// when configured) and query, the verified body, none of the caller's
// credentials nor any X-Countersign-* header it sent, X-Forwarded-* set
// from the connection and the assertion added; the answer streams back.
func (s *Server) newProxy(up *gateway.Compiled) *httputil.ReverseProxy {
	transport := &http.Transport{
		Proxy:                 nil, // never an environment proxy: the upstream is configured
		DialContext:           (&net.Dialer{Timeout: up.Timeout, KeepAlive: 30 * time.Second}).DialContext,
		ResponseHeaderTimeout: up.Timeout,
		TLSHandshakeTimeout:   up.Timeout,
		MaxIdleConnsPerHost:   64,
		IdleConnTimeout:       90 * time.Second,
	}
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			escaped := up.Forwarded(pr.In.URL.EscapedPath())
			u := *up.Target
			u.RawPath = escaped
			u.Path, _ = url.PathUnescape(escaped)
			u.RawQuery = pr.In.URL.RawQuery
			pr.Out.URL = &u
			pr.Out.Host = ""
			for name := range pr.Out.Header {
				if strings.HasPrefix(strings.ToLower(name), "x-countersign-") {
					pr.Out.Header.Del(name)
				}
			}
			pr.Out.Header.Del("Authorization")
			pr.Out.Header.Del("Cookie")
			pr.Out.Header.Del(headerUserAction)
			pr.SetXForwarded()
			if a, _ := pr.In.Context().Value(assertionKey{}).(string); a != "" {
				pr.Out.Header.Set("X-Countersign-Assertion", a)
			}
		},
		Transport:     transport,
		FlushInterval: -1,
		ModifyResponse: func(res *http.Response) error {
			if a, ok := res.Request.Context().Value(answerKey{}).(*upstreamAnswer); ok {
				a.status = res.StatusCode
			}
			res.Header.Del("Set-Cookie") // the upstream may not set cookies on countersign's origin
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			if a, ok := r.Context().Value(answerKey{}).(*upstreamAnswer); ok {
				a.err = err
			}
		},
		ErrorLog: nil,
	}
}

// checkGatewayRequest is checkRequest for a path under an upstream's
// prefix: the route must exist and change state, the caller must hold its
// operation, and the payload be strict JSON within the upstream's limit.
func (s *Server) checkGatewayRequest(c echo.Context, caller Caller, up *gateway.Compiled, method, path string, payload []byte) error {
	route, ok := up.Match(method, path)
	if !ok || !route.Mutating() {
		return &APIError{Status: http.StatusNotFound, Code: "no_signed_route",
			Message: fmt.Sprintf("no route of %s takes a signed %s %s", up.Name, method, path)}
	}
	if int64(len(payload)) > up.MaxBody {
		return &APIError{Status: http.StatusRequestEntityTooLarge, Code: "body_too_large",
			Message: fmt.Sprintf("a signed body for %s may hold at most %d bytes", up.Name, up.MaxBody)}
	}
	ops, err := s.operations(c.Request().Context(), caller)
	if err != nil {
		return err
	}
	if !ops[route.Operation] {
		return forbidden(caller, route.Operation)
	}
	if len(payload) > 0 {
		if _, err := webauthn.ParseStrictJSON(payload); err != nil {
			return err
		}
	}
	return nil
}

// gatewaySummary renders the approval sentence of a request under an
// upstream's prefix; ok is false for paths of countersign's own.
func (s *Server) gatewaySummary(method, path string, payload []byte) (string, bool) {
	up, ok := gateway.Find(s.upstreams, path)
	if !ok {
		return "", false
	}
	route, _ := up.Match(method, path)
	var body any
	if len(payload) > 0 {
		body, _ = webauthn.ParseStrictJSON(payload)
	}
	return up.Summary(route, method, path, body), true
}
