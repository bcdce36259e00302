package store

import (
	"context"
	"errors"
	"time"
)

// Sentinel errors. Backends wrap them; callers test with errors.Is.
var (
	// ErrNotFound: the entity does not exist (or, for a consume, was already
	// consumed or has expired).
	ErrNotFound = errors.New("not found")
	// ErrConflict: a unique constraint would be violated.
	ErrConflict = errors.New("conflict")
	// ErrActionUsed: the user action authorising a change was already used,
	// has expired or does not exist; the change was not made.
	ErrActionUsed = errors.New("user action already used or expired")
	// ErrLastCredential: the change would leave a user without an active
	// credential.
	ErrLastCredential = errors.New("last active credential")
	// ErrImmutable: the permission or assignment is built in and cannot be
	// changed or revoked.
	ErrImmutable = errors.New("immutable")
	// ErrSignCount: a credential's stored sign counter is already at or
	// past the one being recorded (another assertion, perhaps by a clone,
	// won the race); nothing was recorded.
	ErrSignCount = errors.New("sign counter did not increase")
	// ErrArchived: the credential was archived (by a recovery, or replaced
	// by a newer recovery key) and can never be activated again.
	ErrArchived = errors.New("archived")
	// ErrUnavailable: the database could not be reached or could not
	// write (connection lost, disk full or read-only, locked for too
	// long). The request may succeed if retried later.
	ErrUnavailable = errors.New("store unavailable")
)

// Store is the whole persistence contract. Every method takes ctx first,
// returns values (never nil, nil for not found) and is one unit of work:
// a method that writes several rows writes all of them or none.
type Store interface {
	// Close releases the backend's resources.
	Close() error
	// Ping writes to the database and commits, so that it fails when the
	// store cannot serve writes (reads alone may still work on a full or
	// read-only disk); ErrUnavailable then.
	Ping(ctx context.Context) error

	// Invite creates, in one transaction, what an invitation needs: the
	// organisation when in.Org is set, the user, its registration code, and
	// the optional permission and assignment (the owner's full-admin grant).
	// With in.FirstOrg, in.Org must be the store's first organisation: when
	// one exists already nothing is written and the error is ErrConflict,
	// so servers starting together on one database create one.
	Invite(ctx context.Context, in Invitation) error
	// GetOrg returns one organisation.
	GetOrg(ctx context.Context, id string) (Org, error)
	// ListOrgs returns every organisation, oldest first.
	ListOrgs(ctx context.Context) ([]Org, error)

	// GetUser returns a user by id.
	GetUser(ctx context.Context, id string) (User, error)
	// GetUserByUsername returns the user of an organisation with that
	// username (compared case-insensitively).
	GetUserByUsername(ctx context.Context, orgID, username string) (User, error)
	// GetUserByHandle returns the user with that WebAuthn user handle.
	GetUserByHandle(ctx context.Context, handle string) (User, error)
	// GetRegistrationCode returns the pending registration code of a user.
	GetRegistrationCode(ctx context.Context, userID string) (RegistrationCode, error)
	// RenewRegistrationCode replaces (or gives) the registration code of a
	// user who has not registered yet, so a lost invitation can be issued
	// again; ErrNotFound when the user does not exist or has registered.
	RenewRegistrationCode(ctx context.Context, code RegistrationCode) error
	// CompleteRegistration atomically consumes the user's registration code
	// (it must exist, match r.CodeHash and not be expired at r.Now,
	// otherwise ErrNotFound), inserts the credentials (a credential id
	// already stored anywhere gives ErrConflict), marks the user registered
	// and records r's result under r.CeremonyID, so that the same request
	// sent again after a lost answer can be answered alike.
	CompleteRegistration(ctx context.Context, r Registration) error
	// GetRegistrationResult returns the result recorded for a completed
	// registration ceremony; ErrNotFound when none is, or it has expired.
	GetRegistrationResult(ctx context.Context, ceremonyID string, now time.Time) (RegistrationResult, error)

	// CreateCredential inserts a credential; ErrConflict when its CredID is
	// already registered.
	CreateCredential(ctx context.Context, c Credential) error
	// GetCredentialByCredID returns the credential with that wire credential id.
	GetCredentialByCredID(ctx context.Context, credID string) (Credential, error)
	// ListCredentials returns a user's credentials, oldest first.
	ListCredentials(ctx context.Context, userID string) ([]Credential, error)
	// RecordCredentialUse stores, in one statement, the sign counter, the
	// flags and the time of a successful login or signature. The statement
	// itself checks that the credential is still active and that the stored
	// counter is below use.SignCount (or both are 0, as synced passkeys
	// report), so of two assertions racing with one counter value only one
	// is recorded: ErrSignCount for the other, ErrNotFound when the
	// credential is gone or inactive.
	RecordCredentialUse(ctx context.Context, id string, use CredentialUse) error

	// CreateChallenge stores a ceremony challenge.
	CreateChallenge(ctx context.Context, c Challenge) error
	// CreateChallengeCapped stores a challenge and, in the same
	// transaction, deletes the oldest challenges of the same purpose, user
	// and token beyond maxOpen, so that one identity can never hold more
	// than maxOpen open challenges of a kind.
	CreateChallengeCapped(ctx context.Context, c Challenge, maxOpen int) error
	// ConsumeChallenge deletes and returns a challenge in one statement, so
	// exactly one of many concurrent callers gets it. An expired challenge
	// is deleted too and reported as ErrNotFound.
	ConsumeChallenge(ctx context.Context, id string, now time.Time) (Challenge, error)

	// SpendChallenge records a sealed challenge (one the store never held:
	// its state travels in its identifier) as spent, so it cannot be
	// finished again; ErrConflict when it already is. A failed attempt to
	// finish one spends it with this alone.
	SpendChallenge(ctx context.Context, c SpentChallenge) error
	// RecordAssertion writes what a verified assertion of a sealed
	// challenge produces, in one transaction: the challenge spent
	// (ErrConflict when it already was: nothing else is written), the
	// credential's use as RecordCredentialUse records it, and the login
	// token or the user action it was for. When the credential's use cannot
	// be recorded (ErrSignCount, or ErrNotFound for a credential gone or
	// inactive) the challenge is spent all the same and nothing else is
	// written.
	RecordAssertion(ctx context.Context, r AssertionRecord) error

	// CreateToken records an issued bearer token.
	CreateToken(ctx context.Context, t Token) error
	// GetToken returns an issued token.
	GetToken(ctx context.Context, id string) (Token, error)
	// GetBearer returns, in one query, an issued token with its user and,
	// for a PAT or a service account's token, its access token: what every
	// authenticated request checks. kind is the token's kind as its
	// verified claims say: a TokenLogin bearer is read without looking for
	// an access token (it has none). The stored kind is returned, for the
	// caller to compare with the claims.
	GetBearer(ctx context.Context, tokenID, kind string) (Bearer, error)
	// RevokeToken marks a token revoked; ErrNotFound if unknown.
	RevokeToken(ctx context.Context, id string, now time.Time) error
	// LatestTokenExpiry returns the latest expiry of the unrevoked tokens
	// created before createdBefore (the zero time when there is none):
	// until then a signing key retired at createdBefore must stay published.
	LatestTokenExpiry(ctx context.Context, createdBefore time.Time) (time.Time, error)

	// ListAssignments returns the permissions assigned to an identity (user
	// id or token id), with their names and operations, skipping archived
	// permissions.
	ListAssignments(ctx context.Context, identityID string) ([]AssignmentInfo, error)

	// EnsureSecret stores value under name unless a value is already there,
	// and returns the stored value: replicas starting together agree on one.
	EnsureSecret(ctx context.Context, name string, value []byte) ([]byte, error)
	// UpdateSecret replaces a stored secret with update(current value), in
	// one transaction, and returns the new value; ErrNotFound when there is
	// no secret of that name. An error from update changes nothing.
	UpdateSecret(ctx context.Context, name string, update func(current []byte) ([]byte, error)) ([]byte, error)

	// GetCredential returns a credential by its id (cr-…).
	GetCredential(ctx context.Context, id string) (Credential, error)

	// CreateUserAction stores a verified user action, redeemable once.
	CreateUserAction(ctx context.Context, a UserAction) error
	// GetUserAction returns a user action, used or not.
	GetUserAction(ctx context.Context, id string) (UserAction, error)
	// GetUserActionCredential returns a user action, used or not, with the
	// credential that signed it, in one read.
	GetUserActionCredential(ctx context.Context, id string) (UserAction, Credential, error)
	// RecordUserActionMismatch counts one attempt to use an unused user
	// action on a request it was not signed for; the limit-th attempt marks
	// it used at now, so a leaked or misused action cannot be retried
	// forever. It reports whether the action is now spent.
	RecordUserActionMismatch(ctx context.Context, id string, now time.Time, limit int) (bool, error)

	// The signed changes below are each one transaction with the
	// consumption of the user action that authorises them (s.ActionID must be
	// unused and unexpired at s.Now, else ErrActionUsed) and the insertion of
	// s.Audit: all three happen or none does.

	// CreateCredentialSigned adds a credential (ErrConflict on a known
	// CredID). Adding a RecoveryKey archives the user's other recovery keys
	// in the same transaction: a person holds one recovery code at a time.
	CreateCredentialSigned(ctx context.Context, s Signed, c Credential) error
	// SetCredentialActive activates or deactivates a credential of userID
	// (ErrNotFound if it is not theirs, ErrArchived when activating an
	// archived one). Deactivating the user's last active sign-in credential
	// (Fido2 or Key: a recovery key cannot sign in) gives ErrLastCredential.
	SetCredentialActive(ctx context.Context, s Signed, userID, credentialID string, active bool) error
	// RenameCredential renames a credential of userID (ErrNotFound if it is
	// not theirs).
	RenameCredential(ctx context.Context, s Signed, userID, credentialID, name string) error

	// RecordSignedRequest consumes s.ActionID and writes s.Audit in one
	// transaction, the rule of the signed changes below with no change of
	// the store's own: a gateway request is spent before it is forwarded.
	RecordSignedRequest(ctx context.Context, s Signed) error
	// SetAuditUpstreamStatus records what the upstream of a forwarded
	// signed request answered, on its audit entry of orgID.
	SetAuditUpstreamStatus(ctx context.Context, orgID, auditID, status string) error

	// ListAuditEntries returns the audit entries of an organisation within
	// [q.Start, q.End), optionally of one user, oldest first (newest first
	// with q.NewestFirst), at most q.Limit. Listed entries leave out the
	// large columns (Payload, ClientData, AuthenticatorData, Signature,
	// CredentialPublicKey): GetAuditEntry has them.
	ListAuditEntries(ctx context.Context, q AuditQuery) ([]AuditEntry, error)
	// GetAuditEntry returns one audit entry of an organisation.
	GetAuditEntry(ctx context.Context, orgID, id string) (AuditEntry, error)

	// Machine identities, users and permissions (spec §4.4-§4.6, §4.9).
	// Every Signed method follows the rule above: the change, the consumed
	// user action and the audit entry are one transaction.

	// CreateAccessTokenSigned creates a personal access token: its token
	// row (kind t.Kind, for bearer verification), its access_token metadata,
	// its Key credential (cred.TokenID == t.ID) and, when a is set, the
	// assignment of a permission to the token (a.IdentityID == t.ID).
	CreateAccessTokenSigned(ctx context.Context, s Signed, t AccessToken, cred Credential, a *Assignment) error
	// CreateServiceAccountSigned creates a service account: its user
	// (u.IsServiceAccount), its first access token, the token's Key
	// credential and, when a is set, a permission assignment to the user.
	CreateServiceAccountSigned(ctx context.Context, s Signed, u User, t AccessToken, cred Credential, a *Assignment) error
	// GetAccessToken returns an access token's metadata.
	GetAccessToken(ctx context.Context, id string) (AccessToken, error)
	// ListAccessTokens returns the access tokens of an organisation,
	// optionally of one linked user and one kind, oldest first.
	ListAccessTokens(ctx context.Context, q AccessTokenQuery) ([]AccessToken, error)
	// UpdateAccessTokenSigned applies p to a token of orgID (ErrNotFound
	// otherwise). Archiving also deactivates.
	UpdateAccessTokenSigned(ctx context.Context, s Signed, orgID, id string, p AccessTokenPatch) error
	// RecordTokenUse stores when an access token was last used, and for
	// what (UseRead or UseSign).
	RecordTokenUse(ctx context.Context, id string, at time.Time, purpose string) error

	// RecordSignIn stores a sign-in event and, in the same transaction,
	// drops the organisation's oldest events of its outcome beyond
	// MaxSignInsKept or MaxFailedSignInsKept (once SignInTrimSlack more
	// have gathered).
	RecordSignIn(ctx context.Context, e SignInEvent) error
	// ListSignInEvents returns sign-in events, newest first (see
	// SignInQuery).
	ListSignInEvents(ctx context.Context, q SignInQuery) ([]SignInEvent, error)
	// GetSignInByToken returns the successful sign-in that issued a login
	// token.
	GetSignInByToken(ctx context.Context, tokenID string) (SignInEvent, error)
	// ListActiveTokens returns a user's tokens of kind that are neither
	// revoked nor expired at now, newest first.
	ListActiveTokens(ctx context.Context, userID, kind string, now time.Time) ([]Token, error)
	// RevokeTokensSigned revokes, as a signed change, those of ids that are
	// login tokens of userID still active at s.Now, and returns how many.
	RevokeTokensSigned(ctx context.Context, s Signed, userID string, ids []string) (int, error)
	// IssueTokenSigned records, as a signed change, a login token issued
	// by delegation (spec §4.1 /auth/login/delegated, t.DelegatedBy set)
	// with its sign-in event; ErrNotFound, writing nothing, when its user
	// is not an active, registered, unarchived user at that moment.
	IssueTokenSigned(ctx context.Context, s Signed, t Token, e SignInEvent) error

	// RenewRegistrationCodeSigned is RenewRegistrationCode as a signed
	// change: an administrator issues a lost invitation again.
	RenewRegistrationCodeSigned(ctx context.Context, s Signed, code RegistrationCode) error
	// CreateUserSigned invites a user as Invite does (in.Org must be nil).
	CreateUserSigned(ctx context.Context, s Signed, in Invitation) error
	// ListUsers pages through an organisation's users, oldest first:
	// at most q.Limit users created after the user q.After.
	ListUsers(ctx context.Context, q UserQuery) ([]User, error)
	// UpdateUserSigned applies p to a user of orgID (ErrNotFound otherwise).
	// Archiving also deactivates. Deactivating or archiving revokes the
	// user's login tokens, and those a service account asked for by
	// delegation, in the same transaction, so activating it again does not
	// bring old sessions back.
	UpdateUserSigned(ctx context.Context, s Signed, orgID, id string, p UserPatch) error

	// CreatePermissionSigned creates a permission; ErrConflict when the
	// organisation already has one of that name (archived ones included).
	CreatePermissionSigned(ctx context.Context, s Signed, p Permission) error
	// GetPermission returns a permission of orgID.
	GetPermission(ctx context.Context, orgID, id string) (Permission, error)
	// ListPermissions pages through an organisation's permissions, oldest
	// first, after q.After, at most q.Limit.
	ListPermissions(ctx context.Context, q PageQuery) ([]Permission, error)
	// UpdatePermissionSigned applies p to a permission of orgID; an
	// immutable permission gives ErrImmutable, a name taken ErrConflict.
	UpdatePermissionSigned(ctx context.Context, s Signed, orgID, id string, p PermissionPatch) error
	// CreateAssignmentSigned assigns a permission (ErrConflict when the
	// identity already holds it).
	CreateAssignmentSigned(ctx context.Context, s Signed, a Assignment) error
	// GetAssignment returns an assignment of orgID.
	GetAssignment(ctx context.Context, orgID, id string) (Assignment, error)
	// ListPermissionHolders returns the identity ids (users, service
	// accounts, PATs) a permission of orgID is assigned to.
	ListPermissionHolders(ctx context.Context, orgID, permissionID string) ([]string, error)
	// ListPermissionAssignments pages through a permission's assignments,
	// oldest first (q.OrgID and permissionID must match).
	ListPermissionAssignments(ctx context.Context, q PageQuery, permissionID string) ([]Assignment, error)
	// DeleteAssignmentSigned revokes an assignment of permissionID in orgID;
	// ErrImmutable for an immutable one, ErrNotFound when absent.
	DeleteAssignmentSigned(ctx context.Context, s Signed, orgID, permissionID, assignmentID string) error

	// One-time codes (recovery verification codes, reset links, credential
	// codes): a user holds at most one of each purpose, so nobody can grow
	// the table beyond users × purposes. Only the code's SHA-256 is kept.

	// PutCode stores c, replacing the user's code of c.Purpose.
	PutCode(ctx context.Context, c Code) error
	// PutCodeSigned is PutCode as a signed change (see above).
	PutCodeSigned(ctx context.Context, s Signed, c Code) error
	// GetCode returns userID's code of purpose, expired or not.
	GetCode(ctx context.Context, purpose, userID string) (Code, error)
	// FindCode returns the unexpired code of purpose whose hash is
	// codeHash; ErrNotFound when there is none.
	FindCode(ctx context.Context, purpose string, codeHash []byte, now time.Time) (Code, error)
	// CompleteCredentialCode adds a credential through a credential code,
	// in one transaction: it consumes the code (CodeCredential of
	// c.UserID, hash codeHash, unexpired at now: else ErrNotFound), checks
	// that the user is active (else ErrNotFound), inserts the credential
	// (ErrConflict on a known CredID) and writes the audit entry.
	CompleteCredentialCode(ctx context.Context, codeHash []byte, now time.Time, c Credential, audit AuditEntry) error
	// Recover replaces every credential and token of a person at once (see
	// Recovery); all of it happens or nothing does.
	Recover(ctx context.Context, r Recovery) error

	// DeleteExpired removes challenges, registration codes, one-time codes,
	// tokens and user actions that expired before now and returns how many
	// rows went.
	DeleteExpired(ctx context.Context, now time.Time) (int64, error)

	// PendingMigrations returns how many of the backend's migrations the
	// database lacks (0 once migrated; a database a newer release migrated
	// further has none pending). It reads the database, so it also tells
	// whether the store answers.
	PendingMigrations(ctx context.Context) (int, error)
}

// Org is an organisation: every other entity belongs to one.
type Org struct {
	ID        string
	Name      string
	CreatedAt time.Time
}

// User kinds (the wire's User.kind).
const (
	KindCustomerEmployee = "CustomerEmployee"
	KindEndUser          = "EndUser"
)

// User is a person (or, later, a service account) of an organisation.
type User struct {
	ID               string
	OrgID            string
	Username         string
	Name             string
	Kind             string
	UserHandle       string // random WebAuthn user handle, never the username
	IsActive         bool
	IsRegistered     bool
	IsServiceAccount bool
	IsArchived       bool
	IsSSORequired    bool
	ExternalID       string
	CreatedAt        time.Time
}

// RegistrationCode is the one-time code an invited user registers with. Only
// its SHA-256 is stored.
type RegistrationCode struct {
	UserID    string
	CodeHash  []byte
	ExpiresAt time.Time
}

// Registration is what CompleteRegistration writes in one transaction.
type Registration struct {
	UserID      string
	CodeHash    []byte
	Now         time.Time
	Credentials []Credential // the first is the one the result names
	CeremonyID  string       // the registration challenge's id
	RequestHash []byte       // SHA-256 of the request that completed it
	ResultUntil time.Time    // how long the result is kept for a repeat
}

// RegistrationResult is what a completed registration answered.
type RegistrationResult struct {
	CeremonyID   string
	UserID       string
	CredentialID string
	RequestHash  []byte
	ExpiresAt    time.Time
}

// Invitation is what Invite writes in one transaction.
type Invitation struct {
	Org        *Org // created when set
	FirstOrg   bool // Org must be the first organisation of the store
	User       User
	Code       RegistrationCode
	Permission *Permission // created when set
	Assignment *Assignment // created when set
}

// Credential kinds.
const (
	CredentialFido2 = "Fido2"
	CredentialKey   = "Key"
	// CredentialRecoveryKey is a key pair whose private key the person
	// keeps encrypted under a recovery code; it signs only a recovery,
	// never a login or an action.
	CredentialRecoveryKey = "RecoveryKey"
)

// Credential is a public key a user signs with.
type Credential struct {
	ID              string // cr-… (the wire's credentialUuid)
	OrgID           string
	UserID          string
	Kind            string // CredentialFido2, CredentialKey or CredentialRecoveryKey
	CredID          string // the wire's credId, unique across the store
	Name            string
	PublicKey       []byte // COSE key for Fido2, PEM for Key and RecoveryKey
	AttestationType string
	AAGUID          []byte
	Transports      []string
	SignCount       uint32
	UserPresent     bool
	UserVerified    bool
	BackupEligible  bool
	BackupState     bool
	Origin          string
	RPID            string
	TokenID         string // set when the credential is an access token's own key, not a user's
	// EncryptedPrivateKey is a RecoveryKey's private key as the client
	// encrypted it (opaque to the server), handed back at recovery.
	EncryptedPrivateKey string
	IsActive            bool
	// IsArchived: retired for good (by a recovery, or a newer recovery
	// key); it is inactive and cannot be activated again.
	IsArchived  bool
	CreatedAt   time.Time
	LastLoginAt *time.Time
	LastSignAt  *time.Time
}

// Credential use purposes for RecordCredentialUse.
const (
	UseLogin = "login"
	UseSign  = "sign"
	UseRead  = "read"
)

// CredentialUse is what a successful assertion updates on its credential.
type CredentialUse struct {
	Purpose      string // UseLogin or UseSign
	SignCount    uint32
	UserVerified bool
	BackupState  bool
	At           time.Time
}

// Challenge purposes.
const (
	PurposeRegistration = "registration"
	PurposeLogin        = "login"
	PurposeCredential   = "credential"
	PurposeAction       = "action"
	// PurposeRecovery: a recovery (by a recovery key or a reset link),
	// finished with the temporary token of its id.
	PurposeRecovery = "recovery"
	// PurposeCodeCredential: a credential added through a credential
	// code, from a device where the person is not signed in.
	PurposeCodeCredential = "code-credential"
)

// Challenge is the server side of a ceremony, stored under a random id and
// consumed by the first attempt to finish it.
type Challenge struct {
	ID        string // challengeIdentifier (or the temporary token id)
	Purpose   string
	Challenge string // the wire challenge string
	OrgID     string
	UserID    string // empty for a usernameless login
	TokenID   string // bearer token that began the ceremony, if any
	Data      []byte // ceremony-specific JSON
	CreatedAt time.Time
	ExpiresAt time.Time
}

// SpentChallenge is a sealed challenge that was finished, or failed to be:
// its id is kept until the challenge expires, so it is finished once.
type SpentChallenge struct {
	ID        string
	ExpiresAt time.Time
}

// AssertionRecord is what RecordAssertion writes for a verified assertion:
// Token for a login, Action for a user action (one of them, or neither).
type AssertionRecord struct {
	Challenge    SpentChallenge
	CredentialID string
	Use          CredentialUse
	Token        *Token
	Action       *UserAction
	// SignIn, when set, is the sign-in event of a login, recorded (and
	// its organisation's log trimmed) as RecordSignIn does.
	SignIn *SignInEvent
	// TokenUse, when set, records the use of the access token the
	// assertion was made under, as RecordTokenUse does.
	TokenUse *TokenUse
}

// TokenUse is when, and for what (UseRead or UseSign), an access token was
// used.
type TokenUse struct {
	TokenID string
	At      time.Time
	Purpose string
}

// Bearer is an issued token with the identity a request made with it acts
// as: its user and, for a machine identity, its access token (nil for a
// login token).
type Bearer struct {
	Token  Token
	User   User
	Access *AccessToken
}

// Token kinds (the JWT claim tokenKind).
const (
	TokenLogin          = "Token"
	TokenTemp           = "Temp"
	TokenPAT            = "Pat"
	TokenServiceAccount = "ServiceAccount"
)

// Token is an issued bearer token. The token string itself is never stored.
type Token struct {
	ID        string // jti
	Kind      string
	OrgID     string
	UserID    string
	CreatedAt time.Time
	ExpiresAt time.Time
	RevokedAt *time.Time
	// DelegatedBy is the service account that asked for a login token by
	// delegation (IssueTokenSigned); deactivating or archiving it revokes
	// the token. "" for every other token.
	DelegatedBy string
}

// Permission is a named set of operations.
type Permission struct {
	ID          string
	OrgID       string
	Name        string
	Operations  []string
	IsImmutable bool
	IsArchived  bool
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// Assignment grants a permission to an identity (user id or token id).
type Assignment struct {
	ID           string
	OrgID        string
	PermissionID string
	IdentityID   string
	IsImmutable  bool
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// AssignmentInfo is an assignment joined with its permission.
type AssignmentInfo struct {
	AssignmentID   string
	PermissionID   string
	PermissionName string
	Operations     []string
}

// UserAction is a verified signature of one exact request (method, path,
// payload) by one identity, exchanged for a one-time token: its ID.
type UserAction struct {
	ID                string
	OrgID             string
	UserID            string
	IdentityID        string // the user id, or the token id for a PAT
	TokenID           string // the bearer token the action was signed under
	CredentialID      string // cr-… that signed
	Method            string
	Path              string // without query string
	Payload           []byte
	ClientData        []byte
	AuthenticatorData []byte
	Signature         []byte
	// Summary is the sentence the person approved, which the audit entry
	// of the change keeps ('' for actions of an older binary).
	Summary   string
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    *time.Time
}

// AuditEntry records one executed signed action with its signature, so
// anyone can later check who approved what.
type AuditEntry struct {
	ID                  string // uj-…
	OrgID               string
	UserID              string
	Username            string
	ActionID            string
	CredentialID        string
	CredentialKind      string
	CredentialPublicKey string
	Method              string
	Path                string
	Payload             []byte
	ClientData          []byte
	AuthenticatorData   []byte
	Signature           []byte
	Summary             string
	// Upstream names the gateway upstream a signed request was forwarded
	// to ("" for countersign's own routes); UpstreamStatus is what it
	// answered: its HTTP status, "unreachable" or "timeout" ("" until then).
	Upstream       string
	UpstreamStatus string
	CreatedAt      time.Time
}

// Signed is what authorises a signed change: the user action consumed with
// it, the time, and the audit entry written with it.
type Signed struct {
	ActionID string
	Now      time.Time
	Audit    AuditEntry
	// TokenUse, when set, records the use of the access token the change
	// was made with, in the same transaction (as RecordTokenUse does).
	TokenUse *TokenUse
}

// AuditQuery selects audit entries.
type AuditQuery struct {
	OrgID  string
	UserID string // optional
	Start  time.Time
	End    time.Time
	Limit  int
	// NewestFirst lists from the end of the range, so Limit keeps the
	// most recent entries.
	NewestFirst bool
}

// PAT scopes (spec §6), fixed when the token is created.
const (
	// ScopeAllUserOperations: the token holds every operation of its user,
	// as they change (a PAT created without a permission; every service
	// account token).
	ScopeAllUserOperations = "AllUserOperations"
	// ScopeAssignedOnly: the token holds its user's operations that its own
	// assignments grant, and nothing once they are gone.
	ScopeAssignedOnly = "AssignedOnly"
)

// AccessToken is a long-lived machine identity: a personal access token
// (Kind TokenPAT, UserID = its owner) or a service account's token (Kind
// TokenServiceAccount, UserID = the service account), bound to a Key
// credential. The token string itself is never stored.
type AccessToken struct {
	ID           string // to-…, also the JWT's jti and the Token row's id
	OrgID        string
	Kind         string
	Name         string
	UserID       string
	CredentialID string // cr-… of its Key credential
	Scope        string // ScopeAllUserOperations or ScopeAssignedOnly
	ExternalID   string
	IsActive     bool
	IsArchived   bool
	CreatedAt    time.Time
	ExpiresAt    time.Time
	LastUsedAt   *time.Time
	LastUsedFor  string // UseRead or UseSign
}

// AccessTokenQuery selects access tokens.
type AccessTokenQuery struct {
	OrgID  string
	UserID string // optional
	Kind   string // optional
}

// AccessTokenPatch changes the fields that are set.
type AccessTokenPatch struct {
	Name       *string
	ExternalID *string
	IsActive   *bool
	IsArchived *bool
}

// UserQuery pages through users.
type UserQuery struct {
	OrgID           string
	Kind            string // optional
	ServiceAccounts *bool  // optional: only (true) or no (false) service accounts
	IncludeArchived bool
	After           string // a user id: list the users created after it
	Limit           int
}

// UserPatch changes the fields that are set.
type UserPatch struct {
	Name          *string
	ExternalID    *string
	IsSSORequired *bool
	IsActive      *bool
	IsArchived    *bool
}

// PageQuery pages through an organisation's entities, oldest first.
type PageQuery struct {
	OrgID string
	After string // an id: list what was created after it
	Limit int
}

// PermissionPatch changes the fields that are set.
type PermissionPatch struct {
	Name       *string
	Operations *[]string
	IsArchived *bool
}

// One-time code purposes.
const (
	// CodeRecovery: the verification code e-mailed before a recovery by a
	// recovery key; it proves the mailbox, the key proves the rest.
	CodeRecovery = "recovery"
	// CodeReset: a reset link an administrator (or the operator) issued;
	// it alone lets a person replace every credential.
	CodeReset = "reset"
	// CodeCredential: a credential code a signed-in person made to add a
	// credential from another device.
	CodeCredential = "credential"
)

// Code is a one-time code of a user. Only its SHA-256 is stored.
type Code struct {
	Purpose   string // CodeRecovery, CodeReset or CodeCredential
	UserID    string
	OrgID     string
	CodeHash  []byte
	IssuedBy  string // who issued a reset link: a user id, or "" for the operator
	CreatedAt time.Time
	ExpiresAt time.Time
}

// Recovery is what Recover writes in one transaction: it consumes the code
// (CodePurpose of UserID, hash CodeHash, unexpired at Now), uses up the
// recovery key RecoveryCredentialID when set (it must be an active,
// unarchived RecoveryKey of the user), checks that the user is active and
// of OrgID, then archives every credential of the person (regular and
// recovery, not their tokens' keys), revokes every bearer token of theirs
// (login, PAT, temporary), archives their PATs, spends their unused user
// actions, drops their open challenges and other one-time codes, inserts
// Credentials and writes Audit. Any unmet condition is ErrNotFound and
// writes nothing.
type Recovery struct {
	UserID               string
	OrgID                string
	CodePurpose          string // CodeRecovery or CodeReset
	CodeHash             []byte
	RecoveryCredentialID string // cr-… of the recovery key that signed (CodeRecovery)
	Credentials          []Credential
	Now                  time.Time
	Audit                AuditEntry
}
