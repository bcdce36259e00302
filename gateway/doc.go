// Package gateway holds what countersign's gateway knows of the upstream
// services it guards: their configuration (spec/gateway.md §2), validated
// all at once; the matching of a request to an upstream's route, literally,
// on the still-encoded path; and the approval sentence a route's summary
// template renders from a signed body.
//
// Plain Go: no Echo, no net/http handlers, no store. package server serves
// the routes and forwards the requests.
package gateway
