// Package server is countersign's HTTP edge: the Echo route table, caller
// authentication, the one error mapping, JSON request and response shapes of
// the Dfns wire contract, the console's HTML pages, and the gateway that
// puts the same signed approvals in front of other services (gateway.go;
// package gateway holds their configuration and route matching).
//
// It calls webauthn/ and token/ for every decision and reads store/ only for
// types, sentinel errors and plain reads declared in its own small
// interface. It never imports a store backend.
package server
