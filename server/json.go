package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"countersign/webauthn"
)

// decodeJSON reads the whole body into dst. An empty body decodes as {}
// (SDKs send no body on some PUTs); anything that is not one JSON object is
// a 400. Unknown fields are ignored: SDKs add fields over time.
func decodeJSON(c echo.Context, dst any) error {
	body, err := readBody(c)
	if err != nil {
		return err
	}
	return decodeBody(body, dst)
}

// decodeBody is decodeJSON on a body already read.
func decodeBody(body []byte, dst any) error {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		body = []byte("{}")
	}
	if body[0] != '{' {
		return badRequest("request body must be a JSON object", nil)
	}

	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(dst); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) && typeErr.Field != "" {
			return badRequest(fmt.Sprintf("field %s must be of type %s", typeErr.Field, typeErr.Type), err)
		}
		return badRequest("request body is not valid JSON", err)
	}
	if dec.More() {
		return badRequest("request body has data after the JSON object", nil)
	}
	// The same strict parse user-action payloads are compared with, so what
	// was signed is exactly what is decoded.
	if err := webauthn.CheckStrictJSON(body); err != nil {
		return err
	}
	if v, ok := dst.(interface{ validate() error }); ok {
		if err := v.validate(); err != nil {
			return badRequest(err.Error(), err)
		}
	}
	return nil
}

// readBody reads the whole request body: 413 past the body limit, 408 when
// the client sends it too slowly (the server's read timeout), else 400.
func readBody(c echo.Context) ([]byte, error) {
	body, err := io.ReadAll(c.Request().Body)
	if err == nil {
		return body, nil
	}
	var he *echo.HTTPError
	var mbe *http.MaxBytesError
	var ne net.Error
	switch {
	case errors.As(err, &he):
		return nil, he
	case errors.As(err, &mbe):
		return nil, echo.NewHTTPError(http.StatusRequestEntityTooLarge)
	case errors.As(err, &ne) && ne.Timeout():
		return nil, &APIError{Status: http.StatusRequestTimeout, Code: "request_timeout", Message: "the request body was not received in time", Err: err}
	default:
		return nil, badRequest("could not read the request body", err)
	}
}

// maxNameLength bounds every name a person gives: credentials, tokens,
// service accounts, permissions.
const maxNameLength = 100

// checkName: field must hold 1 to maxNameLength characters once trimmed.
func checkName(field, v string) error {
	if n := len(strings.TrimSpace(v)); n == 0 || n > maxNameLength {
		return fmt.Errorf("%s must be 1 to %d characters", field, maxNameLength)
	}
	return nil
}

// checkOptionalName is checkName for a field that may be absent.
func checkOptionalName(field string, v *string) error {
	if v == nil {
		return nil
	}
	return checkName(field, *v)
}

// requireFields returns an error naming the first empty required field.
func requireFields(pairs ...string) error {
	for i := 0; i+1 < len(pairs); i += 2 {
		if pairs[i+1] == "" {
			return fmt.Errorf("%s is required", pairs[i])
		}
	}
	return nil
}
