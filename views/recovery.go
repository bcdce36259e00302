package views

import "strconv"

// View models of recovery, reset links and credential codes (issue 10),
// kept beside their templates in recover.templ.

// RecoverView is the /recover page: recovery with a recovery code, or,
// with a reset link (ResetCode set), the creation of a new passkey.
type RecoverView struct {
	OrgID     string
	Username  string // prefilled from the link, editable
	ResetCode string // the reset link's code; "" for a recovery by recovery code
	// CodeURL asks for a verification code; InitURL starts the recovery
	// (by verification code and recovery key, or by the reset link);
	// FinishURL completes it and signs in.
	CodeURL   string
	InitURL   string
	FinishURL string
	LoginURL  string
}

// AddPasskeyView is the page another device opens from a credential code
// to create its own passkey.
type AddPasskeyView struct {
	Code      string
	Username  string
	InitURL   string // POST {code, credentialKind} -> credential challenge
	FinishURL string // POST the new credential -> {next}, signed in
}

// RecoveryPanels are the Credentials page's ways never to be locked out:
// a recovery code (created, or replaced) and a passkey on another device.
type RecoveryPanels struct {
	HasRecoveryKey bool
	InitURL        string // POST {kind} -> credential challenge
	CreateURL      string // POST the recovery key, signed
	CodeURL        string // POST {expiration}, signed -> {code, expiration}
	QRURL          string // POST {text} -> {image}: the QR code of a link
	AddPasskeyURL  string // the page a credential code opens, without its query
	CodeTTLSeconds int    // how long a credential code lives
}

// BackupNudge asks a person with one credential to add another or save a
// recovery code; nil when they have a backup.
type BackupNudge struct {
	CredentialsURL string
}

func itoa(n int) string { return strconv.Itoa(n) }
