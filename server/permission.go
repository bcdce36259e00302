package server

import (
	"context"
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"

	"countersign/store"
)

// operations returns what the caller may do. A person and a service
// account hold the operations of their assignments; a PAT never holds more
// than its user: the user's operations, narrowed to the PAT's own
// assignments when it has any (spec §6).
func (s *Server) operations(ctx context.Context, caller Caller) (map[string]bool, error) {
	userOps, _, err := s.assignedOperations(ctx, caller.User.ID)
	if err != nil {
		return nil, err
	}
	if caller.Token.Kind != store.TokenPAT {
		return userOps, nil
	}
	patOps, n, err := s.assignedOperations(ctx, caller.Token.ID)
	if err != nil || n == 0 {
		return userOps, err
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
	}
	return ops, len(assignments), nil
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
		caller := callerFrom(c)
		if !caller.isPerson() {
			return &APIError{
				Status: http.StatusForbidden, Code: "people_only",
				Message: fmt.Sprintf("%s %s cannot use this endpoint: it is for people", callerKind(caller), caller.User.ID),
			}
		}
		return next(c)
	}
}
