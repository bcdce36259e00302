package views

// RegisterView is the registration page of an invited user: the link's
// organisation, username and one-time code, and the two JSON endpoints the
// page's script calls.
type RegisterView struct {
	OrgID        string
	Username     string
	Code         string
	ProvidersURL string // GET {aaguid: name}: names the passkey after its provider
	InitURL      string // POST {orgId, username, registrationCode} -> RegistrationChallenge
	FinishURL    string // POST NewCredential with the temporary token -> {next}
}

// LoginView is the sign-in page of an organisation.
type LoginView struct {
	OrgID     string
	InitURL   string // POST {orgId, username?} -> LoginChallenge
	FinishURL string // POST SignedChallenge -> {next}
}

// Frame is what surrounds every signed-in page: who is signed in, the
// navigation, Sign out, and the two endpoints of User Action Signing that
// every state-changing button of the page goes through.
type Frame struct {
	Page          string // data-page of the content: "console", "credentials", ...
	Title         string // the document title
	Username      string
	OrgID         string
	OrgName       string
	LogoutURL     string // POST form target
	ActionInitURL string // POST /auth/action/init
	ActionURL     string // POST /auth/action
	Nav           []NavLink
	// RPID and WebAuthnUserID (base64url of the WebAuthn user.id bytes)
	// address this person's passkeys in the WebAuthn Signal API.
	RPID           string
	WebAuthnUserID string
	// CredentialsAPIURL lists the caller's credentials (GET): after a
	// change, the ones still accepted are signalled to the browser.
	CredentialsAPIURL string
	// SessionEndsISO is when the session ends: app.js warns a few minutes
	// before and says when it has. SignInAgainURL signs in and comes back
	// to this page.
	SessionEndsISO string
	SignInAgainURL string
}

// NavLink is one entry of the console's navigation.
type NavLink struct {
	Key     string // names the link for tests: data-testid="nav-<Key>"
	Label   string
	URL     string
	Current bool // the page being shown: aria-current="page"
}

// SignedAction is a button that sends one exact request under User Action
// Signing: app.js shows Summary's server-side twin in the approve dialog,
// asks the passkey, then sends Method Path with Body (a JSON text, "" for
// none) unchanged.
type SignedAction struct {
	Label  string
	TestID string
	Method string
	Path   string
	Body   string
	Danger bool // styled as a destructive action
	// Row names what the button acts on, for its accessible name:
	// "Deactivate" reads "Deactivate YubiKey" to a screen reader.
	Row string
	// DisabledReason, when set, disables the button and says why next to
	// it: the console knows in advance the server would refuse.
	DisabledReason string
	// Reveal names the secret panel (data-testid) that shows what the
	// answer carries once, such as a new invitation link.
	Reveal string
	// Signal names what app.js tells the browser after the change (the
	// WebAuthn Signal API): "credentials" re-sends the caller's accepted
	// passkeys; "user:<handle>" says that user has none left.
	Signal string
}

// SignedForm is a form whose fields complete a request body before it is
// signed: Body is the JSON object the named fields are added to.
type SignedForm struct {
	Method string
	Path   string
	Body   string
}

// Status is the state of a listed thing, as a word and a style.
type Status struct {
	Label string // "Active", "Inactive", "Archived", "Invited"
	Kind  string // "active", "inactive", "archived", "pending"
}

// Option is one choice of a <select>.
type Option struct {
	Value    string
	Label    string
	Disabled bool // shown, but it cannot be chosen (the label says why)
}

// CredentialRow is one credential in the console's lists, formatted for
// reading.
type CredentialRow struct {
	Name           string
	Kind           string // "Fido2" or "Key": which list it is in
	CredentialUUID string
	// Description says what it is in plain words, from its provider's
	// AAGUID: "Passkey in Google Password Manager", "Security key: YubiKey
	// 5 Series", "Key for scripts".
	Description string
	Icon        string // "synced", "device", "security-key" or "key"
	Created     string
	LastUsed    string // the later of the two below, "Never" when unused
	LastLogin   string // "Never" when never used to sign in
	LastSign    string // "Never" when never used to approve an action
	// Storage says where it lives: "Synced across your devices", "Stays on
	// this security key", "Stays on the device that made it", or "" for a Key.
	Storage string
	Active  bool
	Rename  SignedForm     // PUT /auth/credentials/name with credentialUuid
	Actions []SignedAction // Deactivate or Activate
}

// ConsoleView is the signed-in user's home.
type ConsoleView struct {
	Frame
	UserID         string
	SessionEnds    string // for reading, e.g. "14:05 UTC"
	SessionEndsISO string // for <time datetime>
	CredentialsURL string // the Credentials page
	Credentials    []CredentialRow
	Nudge          *BackupNudge // nil once the person has a backup
}

// CredentialsView is the page where a person manages the passkeys and keys
// that sign for them.
type CredentialsView struct {
	Frame
	InitURL      string // POST {kind} -> credential challenge
	CreateURL    string // POST NewCredential, signed
	ProvidersURL string // GET {aaguid: name}: names a new passkey after its provider
	Passkeys     []CredentialRow
	Keys         []CredentialRow // keys for scripts
	Recovery     RecoveryPanels
}

// ActivityRow is one entry of the security log: an approved signed
// request, a sign-in or a refused sign-in.
type ActivityRow struct {
	ID         string
	Kind       string // "approval", "sign-in" or "failed"
	KindLabel  string
	Time       string // UTC, for reading without script
	TimeISO    string // app.js shows it in local time, relative, exact on hover
	User       string
	Credential string // the name of the credential used, or its id
	Method     string // approvals only
	Path       string
	// Upstream says where the gateway forwarded an approved request and
	// what it answered: "orders answered 201", "orders: unreachable".
	Upstream  string
	Summary   string
	Signature *ActivitySignature // approvals only
}

// ActivitySignature is what an approval's audit entry stores: enough to
// check, without countersign, that this credential signed this request.
type ActivitySignature struct {
	AuditID           string
	CredentialID      string
	CredentialKind    string
	PublicKey         string
	Payload           string // the signed body, indented
	ClientData        string // indented JSON
	AuthenticatorData string // base64url, passkeys only
	Signature         string // base64url
}

// ActivityFilter is what the log shows, as the filter form holds it.
type ActivityFilter struct {
	Person string // a user id
	Kind   string // "", "approvals", "sign-ins", "failed"
	From   string // YYYY-MM-DD
	To     string
}

// ActivityView is the security log, newest first, a page at a time.
// OwnOnly says the caller may not read the organisation's log and sees
// only their own entries.
type ActivityView struct {
	Frame
	OwnOnly    bool
	Filter     ActivityFilter
	People     []Option // the person filter's choices (the organisation's log only)
	Rows       []ActivityRow
	OlderURL   string // the next page, "" when this is the last
	NewestURL  string // back to the first page, "" on it
	ExportCSV  string
	ExportJSON string
}

// TokenRow is a personal access token or a service account's token.
type TokenRow struct {
	Name     string
	TokenID  string
	Scope    string // a PAT's scope in words, fixed when it was made; "" for others
	Created  string
	Expires  string
	LastUsed string // "Never" when unused
	Status   Status
	Actions  []SignedAction
}

// TokensView lists the caller's personal access tokens.
type TokensView struct {
	Frame
	CanCreate   bool
	Create      SignedForm // POST /auth/pats
	Permissions []Option   // what a new token may be limited to
	Tokens      []TokenRow
}

// ServiceAccountRow is one service account with its token.
type ServiceAccountRow struct {
	Name        string
	UserID      string
	Created     string
	Permissions string // the names of its permissions, comma-separated
	Tokens      []TokenRow
	Status      Status
	Actions     []SignedAction
}

// ServiceAccountsView lists the organisation's service accounts.
type ServiceAccountsView struct {
	Frame
	CanRead     bool
	CanCreate   bool
	Create      SignedForm // POST /auth/service-accounts
	Permissions []Option   // what a new service account may be given
	Accounts    []ServiceAccountRow
}

// UserRow is one person of the organisation.
type UserRow struct {
	Username    string
	UserID      string
	Kind        string
	Permissions string // the names of their permissions, comma-separated
	Status      Status
	IsYou       bool
	// Invitation says, for someone invited who has not registered, when
	// their link expires (or that it has).
	Invitation           string
	InvitationExpiresISO string
	Actions              []SignedAction
}

// UsersView lists the organisation's people.
type UsersView struct {
	Frame
	CanRead   bool
	CanInvite bool
	Invite    SignedForm // POST /auth/users
	Users     []UserRow
}

// PermissionRow is one permission with the identities it is assigned to.
type PermissionRow struct {
	Name       string
	ID         string
	Operations []string
	Assignees  []Assignee
	Status     Status
	Immutable  bool
	Assign     SignedForm // POST /permissions/:id/assignments, "" when it cannot be assigned
	Choices    []Option   // who it can be assigned to
	Actions    []SignedAction
}

// Assignee is one identity a permission is assigned to, and the button
// that revokes it (nil without Permissions:Revoke).
type Assignee struct {
	Label  string
	Revoke *SignedAction
}

// PermissionsView lists the organisation's permissions.
type PermissionsView struct {
	Frame
	CanRead    bool
	CanCreate  bool
	Create     SignedForm // POST /permissions
	Operations []string   // every operation a permission may list
	Rows       []PermissionRow
}

// ErrorView is an error page: the HTTP status, a short title and a message
// safe to show.
type ErrorView struct {
	Status  int
	Title   string
	Message string
}

// SessionRow is one of the person's active sessions: a console sign-in or
// a login token of the API, with where it came from.
type SessionRow struct {
	TokenID     string
	Device      string // "Chrome on Linux"
	Address     string // the client address it signed in from
	Via         string // "Console" or "API login token"
	Credential  string // the name of the credential it signed in with
	SignedIn    string
	SignedInISO string
	Ends        string
	EndsISO     string
	Current     bool // this browser's session
	Actions     []SignedAction
}

// SessionsView lists the person's sessions.
type SessionsView struct {
	Frame
	Sessions      []SessionRow
	SignOutOthers SignedAction // disabled with its reason when there is none
}

// ServicesView lists the services behind the gateway and lets a person send
// their routes a request: a read straight away, a change once approved
// with a passkey, exactly as a client of the service would.
type ServicesView struct {
	Frame
	Services []ServiceView
}

// ServiceView is one upstream.
type ServiceView struct {
	Name   string
	Prefix string
	Routes []ServiceRoute
}

// ServiceRoute is one route of an upstream.
type ServiceRoute struct {
	ID        string // unique among the page's routes, for labels
	Method    string
	Pattern   string // the path pattern, :params included
	Operation string // "" for a public route
	Public    bool
	Signed    bool   // a change: sent only once approved
	Allowed   bool   // the person holds the operation (or the route is public)
	Body      string // an example body to edit, "" for a read
}
