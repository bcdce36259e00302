package server

import (
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"countersign/store"
	"countersign/token"
	"countersign/webauthn"
)

// APIError is an error with the status, stable code and safe message the
// client sees. Err is the cause: logged, never sent.
type APIError struct {
	Status  int
	Code    string
	Message string
	Err     error
	// RetryAfter, when set, is sent as Retry-After (429 and 503 get a
	// default otherwise).
	RetryAfter time.Duration
}

func (e *APIError) Error() string {
	if e.Err != nil {
		return e.Code + ": " + e.Message + ": " + e.Err.Error()
	}
	return e.Code + ": " + e.Message
}

func (e *APIError) Unwrap() error { return e.Err }

func badRequest(msg string, cause error) *APIError {
	return &APIError{Status: http.StatusBadRequest, Code: "invalid_request", Message: msg, Err: cause}
}

// authFailed is the one answer to a failed login or registration ceremony:
// unknown user, wrong credential, bad signature and replay look the same.
const authFailedMessage = "authentication failed"

// toAPIError is the only mapping from errors to what a client sees.
func toAPIError(err error) *APIError {
	var apiErr *APIError
	var httpErr *echo.HTTPError
	switch {
	case errors.Is(err, store.ErrUnavailable):
		// Before the others: a failed lookup of a token or a user is the
		// store's failure, not the client's.
		return &APIError{Status: http.StatusServiceUnavailable, Code: "unavailable", Message: "the service cannot answer now, try again shortly", Err: err}
	case errors.As(err, &apiErr):
		return apiErr
	case recoveryErrors(err) != nil:
		return recoveryErrors(err)
	case errors.Is(err, webauthn.ErrChallenge), errors.Is(err, webauthn.ErrVerification):
		return &APIError{Status: http.StatusUnauthorized, Code: "authentication_failed", Message: authFailedMessage, Err: err}
	case errors.Is(err, webauthn.ErrInvitation):
		return &APIError{Status: http.StatusUnauthorized, Code: "invalid_registration_code", Message: "registration code is invalid, expired or already used", Err: err}
	case errors.Is(err, webauthn.ErrActionInvalid):
		return &APIError{Status: http.StatusForbidden, Code: "user_action_invalid", Message: "user action signature is missing or invalid", Err: err}
	case errors.Is(err, webauthn.ErrActionMismatch):
		return &APIError{Status: http.StatusForbidden, Code: "user_action_mismatch", Message: "user action signature does not match this request", Err: err}
	case errors.Is(err, store.ErrActionUsed):
		return &APIError{Status: http.StatusBadRequest, Code: "user_action_used", Message: "user action has already been used", Err: err}
	case errors.Is(err, store.ErrLastCredential):
		return &APIError{Status: http.StatusBadRequest, Code: "last_active_credential", Message: "the last active credential cannot be deactivated", Err: err}
	case errors.Is(err, store.ErrImmutable):
		return &APIError{Status: http.StatusBadRequest, Code: "immutable", Message: "built-in permissions and assignments cannot be changed", Err: err}
	case errors.Is(err, webauthn.ErrTooLarge):
		return &APIError{Status: http.StatusRequestEntityTooLarge, Code: "body_too_large", Message: "this request's body is too large to be signed", Err: err}
	case errors.Is(err, webauthn.ErrStrictJSON):
		return &APIError{Status: http.StatusBadRequest, Code: "invalid_request", Message: "request body must be JSON without duplicate or case-variant keys", Err: err}
	case errors.Is(err, token.ErrInvalid):
		return &APIError{Status: http.StatusUnauthorized, Code: "unauthorized", Message: "missing, invalid or expired token", Err: err}
	case errors.Is(err, webauthn.ErrUnsupportedKind):
		return &APIError{Status: http.StatusBadRequest, Code: "unsupported_credential_kind", Message: "credential kind is not supported", Err: err}
	case errors.Is(err, webauthn.ErrInvalidInput):
		return &APIError{Status: http.StatusBadRequest, Code: "invalid_request", Message: "invalid request", Err: err}
	case errors.Is(err, store.ErrNotFound):
		return &APIError{Status: http.StatusNotFound, Code: "not_found", Message: "not found", Err: err}
	case errors.Is(err, store.ErrConflict):
		return &APIError{Status: http.StatusConflict, Code: "conflict", Message: "already exists", Err: err}
	case errors.As(err, &httpErr):
		return fromHTTPError(httpErr)
	default:
		return &APIError{Status: http.StatusInternalServerError, Code: "internal", Message: "internal error", Err: err}
	}
}

func fromHTTPError(he *echo.HTTPError) *APIError {
	e := &APIError{Status: he.Code, Message: http.StatusText(he.Code), Err: he}
	switch he.Code {
	case http.StatusNotFound:
		e.Code, e.Message = "not_found", "no such route"
	case http.StatusMethodNotAllowed:
		e.Code, e.Message = "method_not_allowed", "method not allowed on this route"
	case http.StatusRequestEntityTooLarge:
		e.Code, e.Message = "body_too_large", "request body is too large"
	case http.StatusTooManyRequests:
		e.Code, e.Message = "rate_limited", "too many requests, slow down"
	case http.StatusUnauthorized:
		e.Code, e.Message = "unauthorized", "missing, invalid or expired token"
	case http.StatusForbidden:
		e.Code, e.Message = "forbidden", "forbidden"
	default:
		e.Code = "http_error"
	}
	return e
}

// errorBody is the wire error (spec §1.6) plus a top-level message for
// clients that read it there.
type errorBody struct {
	Error   errorDetail `json:"error"`
	Message string      `json:"message"`
}

type errorDetail struct {
	ID      string `json:"id,omitempty"`
	Status  int    `json:"status"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

// handleError is Echo's HTTPErrorHandler: it logs once and writes the JSON
// error, or the HTML error page for page routes.
func (s *Server) handleError(err error, c echo.Context) {
	apiErr := toAPIError(err)
	req := c.Request()
	reqID := c.Response().Header().Get(echo.HeaderXRequestID)
	if note := noteFrom(c); note != nil {
		// observe writes the request's one log line, with this cause.
		note.code, note.cause = apiErr.Code, err
	} else {
		level := slog.LevelInfo
		if apiErr.Status >= 500 {
			level = slog.LevelError
		}
		s.log.Log(req.Context(), level, "request failed", "request_id", reqID, "method", req.Method,
			"path", req.URL.Path, "status", apiErr.Status, "code", apiErr.Code, "cause", err.Error())
	}
	if c.Response().Committed {
		return
	}
	if ra := retryAfter(apiErr.Status, apiErr); ra != "" {
		c.Response().Header().Set("Retry-After", ra)
	}
	if isPage(c) {
		if rerr := s.renderErrorPage(c, apiErr); rerr != nil {
			s.log.Error("render error page", "request_id", reqID, "cause", rerr.Error())
		}
		return
	}
	if req.Method == http.MethodHead {
		_ = c.NoContent(apiErr.Status)
		return
	}
	_ = c.JSON(apiErr.Status, errorBody{
		Error:   errorDetail{ID: reqID, Status: apiErr.Status, Code: apiErr.Code, Message: apiErr.Message},
		Message: apiErr.Message,
	})
}
