package server

import (
	"context"
	"fmt"
	"net/http"
	"slices"

	"github.com/labstack/echo/v4"

	"countersign/store"
	"countersign/token"
	"countersign/webauthn"
)

// operations returns what the caller may do: the operations of its
// identity (see identityOperations), read on every request.
func (s *Server) operations(ctx context.Context, caller Caller) (map[string]bool, error) {
	at := caller.Access
	if at == nil && caller.Token.Kind == store.TokenPAT {
		return nil, fmt.Errorf("PAT caller %s without its token: %w", caller.Token.ID, token.ErrInvalid)
	}
	if caller.Token.Kind != store.TokenPAT {
		at = nil // a service account holds its user's operations
	}
	return s.identityOperations(ctx, caller.User.ID, at)
}

// identityOperations returns what an identity may do. A person and a
// service account hold the operations of their assignments. A PAT never
// holds more than its user (spec §6): created without a permission it
// holds all of its user's operations; created with one (scope
// AssignedOnly) it holds its user's operations that its own assignments
// grant, and nothing when it has none left: it never falls back to the
// user's.
func (s *Server) identityOperations(ctx context.Context, userID string, pat *store.AccessToken) (map[string]bool, error) {
	userOps, _, err := s.assignedOperations(ctx, userID)
	if err != nil || pat == nil || pat.Scope == store.ScopeAllUserOperations {
		return userOps, err
	}
	if pat.Scope != store.ScopeAssignedOnly {
		return map[string]bool{}, nil // an unknown scope grants nothing
	}
	patOps, _, err := s.assignedOperations(ctx, pat.ID)
	if err != nil {
		return nil, err
	}
	for op := range userOps {
		if !patOps[op] {
			delete(userOps, op)
		}
	}
	return userOps, nil
}

// assignedOperations returns the operations assigned to an identity and how
// many (unarchived) assignments it has.
func (s *Server) assignedOperations(ctx context.Context, identityID string) (map[string]bool, int, error) {
	assignments, err := s.store.ListAssignments(ctx, identityID)
	if err != nil {
		return nil, 0, fmt.Errorf("list assignments of %s: %w", identityID, err)
	}
	ops := map[string]bool{}
	for _, a := range assignments {
		for _, op := range a.Operations {
			ops[op] = true
		}
		if a.PermissionName == webauthn.FullAdminPermission {
			// Full administration holds the operations the gateway's
			// routes declare too (spec/gateway.md §2).
			for _, op := range s.gatewayOps {
				ops[op] = true
			}
		}
	}
	return ops, len(assignments), nil
}

// knownOperation tells whether a permission may name op: an auth
// operation of spec §7, or one a gateway route declares.
func (s *Server) knownOperation(op string) bool {
	return slices.Contains(webauthn.FullAdminOperations, op) || slices.Contains(s.gatewayOps, op)
}

// requireKnownOperations refuses a permission naming an operation nothing
// checks: a typo would grant nothing and look like it granted something.
func (s *Server) requireKnownOperations(ops []string) error {
	for _, op := range ops {
		if !s.knownOperation(op) {
			return badRequest(fmt.Sprintf("operation %q is not one countersign knows (the auth operations of spec §7, or one a gateway route declares)", op), nil)
		}
	}
	return nil
}

func forbidden(caller Caller, operation string) *APIError {
	return &APIError{
		Status: http.StatusForbidden, Code: "permission_denied",
		Message: fmt.Sprintf("%s %s is not authorized to perform operation (%s)", callerKind(caller), caller.User.ID, operation),
	}
}

func callerKind(c Caller) string {
	switch c.Token.Kind {
	case store.TokenPAT:
		return "PersonalAccessToken"
	case store.TokenServiceAccount:
		return "ServiceAccount"
	}
	return c.User.Kind
}

// requirePermission refuses callers whose operations lack operation.
func (s *Server) requirePermission(operation string) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			caller := callerFrom(c)
			ops, err := s.operations(c.Request().Context(), caller)
			if err != nil {
				return err
			}
			if !ops[operation] {
				return forbidden(caller, operation)
			}
			return next(c)
		}
	}
}

// requireHolds refuses to grant what the caller does not hold itself: no
// identity can mint a permission, assignment or token stronger than itself.
func (s *Server) requireHolds(ctx context.Context, caller Caller, operations []string) error {
	ops, err := s.operations(ctx, caller)
	if err != nil {
		return err
	}
	for _, op := range operations {
		if !ops[op] {
			return &APIError{
				Status: http.StatusForbidden, Code: "permission_denied",
				Message: fmt.Sprintf("cannot grant operation %s: the caller does not hold it", op),
			}
		}
	}
	return nil
}

// peopleOnly refuses machine identities (PATs and service accounts) on
// routes meant for people: their own credentials, creating PATs.
func peopleOnly(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if caller := callerFrom(c); !caller.isPerson() {
			return peopleOnlyError(caller)
		}
		return next(c)
	}
}

// serviceAccountsOnly refuses every caller but a service account.
func serviceAccountsOnly(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if caller := callerFrom(c); caller.Token.Kind != store.TokenServiceAccount {
			return serviceAccountsOnlyError(caller)
		}
		return next(c)
	}
}

func serviceAccountsOnlyError(caller Caller) *APIError {
	return &APIError{
		Status: http.StatusForbidden, Code: "service_accounts_only",
		Message: fmt.Sprintf("%s %s cannot use this endpoint: it is for service accounts acting for end users", callerKind(caller), caller.User.ID),
	}
}

func peopleOnlyError(caller Caller) *APIError {
	return &APIError{
		Status: http.StatusForbidden, Code: "people_only",
		Message: fmt.Sprintf("%s %s cannot use this endpoint: it is for people", callerKind(caller), caller.User.ID),
	}
}
