package server

import (
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"strings"

	"github.com/labstack/echo/v4"

	"countersign/gateway"
	"countersign/store"
	"countersign/webauthn"
)

// signedRoute is what a state-changing route declares when it is
// registered: the shape of its body, the operation it needs and whether
// only people may call it. /auth/action/init checks a request against it
// before handing out a challenge, so a person is never asked to approve
// what would be refused, and the guard checks it again on the request.
type signedRoute struct {
	method, path string
	body         reflect.Type // the request struct; struct{} for routes without a body
	operation    string       // "" when the route needs no permission
	people       bool         // only people, never PATs or service accounts
	machines     bool         // only service accounts (the delegated flows)
}

// routeOption sets one declaration of a signed route.
type routeOption func(*signedRoute)

// takes declares the request struct a route's body decodes into: only its
// fields, spelt exactly as their JSON names, may appear in a signed body.
func takes(v any) routeOption {
	return func(r *signedRoute) { r.body = reflect.TypeOf(v) }
}

// needs declares the permission operation a route requires (spec §4).
func needs(operation string) routeOption {
	return func(r *signedRoute) { r.operation = operation }
}

// forPeople declares a route that only people may call: their own
// credentials, creating PATs.
func forPeople(r *signedRoute) { r.people = true }

// forServiceAccounts declares a route only service accounts may call: the
// delegated flows, where an application's backend acts for its end users
// (spec §4.1, §4.8).
func forServiceAccounts(r *signedRoute) { r.machines = true }

// signed registers a state-changing route: authenticated and guarded by a
// user action signed for exactly this request, whose body has the declared
// shape. Every mutating route outside the ceremonies goes through here (a
// test walks the routes to check).
func (s *Server) signed(method, path string, h echo.HandlerFunc, opts ...routeOption) {
	r := &signedRoute{method: method, path: path, body: reflect.TypeFor[struct{}]()}
	for _, o := range opts {
		o(r)
	}
	mw := []echo.MiddlewareFunc{s.authenticate, s.requireUserAction(r)}
	if r.people {
		mw = append(mw, peopleOnly)
	}
	if r.machines {
		mw = append(mw, serviceAccountsOnly)
	}
	if r.operation != "" {
		mw = append(mw, s.requirePermission(r.operation))
	}
	s.echo.Add(method, path, h, mw...)
	s.guarded[method+" "+path] = r
}

// unsignedMutations are the state-changing routes that cannot carry a user
// action: the ceremonies that produce tokens and actions, and the console's
// session endpoints.
var unsignedMutations = map[string]bool{
	"POST /auth/registration/init": true, "POST /auth/registration": true,
	"POST /auth/login/init": true, "POST /auth/login": true, "PUT /auth/logout": true,
	"POST /auth/action/init": true, "POST /auth/action": true, "POST /auth/credentials/init": true,
	"POST " + pathSessionLogin: true, "POST " + pathSessionRegistration: true, "POST " + pathSessionLogout: true,
	// Recovery and credential codes: the code, link or recovery key is the
	// proof, and nobody is signed in (spec §4.1, §4.3, §4.8).
	"PUT /auth/registration/code": true, "POST " + apiRecoverCode: true, "POST " + apiRecoverInit: true,
	"POST " + apiResetInit: true, "POST " + apiRecover: true,
	"POST " + apiCredentialsCodeInit: true, "POST " + apiCredentialsCodeVerify: true,
	"POST " + pathSessionRecovery: true, "POST " + pathSessionCredentialCode: true, "POST " + pathSessionQR: true,
}

// signedRouteFor finds the signed route that would serve method and the
// still-encoded path, matched exactly as the router matches a request (no
// cleaning, case and trailing slash significant).
func (s *Server) signedRouteFor(method, path string) (*signedRoute, bool) {
	u, err := url.ParseRequestURI(path)
	if err != nil {
		return nil, false
	}
	c := s.echo.AcquireContext()
	defer s.echo.ReleaseContext(c)
	req := &http.Request{Method: method, URL: u}
	c.Reset(req, nil)
	s.echo.Router().Find(method, echo.GetPath(req), c)
	r, ok := s.guarded[method+" "+c.Path()]
	return r, ok
}

// checkRequest tells, before any signature, whether caller may make the
// signed request method path with payload: 404 when no signed route takes
// it, 403 when the caller may not use the route, 413 or 400 when the body
// is too large or not of the route's shape.
func (s *Server) checkRequest(c echo.Context, caller Caller, method, path string, payload []byte) error {
	if up, ok := gateway.Find(s.upstreams, path); ok {
		return s.checkGatewayRequest(c, caller, up, method, path, payload)
	}
	if len(payload) > s.opts.SignedBodyLimit {
		return &APIError{Status: http.StatusRequestEntityTooLarge, Code: "body_too_large",
			Message: fmt.Sprintf("a signed body may hold at most %d bytes", s.opts.SignedBodyLimit)}
	}
	r, ok := s.signedRouteFor(method, path)
	if !ok {
		return &APIError{Status: http.StatusNotFound, Code: "no_signed_route",
			Message: fmt.Sprintf("no route takes a signed %s %s", method, path)}
	}
	if r.people && !caller.isPerson() {
		return peopleOnlyError(caller)
	}
	if r.machines && caller.Token.Kind != store.TokenServiceAccount {
		return serviceAccountsOnlyError(caller)
	}
	if r.operation != "" {
		ops, err := s.operations(c.Request().Context(), caller)
		if err != nil {
			return err
		}
		if !ops[r.operation] {
			return forbidden(caller, r.operation)
		}
	}
	return checkSignedBody(payload, r.body)
}

// checkSignedBody refuses a signed body that is not strict JSON or holds a
// key that is not exactly the JSON name of a field of the route's request
// struct. encoding/json would ignore an unknown key and match a known one
// in any case, so either would let what a JavaScript reader of the signed
// payload sees differ from what the server executes.
func checkSignedBody(payload []byte, t reflect.Type) error {
	if len(payload) == 0 {
		return nil
	}
	v, err := webauthn.ParseStrictJSON(payload)
	if err != nil {
		return err
	}
	if _, ok := v.(map[string]any); !ok {
		return badRequest("a signed body must be a JSON object", nil)
	}
	if err := checkFields(v, t, ""); err != nil {
		return badRequest(err.Error(), err)
	}
	return nil
}

// checkFields walks a strict-parsed value v along the type t it decodes
// into and refuses every object key that is not exactly the JSON name of a
// field. Values of other types than t expects are left to the decoder.
func checkFields(v any, t reflect.Type, at string) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct:
		obj, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		fields := jsonFields(t)
		for key, val := range obj {
			ft, ok := fields[key]
			if !ok {
				return fmt.Errorf("unknown field %q%s: a signed body holds only the fields of its request", key, where(at))
			}
			if err := checkFields(val, ft, at+"."+key); err != nil {
				return err
			}
		}
	case reflect.Slice, reflect.Array:
		arr, ok := v.([]any)
		if !ok {
			return nil
		}
		for i, el := range arr {
			if err := checkFields(el, t.Elem(), fmt.Sprintf("%s[%d]", at, i)); err != nil {
				return err
			}
		}
	case reflect.Map:
		if obj, ok := v.(map[string]any); ok {
			for key, val := range obj {
				if err := checkFields(val, t.Elem(), at+"."+key); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func where(at string) string {
	if at == "" {
		return ""
	}
	return " in " + at[1:]
}

// jsonFields maps the exact JSON names of t's fields, those of embedded
// structs included, to their types, as encoding/json names them.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" || (!f.IsExported() && !f.Anonymous) {
			continue
		}
		ft := f.Type
		if f.Anonymous && name == "" {
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				for k, v := range jsonFields(ft) {
					if _, shadowed := out[k]; !shadowed {
						out[k] = v
					}
				}
				continue
			}
		}
		if name == "" {
			name = f.Name
		}
		out[name] = f.Type
	}
	return out
}
