package webauthn

import "errors"

var (
	// ErrChallenge: the challenge is unknown, already used or expired (one error on purpose).
	ErrChallenge = errors.New("challenge unknown, used or expired")
	// ErrVerification: a signature, attestation or client data did not verify.
	ErrVerification = errors.New("verification failed")
	// ErrActionMismatch: a user-action token does not match the request it is used on.
	ErrActionMismatch = errors.New("user action does not match the request")
	// ErrTooLarge: a request to sign does not fit in a sealed challenge.
	ErrTooLarge = errors.New("request too large to sign")
)

// ErrActionInvalid: the user-action token is missing, unknown or expired.
var ErrActionInvalid = errors.New("user action signature is missing or invalid")
