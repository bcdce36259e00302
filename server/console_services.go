package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"countersign/gateway"
	"countersign/views"
)

// pathServices is the console page of the services behind the gateway.
const pathServices = "/services"

// servicesPage lists every upstream's routes, with a form for those the
// person may call: the page is a client of the gateway like any other.
func (s *Server) servicesPage(c echo.Context, caller Caller) error {
	f, err := s.frame(c, caller, "services")
	if err != nil {
		return err
	}
	ops, err := s.may(c, caller)
	if err != nil {
		return err
	}
	v := views.ServicesView{Frame: f}
	for _, up := range s.upstreams {
		svc := views.ServiceView{Name: up.Name, Prefix: up.Prefix}
		for i, r := range up.Routes {
			svc.Routes = append(svc.Routes, views.ServiceRoute{
				ID: fmt.Sprintf("%s-%d", up.Name, i), Method: r.Method, Pattern: r.Pattern, Operation: r.Operation,
				Public: r.Public, Signed: r.Mutating(), Allowed: r.Public || ops[r.Operation], Body: exampleBody(r),
			})
		}
		v.Services = append(v.Services, svc)
	}
	return s.render(c, http.StatusOK, views.ServicesPage(v))
}

// exampleBody is a body to start from for a route that changes state: the
// fields its summary names, empty; {} when it names none.
func exampleBody(r gateway.CompiledRoute) string {
	if !r.Mutating() {
		return ""
	}
	fields := map[string]string{}
	for _, f := range r.SummaryFields() {
		fields[f] = ""
	}
	raw, _ := json.MarshalIndent(fields, "", "  ")
	return strings.TrimSpace(string(raw))
}
