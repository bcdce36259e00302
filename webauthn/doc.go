// Package webauthn owns countersign's ceremonies: invitations, registration,
// login and (later) user-action signing, with Fido2 credentials verified by
// go-webauthn and Key credentials verified by keycred.go.
//
// Ceremony state lives in the store under a random id and is consumed by the
// first attempt to finish it, whether that attempt succeeds or not.
//
// Plain Go: it imports store only — no Echo, no net/http, no SQL.
package webauthn
