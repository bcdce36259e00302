// Package webauthntest provides software credentials for tests: a Key-credential
// signer producing what the Dfns TypeScript signers send (spec §2.3, §2.4), and
// a FIDO2 authenticator (P-256, "none" attestation) whose every output a test can
// bend to attack a ceremony.
//
// Test helper only: it imports the standard library and decred secp256k1, never
// countersign packages, so any package's tests may import it. Constructors panic
// on misuse or entropy failure, like net/http/httptest.
package webauthntest
