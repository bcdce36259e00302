package server

import (
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"golang.org/x/time/rate"

	"countersign/static"
)

// routes is the whole route table.
func (s *Server) routes() {
	e := s.echo
	e.Use(middleware.RequestID())
	e.Use(middleware.RecoverWithConfig(middleware.RecoverConfig{
		DisableErrorHandler: true,
		LogErrorFunc: func(c echo.Context, err error, stack []byte) error {
			return fmt.Errorf("panic: %w\n%s", err, stack)
		},
	}))
	e.Use(middleware.BodyLimit(s.opts.BodyLimit))
	e.Use(securityHeaders)
	e.Use(middleware.CORSWithConfig(middleware.CORSConfig{
		// Bearer-token API: any origin may call it. Cookies are never
		// honoured cross-origin (see the cookie carrier), so no credentials.
		AllowOrigins: []string{"*"},
		AllowMethods: []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete},
		AllowHeaders: []string{"authorization", "content-type", "x-dfns-useraction", "x-dfns-sdk-version"},
		MaxAge:       600,
	}))

	e.GET("/healthz", s.healthz)
	e.GET("/.well-known/jwks.json", s.jwks)

	// Middleware is attached per route, not through groups: an Echo group
	// with an empty prefix would also wrap the not-found fallback.
	limited := s.rateLimit()
	e.POST("/auth/registration/init", s.registrationInit, limited)
	e.POST("/auth/registration", s.registrationFinish, limited)
	e.POST("/auth/login/init", s.loginInit, limited)
	e.POST("/auth/login", s.loginFinish, limited)

	e.PUT("/auth/logout", s.logout, s.authenticate)
	e.POST("/auth/action/init", s.actionInit, s.authenticate)
	e.POST("/auth/action", s.actionFinish, s.authenticate)

	// A person's own credentials (spec §4.3): PATs and service accounts
	// have only their token's key.
	e.GET("/auth/credentials", s.listCredentials, s.authenticate, peopleOnly)
	e.POST("/auth/credentials/init", s.credentialsInit, s.authenticate, peopleOnly)
	s.signed(http.MethodPost, "/auth/credentials", s.createCredential, peopleOnly)
	s.signed(http.MethodPut, "/auth/credentials/activate", s.activateCredential, peopleOnly)
	s.signed(http.MethodPut, "/auth/credentials/deactivate", s.deactivateCredential, peopleOnly)
	s.signed(http.MethodPut, "/auth/credentials/name", s.renameCredential, peopleOnly)

	perm := s.requirePermission
	e.GET("/auth/action/logs", s.listAuditLogs, s.authenticate, perm("Auth:Logs:Read"))
	e.GET("/auth/action/logs/:id", s.getAuditLog, s.authenticate, perm("Auth:Logs:Read"))

	// Personal access tokens (spec §4.4): the caller's own; only a person
	// creates one.
	s.signed(http.MethodPost, "/auth/pats", s.createPAT, peopleOnly, perm("Auth:Pats:Create"))
	e.GET("/auth/pats", s.listPATs, s.authenticate)
	e.GET("/auth/pats/:tokenId", s.getPAT, s.authenticate)
	s.signed(http.MethodPut, "/auth/pats/:tokenId", s.updatePAT)
	s.signed(http.MethodPut, "/auth/pats/:tokenId/activate", s.activatePAT)
	s.signed(http.MethodPut, "/auth/pats/:tokenId/deactivate", s.deactivatePAT)
	s.signed(http.MethodDelete, "/auth/pats/:tokenId", s.archivePAT)

	// Service accounts (spec §4.5).
	s.signed(http.MethodPost, "/auth/service-accounts", s.createServiceAccount, peopleOnly, perm("Auth:ServiceAccounts:Create"))
	e.GET("/auth/service-accounts", s.listServiceAccounts, s.authenticate, perm("Auth:ServiceAccounts:Read"))
	e.GET("/auth/service-accounts/:serviceAccountId", s.getServiceAccount, s.authenticate, perm("Auth:ServiceAccounts:Read"))
	s.signed(http.MethodPut, "/auth/service-accounts/:serviceAccountId", s.updateServiceAccount, perm("Auth:ServiceAccounts:Update"))
	s.signed(http.MethodPut, "/auth/service-accounts/:serviceAccountId/activate", s.activateServiceAccount, perm("Auth:ServiceAccounts:Activate"))
	s.signed(http.MethodPut, "/auth/service-accounts/:serviceAccountId/deactivate", s.deactivateServiceAccount, perm("Auth:ServiceAccounts:Deactivate"))
	s.signed(http.MethodDelete, "/auth/service-accounts/:serviceAccountId", s.archiveServiceAccount, perm("Auth:ServiceAccounts:Delete"))

	// Users (spec §4.6).
	s.signed(http.MethodPost, "/auth/users", s.createUser, perm("Auth:Users:Create"))
	e.GET("/auth/users", s.listUsers, s.authenticate, perm("Auth:Users:Read"))
	e.GET("/auth/users/:userId", s.getUser, s.authenticate, perm("Auth:Users:Read"))
	s.signed(http.MethodPut, "/auth/users/:userId", s.updateUser, perm("Auth:Users:Update"))
	s.signed(http.MethodPut, "/auth/users/:userId/activate", s.activateUser, perm("Auth:Users:Activate"))
	s.signed(http.MethodPut, "/auth/users/:userId/deactivate", s.deactivateUser, perm("Auth:Users:Deactivate"))
	s.signed(http.MethodDelete, "/auth/users/:userId", s.archiveUser, perm("Auth:Users:Delete"))

	// Permissions (spec §4.9).
	s.signed(http.MethodPost, "/permissions", s.createPermission, perm("Permissions:Create"))
	e.GET("/permissions", s.listPermissions, s.authenticate, perm("Permissions:Read"))
	e.GET("/permissions/:permissionId", s.getPermission, s.authenticate, perm("Permissions:Read"))
	s.signed(http.MethodPut, "/permissions/:permissionId", s.updatePermission, perm("Permissions:Update"))
	s.signed(http.MethodPut, "/permissions/:permissionId/archive", s.archivePermission, perm("Permissions:Archive"))
	s.signed(http.MethodPost, "/permissions/:permissionId/assignments", s.createAssignment, perm("Permissions:Assign"))
	e.GET("/permissions/:permissionId/assignments", s.listAssignments, s.authenticate, perm("Permissions:Assignments:Read"))
	s.signed(http.MethodDelete, "/permissions/:permissionId/assignments/:assignmentId", s.deleteAssignment, perm("Permissions:Revoke"))

	// Console: HTML pages and the endpoints that hold the login token in
	// the session cookie.
	e.GET(pathConsole, s.page(s.consolePage))
	e.GET(pathCredentials, s.page(s.credentialsPage))
	e.GET(pathActivity, s.page(s.activityPage))
	e.GET(pathTokens, s.page(s.tokensPage))
	e.GET(pathServiceAccounts, s.page(s.serviceAccountsPage))
	e.GET(pathUsers, s.page(s.usersPage))
	e.GET(pathPermissionsPage, s.page(s.permissionsPage))
	e.GET(pathLogin, s.loginPage)
	e.GET(pathRegister, s.registerPage)
	e.POST(pathSessionLogin, s.sessionLogin, s.requireSameOrigin, limited)
	e.POST(pathSessionRegistration, s.sessionRegistration, s.requireSameOrigin, limited)
	e.POST(pathSessionLogout, s.sessionLogout, s.requireSameOrigin)
	e.StaticFS("/static", static.FS)
}

// signed registers a state-changing route: authenticated and guarded by a
// user action signed for exactly this request. Every mutating route outside
// the ceremonies goes through here (a test walks the routes to check).
func (s *Server) signed(method, path string, h echo.HandlerFunc, extra ...echo.MiddlewareFunc) {
	s.echo.Add(method, path, h, append([]echo.MiddlewareFunc{s.authenticate, s.requireUserAction}, extra...)...)
}

// unsignedMutations are the state-changing routes that cannot carry a user
// action: the ceremonies that produce tokens and actions, and the console's
// session endpoints.
var unsignedMutations = map[string]bool{
	"POST /auth/registration/init": true, "POST /auth/registration": true,
	"POST /auth/login/init": true, "POST /auth/login": true, "PUT /auth/logout": true,
	"POST /auth/action/init": true, "POST /auth/action": true, "POST /auth/credentials/init": true,
	"POST " + pathSessionLogin: true, "POST " + pathSessionRegistration: true, "POST " + pathSessionLogout: true,
}

// rateLimit throttles the unauthenticated ceremony routes per client IP.
func (s *Server) rateLimit() echo.MiddlewareFunc {
	if s.opts.RateLimit <= 0 {
		return func(next echo.HandlerFunc) echo.HandlerFunc { return next }
	}
	return middleware.RateLimiterWithConfig(middleware.RateLimiterConfig{
		Store: middleware.NewRateLimiterMemoryStoreWithConfig(middleware.RateLimiterMemoryStoreConfig{
			Rate: rate.Limit(s.opts.RateLimit), Burst: int(3 * s.opts.RateLimit),
		}),
		ErrorHandler: func(c echo.Context, err error) error { return echo.NewHTTPError(http.StatusForbidden) },
		DenyHandler: func(c echo.Context, id string, err error) error {
			return echo.NewHTTPError(http.StatusTooManyRequests)
		},
	})
}
