// Package token issues and verifies countersign's bearer tokens: JWTs signed
// with the server's own ES256 key, which lives in the store so every replica
// signs and verifies with the same key, and is published as a JWKS.
//
// Like webauthn/, it is plain Go: no Echo, no net/http, no SQL. It imports
// only store (types, sentinel errors and the secret it keeps its key under).
package token
