package server

import (
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"countersign/gateway"
	"countersign/static"
)

// routes is the whole route table.
func (s *Server) routes() {
	e := s.echo
	e.Use(s.observe) // first: the request log line and the metrics see every answer
	e.Use(middleware.RequestID())
	e.Use(s.securityHeaders)
	e.Use(middleware.RecoverWithConfig(middleware.RecoverConfig{
		DisableErrorHandler: true,
		LogErrorFunc: func(c echo.Context, err error, stack []byte) error {
			return fmt.Errorf("panic: %w\n%s", err, stack)
		},
	}))
	e.Use(middleware.BodyLimitWithConfig(middleware.BodyLimitConfig{
		Limit: s.opts.BodyLimit,
		// An upstream's requests have its own limit (max_body).
		Skipper: func(c echo.Context) bool {
			_, ok := gateway.Find(s.upstreams, c.Request().URL.EscapedPath())
			return ok
		},
	}))
	e.Use(middleware.CORSWithConfig(middleware.CORSConfig{
		// Bearer-token API: any origin may call it. Cookies are never
		// honoured cross-origin (see the cookie carrier), so no credentials.
		AllowOrigins: []string{"*"},
		AllowMethods: []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}, // PATCH: gateway routes
		AllowHeaders: []string{"authorization", "content-type", "x-dfns-useraction", "x-dfns-sdk-version"},
		MaxAge:       600,
	}))

	e.GET("/healthz", s.healthz)
	e.GET("/readyz", s.readyz)
	e.GET("/.well-known/jwks.json", s.jwks)

	// Middleware is attached per route, not through groups: an Echo group
	// with an empty prefix would also wrap the not-found fallback.
	limited := s.limitAddress
	e.POST("/auth/registration/init", s.registrationInit, limited)
	e.POST("/auth/registration", s.registrationFinish, limited)
	e.POST("/auth/login/init", s.loginInit, limited)
	e.POST("/auth/login", s.loginFinish, limited)

	// Delegated flows (spec §4.1, §4.8): a service account acting for the
	// end users of its application.
	s.signed(http.MethodPost, "/auth/registration/delegated", s.delegatedRegistration,
		takes(delegatedRegistrationRequest{}), forServiceAccounts, needs("Auth:Register:Delegated"))
	s.signed(http.MethodPost, "/auth/login/delegated", s.delegatedLogin,
		takes(delegatedLoginRequest{}), forServiceAccounts, needs("Auth:Login:Delegated"))
	s.signed(http.MethodPost, "/auth/recover/user/delegated", s.delegatedRecovery,
		takes(delegatedRecoveryRequest{}), forServiceAccounts, needs("Auth:Recover:Delegated"))

	e.PUT("/auth/logout", s.logout, s.authenticate)
	e.POST("/auth/action/init", s.actionInit, s.authenticate, s.limitIdentity)
	e.POST("/auth/action", s.actionFinish, s.authenticate, s.limitIdentity)

	// A person's own credentials (spec §4.3): PATs and service accounts
	// have only their token's key.
	e.GET("/auth/credentials", s.listCredentials, s.authenticate, peopleOnly)
	e.POST("/auth/credentials/init", s.credentialsInit, s.authenticate, peopleOnly, s.limitIdentity)
	s.signed(http.MethodPost, "/auth/credentials", s.createCredential, takes(createCredentialRequest{}), forPeople)
	s.signed(http.MethodPut, "/auth/credentials/activate", s.activateCredential, takes(credentialRef{}), forPeople)
	s.signed(http.MethodPut, "/auth/credentials/deactivate", s.deactivateCredential, takes(credentialRef{}), forPeople)
	s.signed(http.MethodPut, "/auth/credentials/name", s.renameCredential, takes(renameCredentialRequest{}), forPeople)

	// Recovery, reset links and credential codes (spec §4.1, §4.3, §4.8):
	// nobody is signed in, the code or the recovery key is the proof.
	e.PUT("/auth/registration/code", s.resendRegistrationCode, limited)
	e.POST(apiRecoverCode, s.sendRecoveryCode, limited)
	e.POST(apiRecoverInit, s.recoveryInit, limited)
	e.POST(apiResetInit, s.resetInit, limited)
	e.POST(apiRecover, s.recoverUser, limited)
	e.POST(apiCredentialsCodeInit, s.credentialCodeInit, limited)
	e.POST(apiCredentialsCodeVerify, s.credentialCodeVerify, limited)
	s.signed(http.MethodPost, apiCredentialsCode, s.createCredentialCode, takes(createCredentialCodeRequest{}), forPeople)

	perm := s.requirePermission
	e.GET("/auth/action/logs", s.listAuditLogs, s.authenticate, perm("Auth:Logs:Read"))
	e.GET("/auth/action/logs/:id", s.getAuditLog, s.authenticate, perm("Auth:Logs:Read"))

	// Personal access tokens (spec §4.4): the caller's own; only a person
	// creates one.
	s.signed(http.MethodPost, "/auth/pats", s.createPAT, takes(tokenKey{}), forPeople, needs("Auth:Pats:Create"))
	e.GET("/auth/pats", s.listPATs, s.authenticate)
	e.GET("/auth/pats/:tokenId", s.getPAT, s.authenticate)
	s.signed(http.MethodPut, "/auth/pats/:tokenId", s.updatePAT, takes(nameUpdate{}))
	s.signed(http.MethodPut, "/auth/pats/:tokenId/activate", s.activatePAT)
	s.signed(http.MethodPut, "/auth/pats/:tokenId/deactivate", s.deactivatePAT)
	s.signed(http.MethodDelete, "/auth/pats/:tokenId", s.archivePAT)

	// Service accounts (spec §4.5).
	s.signed(http.MethodPost, "/auth/service-accounts", s.createServiceAccount, takes(createServiceAccountRequest{}), forPeople, needs("Auth:ServiceAccounts:Create"))
	e.GET("/auth/service-accounts", s.listServiceAccounts, s.authenticate, perm("Auth:ServiceAccounts:Read"))
	e.GET("/auth/service-accounts/:serviceAccountId", s.getServiceAccount, s.authenticate, perm("Auth:ServiceAccounts:Read"))
	s.signed(http.MethodPut, "/auth/service-accounts/:serviceAccountId", s.updateServiceAccount, takes(nameUpdate{}), needs("Auth:ServiceAccounts:Update"))
	s.signed(http.MethodPut, "/auth/service-accounts/:serviceAccountId/activate", s.activateServiceAccount, needs("Auth:ServiceAccounts:Activate"))
	s.signed(http.MethodPut, "/auth/service-accounts/:serviceAccountId/deactivate", s.deactivateServiceAccount, takes(forceBody{}), needs("Auth:ServiceAccounts:Deactivate"))
	s.signed(http.MethodDelete, "/auth/service-accounts/:serviceAccountId", s.archiveServiceAccount, needs("Auth:ServiceAccounts:Delete"))

	// Users (spec §4.6).
	s.signed(http.MethodPost, "/auth/users", s.createUser, takes(createUserRequest{}), needs("Auth:Users:Create"))
	e.GET("/auth/users", s.listUsers, s.authenticate, perm("Auth:Users:Read"))
	e.GET("/auth/users/:userId", s.getUser, s.authenticate, perm("Auth:Users:Read"))
	s.signed(http.MethodPut, "/auth/users/:userId", s.updateUser, takes(updateUserRequest{}), needs("Auth:Users:Update"))
	s.signed(http.MethodPut, "/auth/users/:userId/activate", s.activateUser, needs("Auth:Users:Activate"))
	s.signed(http.MethodPut, "/auth/users/:userId/deactivate", s.deactivateUser, needs("Auth:Users:Deactivate"))
	s.signed(http.MethodDelete, "/auth/users/:userId", s.archiveUser, needs("Auth:Users:Delete"))
	s.signed(http.MethodPost, apiInvitation, s.reissueInvitation, needs("Auth:Users:Create"))
	// An administrator's reset link: the operation of recovering another
	// person (spec §7), with authority over them.
	s.signed(http.MethodPost, "/auth/users/:userId/recovery", s.issueReset, forPeople, needs("Auth:Recover:Delegated"))

	// Permissions (spec §4.9).
	s.signed(http.MethodPost, "/permissions", s.createPermission, takes(createPermissionRequest{}), needs("Permissions:Create"))
	e.GET("/permissions", s.listPermissions, s.authenticate, perm("Permissions:Read"))
	e.GET("/permissions/:permissionId", s.getPermission, s.authenticate, perm("Permissions:Read"))
	s.signed(http.MethodPut, "/permissions/:permissionId", s.updatePermission, takes(updatePermissionRequest{}), needs("Permissions:Update"))
	s.signed(http.MethodPut, "/permissions/:permissionId/archive", s.archivePermission, takes(archivePermissionRequest{}), needs("Permissions:Archive"))
	s.signed(http.MethodPost, "/permissions/:permissionId/assignments", s.createAssignment, takes(createAssignmentRequest{}), needs("Permissions:Assign"))
	e.GET("/permissions/:permissionId/assignments", s.listAssignments, s.authenticate, perm("Permissions:Assignments:Read"))
	s.signed(http.MethodDelete, "/permissions/:permissionId/assignments/:assignmentId", s.deleteAssignment, needs("Permissions:Revoke"))

	// Console: HTML pages and the endpoints that hold the login token in
	// the session cookie.
	e.GET(pathConsole, s.page(s.consolePage))
	e.GET(pathCredentials, s.page(s.credentialsPage))
	e.GET(pathActivity, s.page(s.activityPage))
	e.GET(pathActivityExport, s.page(s.activityExport))
	e.GET(pathTokens, s.page(s.tokensPage))
	e.GET(pathServiceAccounts, s.page(s.serviceAccountsPage))
	e.GET(pathUsers, s.page(s.usersPage))
	e.GET(pathPermissionsPage, s.page(s.permissionsPage))
	e.GET(pathServices, s.page(s.servicesPage))
	e.GET(pathSessions, s.page(s.sessionsPage))
	s.signed(http.MethodPut, apiSessionsRevoke, s.revokeSessions, takes(revokeSessionsRequest{}), forPeople)
	e.GET(pathLogin, s.loginPage)
	e.GET(pathRegister, s.registerPage)
	e.GET(pathPasskeyProviders, s.passkeyProviders)
	e.POST(pathSessionLogin, s.sessionLogin, s.requireSameOrigin, limited)
	e.POST(pathSessionRegistration, s.sessionRegistration, s.requireSameOrigin, limited)
	e.POST(pathSessionLogout, s.sessionLogout, s.requireSameOrigin)
	e.GET(pathRecover, s.recoverPage)
	e.GET(pathAddPasskey, s.addPasskeyPage)
	e.POST(pathSessionRecovery, s.sessionRecovery, s.requireSameOrigin, limited)
	e.POST(pathSessionCredentialCode, s.sessionCredentialCode, s.requireSameOrigin, limited)
	e.POST(pathSessionQR, s.sessionQR, s.requireSameOrigin)
	e.StaticFS("/static", static.FS)
}
