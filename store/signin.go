package store

import "time"

// Sign-in outcomes.
const (
	SignInSucceeded = "succeeded"
	SignInFailed    = "failed"
)

// Where a sign-in came from.
const (
	ViaConsole   = "console"   // the console's sign-in page (session cookie)
	ViaAPI       = "api"       // POST /auth/login (an SDK or script)
	ViaDelegated = "delegated" // POST /auth/login/delegated (a service account)
)

// Bounds of the sign-in log: RecordSignIn keeps this many events of each
// outcome per organisation, dropping the oldest, and up to SignInTrimSlack
// more between two trims. Failures are capped lower since anyone holding a
// credential id can cause them.
const (
	MaxSignInsKept       = 10_000
	MaxFailedSignInsKept = 2_000
	SignInTrimSlack      = 15
)

// SignInEvent is one sign-in attempt: who (when the credential was known),
// with which credential, how it went and from where.
type SignInEvent struct {
	ID           string // si-…
	OrgID        string
	UserID       string // "" when the credential names nobody
	Username     string
	CredentialID string // cr-…, "" when unknown or delegated
	TokenID      string // the login token a success issued
	Outcome      string // SignInSucceeded or SignInFailed
	Via          string // ViaConsole, ViaAPI or ViaDelegated
	Reason       string // why it failed, for reading
	ClientIP     string
	UserAgent    string
	CreatedAt    time.Time
}

// SignInQuery selects sign-in events of an organisation within
// [Start, End), newest first, at most Limit.
type SignInQuery struct {
	OrgID   string
	UserID  string // optional
	Outcome string // optional
	Start   time.Time
	End     time.Time
	Limit   int
}
