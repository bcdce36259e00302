package metrics

import (
	"context"
	"errors"
	"time"

	"countersign/store"
)

// Store times every method of the store it wraps and counts its results.
// Methods of store.Store not written out here pass through untimed (a new
// method of the interface compiles at once); TestStoreTimesEveryMethod
// names any that is missing.
type Store struct {
	store.Store
	m *Metrics
}

// WrapStore returns st with every operation timed in m.
func WrapStore(st store.Store, m *Metrics) *Store { return &Store{Store: st, m: m} }

// observe records one operation that began at start and ended with *err.
func (w *Store) observe(op string, start time.Time, err *error) {
	w.m.storeDuration.WithLabelValues(op).Observe(time.Since(start).Seconds())
	w.m.storeOps.WithLabelValues(op, result(*err)).Inc()
}

// result classifies an operation's error: the store's sentinels are answers
// (a missing row, a taken name, a spent action), anything else a failure.
func result(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, store.ErrNotFound):
		return "not_found"
	case errors.Is(err, store.ErrConflict):
		return "conflict"
	case errors.Is(err, store.ErrActionUsed), errors.Is(err, store.ErrLastCredential), errors.Is(err, store.ErrImmutable):
		return "refused"
	default:
		return "error"
	}
}

func (w *Store) Ping(ctx context.Context) (err error) {
	defer w.observe("Ping", time.Now(), &err)
	return w.Store.Ping(ctx)
}

func (w *Store) Invite(ctx context.Context, in store.Invitation) (err error) {
	defer w.observe("Invite", time.Now(), &err)
	return w.Store.Invite(ctx, in)
}

func (w *Store) GetOrg(ctx context.Context, id string) (_ store.Org, err error) {
	defer w.observe("GetOrg", time.Now(), &err)
	return w.Store.GetOrg(ctx, id)
}

func (w *Store) ListOrgs(ctx context.Context) (_ []store.Org, err error) {
	defer w.observe("ListOrgs", time.Now(), &err)
	return w.Store.ListOrgs(ctx)
}

func (w *Store) GetUser(ctx context.Context, id string) (_ store.User, err error) {
	defer w.observe("GetUser", time.Now(), &err)
	return w.Store.GetUser(ctx, id)
}

func (w *Store) GetUserByUsername(ctx context.Context, orgID string, username string) (_ store.User, err error) {
	defer w.observe("GetUserByUsername", time.Now(), &err)
	return w.Store.GetUserByUsername(ctx, orgID, username)
}

func (w *Store) GetUserByHandle(ctx context.Context, handle string) (_ store.User, err error) {
	defer w.observe("GetUserByHandle", time.Now(), &err)
	return w.Store.GetUserByHandle(ctx, handle)
}

func (w *Store) GetRegistrationCode(ctx context.Context, userID string) (_ store.RegistrationCode, err error) {
	defer w.observe("GetRegistrationCode", time.Now(), &err)
	return w.Store.GetRegistrationCode(ctx, userID)
}

func (w *Store) RenewRegistrationCode(ctx context.Context, code store.RegistrationCode) (err error) {
	defer w.observe("RenewRegistrationCode", time.Now(), &err)
	return w.Store.RenewRegistrationCode(ctx, code)
}

func (w *Store) CompleteRegistration(ctx context.Context, r store.Registration) (err error) {
	defer w.observe("CompleteRegistration", time.Now(), &err)
	return w.Store.CompleteRegistration(ctx, r)
}

func (w *Store) GetRegistrationResult(ctx context.Context, ceremonyID string, now time.Time) (_ store.RegistrationResult, err error) {
	defer w.observe("GetRegistrationResult", time.Now(), &err)
	return w.Store.GetRegistrationResult(ctx, ceremonyID, now)
}

func (w *Store) CreateCredential(ctx context.Context, c store.Credential) (err error) {
	defer w.observe("CreateCredential", time.Now(), &err)
	return w.Store.CreateCredential(ctx, c)
}

func (w *Store) GetCredentialByCredID(ctx context.Context, credID string) (_ store.Credential, err error) {
	defer w.observe("GetCredentialByCredID", time.Now(), &err)
	return w.Store.GetCredentialByCredID(ctx, credID)
}

func (w *Store) ListCredentials(ctx context.Context, userID string) (_ []store.Credential, err error) {
	defer w.observe("ListCredentials", time.Now(), &err)
	return w.Store.ListCredentials(ctx, userID)
}

func (w *Store) RecordCredentialUse(ctx context.Context, id string, use store.CredentialUse) (err error) {
	defer w.observe("RecordCredentialUse", time.Now(), &err)
	return w.Store.RecordCredentialUse(ctx, id, use)
}

func (w *Store) CreateChallenge(ctx context.Context, c store.Challenge) (err error) {
	defer w.observe("CreateChallenge", time.Now(), &err)
	return w.Store.CreateChallenge(ctx, c)
}

func (w *Store) CreateChallengeCapped(ctx context.Context, c store.Challenge, maxOpen int) (err error) {
	defer w.observe("CreateChallengeCapped", time.Now(), &err)
	return w.Store.CreateChallengeCapped(ctx, c, maxOpen)
}

func (w *Store) ConsumeChallenge(ctx context.Context, id string, now time.Time) (_ store.Challenge, err error) {
	defer w.observe("ConsumeChallenge", time.Now(), &err)
	return w.Store.ConsumeChallenge(ctx, id, now)
}

func (w *Store) CreateToken(ctx context.Context, t store.Token) (err error) {
	defer w.observe("CreateToken", time.Now(), &err)
	return w.Store.CreateToken(ctx, t)
}

func (w *Store) SpendChallenge(ctx context.Context, c store.SpentChallenge) (err error) {
	defer w.observe("SpendChallenge", time.Now(), &err)
	return w.Store.SpendChallenge(ctx, c)
}

func (w *Store) RecordAssertion(ctx context.Context, r store.AssertionRecord) (err error) {
	defer w.observe("RecordAssertion", time.Now(), &err)
	return w.Store.RecordAssertion(ctx, r)
}

func (w *Store) GetBearer(ctx context.Context, tokenID, kind string) (_ store.Bearer, err error) {
	defer w.observe("GetBearer", time.Now(), &err)
	return w.Store.GetBearer(ctx, tokenID, kind)
}

func (w *Store) GetToken(ctx context.Context, id string) (_ store.Token, err error) {
	defer w.observe("GetToken", time.Now(), &err)
	return w.Store.GetToken(ctx, id)
}

func (w *Store) RevokeToken(ctx context.Context, id string, now time.Time) (err error) {
	defer w.observe("RevokeToken", time.Now(), &err)
	return w.Store.RevokeToken(ctx, id, now)
}

func (w *Store) LatestTokenExpiry(ctx context.Context, createdBefore time.Time) (_ time.Time, err error) {
	defer w.observe("LatestTokenExpiry", time.Now(), &err)
	return w.Store.LatestTokenExpiry(ctx, createdBefore)
}

func (w *Store) ListAssignments(ctx context.Context, identityID string) (_ []store.AssignmentInfo, err error) {
	defer w.observe("ListAssignments", time.Now(), &err)
	return w.Store.ListAssignments(ctx, identityID)
}

func (w *Store) EnsureSecret(ctx context.Context, name string, value []byte) (_ []byte, err error) {
	defer w.observe("EnsureSecret", time.Now(), &err)
	return w.Store.EnsureSecret(ctx, name, value)
}

func (w *Store) UpdateSecret(ctx context.Context, name string, update func(current []byte) ([]byte, error)) (_ []byte, err error) {
	defer w.observe("UpdateSecret", time.Now(), &err)
	return w.Store.UpdateSecret(ctx, name, update)
}

func (w *Store) GetCredential(ctx context.Context, id string) (_ store.Credential, err error) {
	defer w.observe("GetCredential", time.Now(), &err)
	return w.Store.GetCredential(ctx, id)
}

func (w *Store) CreateUserAction(ctx context.Context, a store.UserAction) (err error) {
	defer w.observe("CreateUserAction", time.Now(), &err)
	return w.Store.CreateUserAction(ctx, a)
}

func (w *Store) GetUserAction(ctx context.Context, id string) (_ store.UserAction, err error) {
	defer w.observe("GetUserAction", time.Now(), &err)
	return w.Store.GetUserAction(ctx, id)
}

func (w *Store) GetUserActionCredential(ctx context.Context, id string) (_ store.UserAction, _ store.Credential, err error) {
	defer w.observe("GetUserActionCredential", time.Now(), &err)
	return w.Store.GetUserActionCredential(ctx, id)
}

func (w *Store) RecordUserActionMismatch(ctx context.Context, id string, now time.Time, limit int) (_ bool, err error) {
	defer w.observe("RecordUserActionMismatch", time.Now(), &err)
	return w.Store.RecordUserActionMismatch(ctx, id, now, limit)
}

func (w *Store) CreateCredentialSigned(ctx context.Context, s store.Signed, c store.Credential) (err error) {
	defer w.observe("CreateCredentialSigned", time.Now(), &err)
	return w.Store.CreateCredentialSigned(ctx, s, c)
}

func (w *Store) SetCredentialActive(ctx context.Context, s store.Signed, userID string, credentialID string, active bool) (err error) {
	defer w.observe("SetCredentialActive", time.Now(), &err)
	return w.Store.SetCredentialActive(ctx, s, userID, credentialID, active)
}

func (w *Store) RenameCredential(ctx context.Context, s store.Signed, userID string, credentialID string, name string) (err error) {
	defer w.observe("RenameCredential", time.Now(), &err)
	return w.Store.RenameCredential(ctx, s, userID, credentialID, name)
}

func (w *Store) ListAuditEntries(ctx context.Context, q store.AuditQuery) (_ []store.AuditEntry, err error) {
	defer w.observe("ListAuditEntries", time.Now(), &err)
	return w.Store.ListAuditEntries(ctx, q)
}

func (w *Store) GetAuditEntry(ctx context.Context, orgID string, id string) (_ store.AuditEntry, err error) {
	defer w.observe("GetAuditEntry", time.Now(), &err)
	return w.Store.GetAuditEntry(ctx, orgID, id)
}

func (w *Store) CreateAccessTokenSigned(ctx context.Context, s store.Signed, t store.AccessToken, cred store.Credential, a *store.Assignment) (err error) {
	defer w.observe("CreateAccessTokenSigned", time.Now(), &err)
	return w.Store.CreateAccessTokenSigned(ctx, s, t, cred, a)
}

func (w *Store) CreateServiceAccountSigned(ctx context.Context, s store.Signed, u store.User, t store.AccessToken, cred store.Credential, a *store.Assignment) (err error) {
	defer w.observe("CreateServiceAccountSigned", time.Now(), &err)
	return w.Store.CreateServiceAccountSigned(ctx, s, u, t, cred, a)
}

func (w *Store) GetAccessToken(ctx context.Context, id string) (_ store.AccessToken, err error) {
	defer w.observe("GetAccessToken", time.Now(), &err)
	return w.Store.GetAccessToken(ctx, id)
}

func (w *Store) ListAccessTokens(ctx context.Context, q store.AccessTokenQuery) (_ []store.AccessToken, err error) {
	defer w.observe("ListAccessTokens", time.Now(), &err)
	return w.Store.ListAccessTokens(ctx, q)
}

func (w *Store) UpdateAccessTokenSigned(ctx context.Context, s store.Signed, orgID string, id string, p store.AccessTokenPatch) (err error) {
	defer w.observe("UpdateAccessTokenSigned", time.Now(), &err)
	return w.Store.UpdateAccessTokenSigned(ctx, s, orgID, id, p)
}

func (w *Store) RecordTokenUse(ctx context.Context, id string, at time.Time, purpose string) (err error) {
	defer w.observe("RecordTokenUse", time.Now(), &err)
	return w.Store.RecordTokenUse(ctx, id, at, purpose)
}

func (w *Store) CreateUserSigned(ctx context.Context, s store.Signed, in store.Invitation) (err error) {
	defer w.observe("CreateUserSigned", time.Now(), &err)
	return w.Store.CreateUserSigned(ctx, s, in)
}

func (w *Store) ListUsers(ctx context.Context, q store.UserQuery) (_ []store.User, err error) {
	defer w.observe("ListUsers", time.Now(), &err)
	return w.Store.ListUsers(ctx, q)
}

func (w *Store) UpdateUserSigned(ctx context.Context, s store.Signed, orgID string, id string, p store.UserPatch) (err error) {
	defer w.observe("UpdateUserSigned", time.Now(), &err)
	return w.Store.UpdateUserSigned(ctx, s, orgID, id, p)
}

func (w *Store) CreatePermissionSigned(ctx context.Context, s store.Signed, p store.Permission) (err error) {
	defer w.observe("CreatePermissionSigned", time.Now(), &err)
	return w.Store.CreatePermissionSigned(ctx, s, p)
}

func (w *Store) GetPermission(ctx context.Context, orgID string, id string) (_ store.Permission, err error) {
	defer w.observe("GetPermission", time.Now(), &err)
	return w.Store.GetPermission(ctx, orgID, id)
}

func (w *Store) ListPermissions(ctx context.Context, q store.PageQuery) (_ []store.Permission, err error) {
	defer w.observe("ListPermissions", time.Now(), &err)
	return w.Store.ListPermissions(ctx, q)
}

func (w *Store) UpdatePermissionSigned(ctx context.Context, s store.Signed, orgID string, id string, p store.PermissionPatch) (err error) {
	defer w.observe("UpdatePermissionSigned", time.Now(), &err)
	return w.Store.UpdatePermissionSigned(ctx, s, orgID, id, p)
}

func (w *Store) CreateAssignmentSigned(ctx context.Context, s store.Signed, a store.Assignment) (err error) {
	defer w.observe("CreateAssignmentSigned", time.Now(), &err)
	return w.Store.CreateAssignmentSigned(ctx, s, a)
}

func (w *Store) GetAssignment(ctx context.Context, orgID string, id string) (_ store.Assignment, err error) {
	defer w.observe("GetAssignment", time.Now(), &err)
	return w.Store.GetAssignment(ctx, orgID, id)
}

func (w *Store) ListPermissionHolders(ctx context.Context, orgID string, permissionID string) (_ []string, err error) {
	defer w.observe("ListPermissionHolders", time.Now(), &err)
	return w.Store.ListPermissionHolders(ctx, orgID, permissionID)
}

func (w *Store) ListPermissionAssignments(ctx context.Context, q store.PageQuery, permissionID string) (_ []store.Assignment, err error) {
	defer w.observe("ListPermissionAssignments", time.Now(), &err)
	return w.Store.ListPermissionAssignments(ctx, q, permissionID)
}

func (w *Store) DeleteAssignmentSigned(ctx context.Context, s store.Signed, orgID string, permissionID string, assignmentID string) (err error) {
	defer w.observe("DeleteAssignmentSigned", time.Now(), &err)
	return w.Store.DeleteAssignmentSigned(ctx, s, orgID, permissionID, assignmentID)
}

func (w *Store) DeleteExpired(ctx context.Context, now time.Time) (_ int64, err error) {
	defer w.observe("DeleteExpired", time.Now(), &err)
	return w.Store.DeleteExpired(ctx, now)
}

func (w *Store) PendingMigrations(ctx context.Context) (_ int, err error) {
	defer w.observe("PendingMigrations", time.Now(), &err)
	return w.Store.PendingMigrations(ctx)
}

func (w *Store) RecordSignedRequest(ctx context.Context, sg store.Signed) (err error) {
	defer w.observe("RecordSignedRequest", time.Now(), &err)
	return w.Store.RecordSignedRequest(ctx, sg)
}

func (w *Store) SetAuditUpstreamStatus(ctx context.Context, orgID, auditID, status string) (err error) {
	defer w.observe("SetAuditUpstreamStatus", time.Now(), &err)
	return w.Store.SetAuditUpstreamStatus(ctx, orgID, auditID, status)
}

// The store methods the console added (issue 11), timed like the others.

func (w *Store) RenewRegistrationCodeSigned(ctx context.Context, s store.Signed, code store.RegistrationCode) (err error) {
	defer w.observe("RenewRegistrationCodeSigned", time.Now(), &err)
	return w.Store.RenewRegistrationCodeSigned(ctx, s, code)
}

func (w *Store) RecordSignIn(ctx context.Context, e store.SignInEvent) (err error) {
	defer w.observe("RecordSignIn", time.Now(), &err)
	return w.Store.RecordSignIn(ctx, e)
}

func (w *Store) ListSignInEvents(ctx context.Context, q store.SignInQuery) (_ []store.SignInEvent, err error) {
	defer w.observe("ListSignInEvents", time.Now(), &err)
	return w.Store.ListSignInEvents(ctx, q)
}

func (w *Store) GetSignInByToken(ctx context.Context, tokenID string) (_ store.SignInEvent, err error) {
	defer w.observe("GetSignInByToken", time.Now(), &err)
	return w.Store.GetSignInByToken(ctx, tokenID)
}

func (w *Store) ListActiveTokens(ctx context.Context, userID, kind string, now time.Time) (_ []store.Token, err error) {
	defer w.observe("ListActiveTokens", time.Now(), &err)
	return w.Store.ListActiveTokens(ctx, userID, kind, now)
}

func (w *Store) RevokeTokensSigned(ctx context.Context, s store.Signed, userID string, ids []string) (_ int, err error) {
	defer w.observe("RevokeTokensSigned", time.Now(), &err)
	return w.Store.RevokeTokensSigned(ctx, s, userID, ids)
}

func (w *Store) IssueTokenSigned(ctx context.Context, s store.Signed, t store.Token, e store.SignInEvent) (err error) {
	defer w.observe("IssueTokenSigned", time.Now(), &err)
	return w.Store.IssueTokenSigned(ctx, s, t, e)
}

// One-time codes and recovery (issue 10).

func (w *Store) PutCode(ctx context.Context, c store.Code) (err error) {
	defer w.observe("PutCode", time.Now(), &err)
	return w.Store.PutCode(ctx, c)
}

func (w *Store) PutCodeSigned(ctx context.Context, s store.Signed, c store.Code) (err error) {
	defer w.observe("PutCodeSigned", time.Now(), &err)
	return w.Store.PutCodeSigned(ctx, s, c)
}

func (w *Store) GetCode(ctx context.Context, purpose, userID string) (_ store.Code, err error) {
	defer w.observe("GetCode", time.Now(), &err)
	return w.Store.GetCode(ctx, purpose, userID)
}

func (w *Store) FindCode(ctx context.Context, purpose string, codeHash []byte, now time.Time) (_ store.Code, err error) {
	defer w.observe("FindCode", time.Now(), &err)
	return w.Store.FindCode(ctx, purpose, codeHash, now)
}

func (w *Store) CompleteCredentialCode(ctx context.Context, codeHash []byte, now time.Time, c store.Credential, audit store.AuditEntry) (err error) {
	defer w.observe("CompleteCredentialCode", time.Now(), &err)
	return w.Store.CompleteCredentialCode(ctx, codeHash, now, c, audit)
}

func (w *Store) Recover(ctx context.Context, r store.Recovery) (err error) {
	defer w.observe("Recover", time.Now(), &err)
	return w.Store.Recover(ctx, r)
}
