package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"sync/atomic"
	"time"

	"github.com/gorilla/sessions"
	"github.com/labstack/echo/v4"

	"countersign/gateway"
	"countersign/metrics"
	"countersign/store"
	"countersign/token"
	"countersign/webauthn"
)

// Store is what the HTTP edge reads directly; every write goes through a
// domain package.
type Store interface {
	GetUser(ctx context.Context, id string) (store.User, error)
	GetOrg(ctx context.Context, id string) (store.Org, error)
	ListOrgs(ctx context.Context) ([]store.Org, error)
	ListCredentials(ctx context.Context, userID string) ([]store.Credential, error)
	GetCredential(ctx context.Context, id string) (store.Credential, error)
	ListAssignments(ctx context.Context, identityID string) ([]store.AssignmentInfo, error)
	CreateCredentialSigned(ctx context.Context, s store.Signed, c store.Credential) error
	SetCredentialActive(ctx context.Context, s store.Signed, userID, credentialID string, active bool) error
	RenameCredential(ctx context.Context, s store.Signed, userID, credentialID, name string) error
	ListAuditEntries(ctx context.Context, q store.AuditQuery) ([]store.AuditEntry, error)
	GetAuditEntry(ctx context.Context, orgID, id string) (store.AuditEntry, error)
	GetToken(ctx context.Context, id string) (store.Token, error)
	CreateAccessTokenSigned(ctx context.Context, s store.Signed, t store.AccessToken, cred store.Credential, a *store.Assignment) error
	CreateServiceAccountSigned(ctx context.Context, s store.Signed, u store.User, t store.AccessToken, cred store.Credential, a *store.Assignment) error
	GetAccessToken(ctx context.Context, id string) (store.AccessToken, error)
	ListAccessTokens(ctx context.Context, q store.AccessTokenQuery) ([]store.AccessToken, error)
	UpdateAccessTokenSigned(ctx context.Context, s store.Signed, orgID, id string, p store.AccessTokenPatch) error
	RecordTokenUse(ctx context.Context, id string, at time.Time, purpose string) error
	RecordSignedRequest(ctx context.Context, s store.Signed) error
	SetAuditUpstreamStatus(ctx context.Context, orgID, auditID, status string) error
	CreateUserSigned(ctx context.Context, s store.Signed, in store.Invitation) error
	ListUsers(ctx context.Context, q store.UserQuery) ([]store.User, error)
	UpdateUserSigned(ctx context.Context, s store.Signed, orgID, id string, p store.UserPatch) error
	CreatePermissionSigned(ctx context.Context, s store.Signed, p store.Permission) error
	GetPermission(ctx context.Context, orgID, id string) (store.Permission, error)
	ListPermissions(ctx context.Context, q store.PageQuery) ([]store.Permission, error)
	UpdatePermissionSigned(ctx context.Context, s store.Signed, orgID, id string, p store.PermissionPatch) error
	CreateAssignmentSigned(ctx context.Context, s store.Signed, a store.Assignment) error
	ListPermissionAssignments(ctx context.Context, q store.PageQuery, permissionID string) ([]store.Assignment, error)
	DeleteAssignmentSigned(ctx context.Context, s store.Signed, orgID, permissionID, assignmentID string) error
	GetAssignment(ctx context.Context, orgID, id string) (store.Assignment, error)
	ListPermissionHolders(ctx context.Context, orgID, permissionID string) ([]string, error)
	GetRegistrationCode(ctx context.Context, userID string) (store.RegistrationCode, error)
	GetCredentialByCredID(ctx context.Context, credID string) (store.Credential, error)
	RecordSignIn(ctx context.Context, e store.SignInEvent) error
	ListSignInEvents(ctx context.Context, q store.SignInQuery) ([]store.SignInEvent, error)
	GetSignInByToken(ctx context.Context, tokenID string) (store.SignInEvent, error)
	ListActiveTokens(ctx context.Context, userID, kind string, now time.Time) ([]store.Token, error)
	RevokeTokensSigned(ctx context.Context, s store.Signed, userID string, ids []string) (int, error)
	IssueTokenSigned(ctx context.Context, s store.Signed, t store.Token, e store.SignInEvent) error
	GetUserByUsername(ctx context.Context, orgID, username string) (store.User, error)
	RenewRegistrationCodeSigned(ctx context.Context, s store.Signed, code store.RegistrationCode) error
	Ping(ctx context.Context) error
	RevokeToken(ctx context.Context, id string, now time.Time) error
	EnsureSecret(ctx context.Context, name string, value []byte) ([]byte, error)
	PendingMigrations(ctx context.Context) (int, error)
	PutCodeSigned(ctx context.Context, s store.Signed, c store.Code) error
}

// Options configure the HTTP edge.
type Options struct {
	// Origins are the exact origins of the console (the first one is the
	// public base URL, used in links). Cookie-carried tokens are accepted
	// only from these.
	Origins []string
	// BodyLimit caps request bodies, e.g. "1M".
	BodyLimit string
	// SignedBodyLimit caps, in bytes, the payload of a user action and the
	// body of a signed request (default 64 KiB): signed bodies are kept in
	// the audit log for good.
	SignedBodyLimit int
	// RateLimit is requests per second per client IP on the unauthenticated
	// ceremony routes; 0 disables it.
	RateLimit float64
	// AccountRateLimit is requests per second per account on the
	// ceremonies that name one (login and registration by username) and per
	// authenticated identity on action and credential challenges; 0
	// disables it.
	AccountRateLimit float64
	// Upstreams are the services behind the gateway (spec/gateway.md).
	Upstreams []gateway.Compiled
	// SessionTTL bounds the console's session cookie.
	SessionTTL time.Duration
	// Mail delivers invitations, registration codes, recovery codes and
	// reset links; nil when no SMTP server is configured.
	Mail Mailer
	// MailInterval is how often, on average, anybody can make countersign
	// write to one account (a recovery code, a registration link), after
	// a burst of 3; one address gets a third of it, after a burst of 10.
	// Default 20 s.
	MailInterval time.Duration
	Now          func() time.Time
	Logger       *slog.Logger
	// Metrics receives the request, ceremony and user-action counts; nil
	// gives the server a registry of its own that nobody serves.
	Metrics *metrics.Metrics
}

// Server is the HTTP edge. It is an http.Handler.
type Server struct {
	echo       *echo.Echo
	store      Store
	ceremonies *webauthn.Ceremonies
	tokens     *token.Issuer
	cookies    *sessions.CookieStore
	opts       Options
	log        *slog.Logger
	guarded    map[string]*signedRoute // "METHOD /pattern" of every signed route
	cookieName string
	perAddress *limiter
	perAccount *limiter
	metrics    *metrics.Metrics
	// routePaths are the paths of the route table, the only values of the
	// route label.
	routePaths map[string]bool
	// draining turns /readyz unready once shutdown begins.
	draining atomic.Bool

	upstreams      []gateway.Compiled
	gatewayOps     []string // the operations the upstreams' routes declare
	proxies        map[string]*httputil.ReverseProxy
	upstreamLimits map[string]*limiter
	mailLimits     mailLimits
}

// New builds the server and its route table. It loads (or, on first start,
// creates) the session cookie keys in the store.
func New(ctx context.Context, st Store, ceremonies *webauthn.Ceremonies, tokens *token.Issuer, opts Options) (*Server, error) {
	if opts.BodyLimit == "" {
		opts.BodyLimit = "1M"
	}
	if opts.SignedBodyLimit == 0 {
		opts.SignedBodyLimit = 64 << 10
	}
	if opts.SessionTTL == 0 {
		opts.SessionTTL = time.Hour
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MailInterval <= 0 {
		opts.MailInterval = 20 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Metrics == nil {
		opts.Metrics = metrics.New()
	}
	if len(opts.Origins) == 0 {
		return nil, errors.New("server: no origin configured")
	}
	cookies, err := newCookieStore(ctx, st, opts.Origins, opts.SessionTTL)
	if err != nil {
		return nil, err
	}
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	// The client IP (rate limiting, logs) is the connection's peer: forwarded
	// headers are set by whoever sends the request and are never trusted.
	e.IPExtractor = echo.ExtractIPDirect()
	s := &Server{echo: e, store: st, ceremonies: ceremonies, tokens: tokens, cookies: cookies, opts: opts, log: opts.Logger,
		guarded: map[string]*signedRoute{}, cookieName: cookieName(opts.Origins[0]),
		perAddress: newLimiter(opts.RateLimit, "this address"), perAccount: newLimiter(opts.AccountRateLimit, "this account"),
		metrics: opts.Metrics, routePaths: map[string]bool{},
		upstreams: opts.Upstreams, gatewayOps: gateway.Operations(opts.Upstreams),
		proxies: map[string]*httputil.ReverseProxy{}, upstreamLimits: map[string]*limiter{},
		mailLimits: newMailLimits(opts.MailInterval)}
	e.HTTPErrorHandler = s.handleError
	s.routes()
	if err := s.mountUpstreams(); err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	for _, r := range e.Routes() {
		s.routePaths[r.Path] = true
	}
	return s, nil
}

// ServeHTTP serves a request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.echo.ServeHTTP(w, r) }
