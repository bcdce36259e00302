// Package token issues and verifies countersign's bearer tokens: JWTs signed
// with the server's own ES256 keys, published as a JWKS. The keys live in
// the store as one keyring (keyring.go), so every replica signs and
// verifies with the same keys; a rotation adds a key that signs from then
// on, and the previous one keeps verifying until every token it can have
// signed has expired.
//
// Like webauthn/, it is plain Go: no Echo, no net/http, no SQL. It imports
// only store (types, sentinel errors and the secret it keeps its keys under).
package token
