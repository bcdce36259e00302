package storetest

import (
	"crypto/sha256"
	"errors"
	"reflect"
	"testing"
	"time"

	"countersign/store"
)

// test is one behaviour of the contract.
type test struct {
	name string
	run  func(t *testing.T, s store.Store)
}

// Run runs the conformance suite: one subtest per behaviour, each on a
// fresh, empty store from open. Run closes each store when its subtest
// ends; open need not.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	t.Helper()
	groups := [][]test{
		orgUserTests,
		registrationTests,
		credentialTests,
		challengeTests,
		spentChallengeTests,
		tokenTests,
		userActionTests,
		signedChangeTests,
		signedTests,
		auditTests,
		assignmentTests,
		accessTokenTests,
		userTests,
		permissionTests,
		permissionAssignmentTests,
		adminChangeTests,
		secretTests,
		timeTests,
		expiryTests,
		hardeningTests,
		gatewayTests,
		delegatedTests,
		operationTests,
		consoleTests,
		signInTests,
		recoveryTests,
	}
	for _, group := range groups {
		for _, tc := range group {
			t.Run(tc.name, func(t *testing.T) {
				s := open(t)
				t.Cleanup(func() {
					if err := s.Close(); err != nil {
						t.Errorf("close store: %v", err)
					}
				})
				tc.run(t, s)
			})
		}
	}
}

// t0 is the suite's fixed clock: a whole millisecond in UTC, so that every
// backend returns it exactly.
var t0 = time.Date(2030, time.March, 14, 15, 9, 26, 535_000_000, time.UTC)

// at is the fixed clock moved by d.
func at(d time.Duration) time.Time { return t0.Add(d) }

func ptr[T any](v T) *T { return &v }

func hash(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

func newOrg(id string) store.Org {
	return store.Org{ID: id, Name: "Org " + id, CreatedAt: t0}
}

func newUser(id, orgID, username string) store.User {
	return store.User{
		ID:         id,
		OrgID:      orgID,
		Username:   username,
		Name:       "Name of " + id,
		Kind:       store.KindCustomerEmployee,
		UserHandle: "uh-" + id,
		IsActive:   true,
		CreatedAt:  t0,
	}
}

// codeOf is the registration code the fixtures give user id.
func codeOf(userID string) store.RegistrationCode {
	return store.RegistrationCode{UserID: userID, CodeHash: hash("code-" + userID), ExpiresAt: at(time.Hour)}
}

// invitation invites u, creating o when it is not nil.
func invitation(o *store.Org, u store.User) store.Invitation {
	return store.Invitation{Org: o, User: u, Code: codeOf(u.ID)}
}

func mustInvite(t *testing.T, s store.Store, in store.Invitation) {
	t.Helper()
	if err := s.Invite(t.Context(), in); err != nil {
		t.Fatalf("Invite(%s): %v", in.User.ID, err)
	}
}

// seed creates org or-1 with user us-1 (alice@example.com) and returns them.
func seed(t *testing.T, s store.Store) (store.Org, store.User) {
	t.Helper()
	o, u := newOrg("or-1"), newUser("us-1", "or-1", "alice@example.com")
	mustInvite(t, s, invitation(&o, u))
	return o, u
}

// addUser invites another user into an existing org.
func addUser(t *testing.T, s store.Store, id, orgID, username string) store.User {
	t.Helper()
	u := newUser(id, orgID, username)
	mustInvite(t, s, invitation(nil, u))
	return u
}

// newCredential is a Fido2 credential with every field set to something
// distinguishable.
func newCredential(id string, u store.User, credID string) store.Credential {
	return store.Credential{
		ID:              id,
		OrgID:           u.OrgID,
		UserID:          u.ID,
		Kind:            store.CredentialFido2,
		CredID:          credID,
		Name:            "key " + id,
		PublicKey:       []byte{0xa5, 0x01, 0x02, 0x03, 0x26, 0x20, 0x01, 0x00, 0xff},
		AttestationType: "none",
		AAGUID:          []byte{0xee, 0x88, 0x28, 0x79, 0x72, 0x1c, 0x49, 0x13, 0x97, 0x75, 0x3d, 0xfc, 0xce, 0x97, 0x07, 0x2a},
		Transports:      []string{"usb", "nfc", "hybrid"},
		SignCount:       1,
		UserPresent:     true,
		UserVerified:    false,
		BackupEligible:  true,
		BackupState:     false,
		Origin:          "https://localhost:8080",
		RPID:            "localhost",
		IsActive:        true,
		CreatedAt:       t0,
	}
}

func mustCreateCredential(t *testing.T, s store.Store, c store.Credential) {
	t.Helper()
	if err := s.CreateCredential(t.Context(), c); err != nil {
		t.Fatalf("CreateCredential(%s): %v", c.ID, err)
	}
}

func newChallenge(id string, u store.User) store.Challenge {
	return store.Challenge{
		ID:        id,
		Purpose:   store.PurposeLogin,
		Challenge: "challenge-" + id,
		OrgID:     u.OrgID,
		UserID:    u.ID,
		TokenID:   "tk-begin",
		Data:      []byte("{\"userVerification\":\"required\"}\x00\xff"),
		CreatedAt: t0,
		ExpiresAt: at(5 * time.Minute),
	}
}

func mustCreateChallenge(t *testing.T, s store.Store, c store.Challenge) {
	t.Helper()
	if err := s.CreateChallenge(t.Context(), c); err != nil {
		t.Fatalf("CreateChallenge(%s): %v", c.ID, err)
	}
}

func newToken(id string, u store.User) store.Token {
	return store.Token{
		ID:        id,
		Kind:      store.TokenLogin,
		OrgID:     u.OrgID,
		UserID:    u.ID,
		CreatedAt: t0,
		ExpiresAt: at(time.Hour),
	}
}

func mustCreateToken(t *testing.T, s store.Store, tk store.Token) {
	t.Helper()
	if err := s.CreateToken(t.Context(), tk); err != nil {
		t.Fatalf("CreateToken(%s): %v", tk.ID, err)
	}
}

// newUserAction is a user action of u, signed with u's credential cr-1,
// with every field set to something distinguishable. It expires five
// minutes after t0.
func newUserAction(id string, u store.User) store.UserAction {
	return store.UserAction{
		ID:                id,
		OrgID:             u.OrgID,
		UserID:            u.ID,
		IdentityID:        u.ID,
		TokenID:           "tk-" + id,
		CredentialID:      "cr-1",
		Method:            "PUT",
		Path:              "/auth/credentials/activate",
		Payload:           []byte(`{"credentialUuid":"cr-2"}`),
		ClientData:        []byte(`{"type":"webauthn.get","challenge":"Y2gtMQ"}`),
		AuthenticatorData: []byte{0x49, 0x96, 0x0d, 0xe5, 0x88, 0x0e, 0x8c, 0x68, 0x05, 0x00, 0xff},
		Signature:         []byte{0x30, 0x45, 0x02, 0x21, 0x00, 0xff, 0x7f},
		Summary:           "Activate the key \"laptop\" (cr-2): it signs in again",
		CreatedAt:         t0,
		ExpiresAt:         at(5 * time.Minute),
	}
}

func mustCreateUserAction(t *testing.T, s store.Store, a store.UserAction) {
	t.Helper()
	if err := s.CreateUserAction(t.Context(), a); err != nil {
		t.Fatalf("CreateUserAction(%s): %v", a.ID, err)
	}
}

// signedWith is what authorises a change with action a of user u at now:
// its audit entry id is auditID, and every field of the entry is set.
func signedWith(a store.UserAction, u store.User, auditID string, now time.Time) store.Signed {
	return store.Signed{
		ActionID: a.ID,
		Now:      now,
		Audit: store.AuditEntry{
			ID:                  auditID,
			OrgID:               a.OrgID,
			UserID:              a.UserID,
			Username:            u.Username,
			ActionID:            a.ID,
			CredentialID:        a.CredentialID,
			CredentialKind:      store.CredentialFido2,
			CredentialPublicKey: "pQECAyYgASFYIA",
			Method:              a.Method,
			Path:                a.Path,
			Payload:             a.Payload,
			ClientData:          a.ClientData,
			AuthenticatorData:   a.AuthenticatorData,
			Signature:           a.Signature,
			Summary:             "Change of " + auditID + ".",
			CreatedAt:           now,
		},
	}
}

// allAudit returns every audit entry of an org the suite can have written,
// whole (GetAuditEntry of each listed one), and checks that the listing
// showed each without its large columns.
func allAudit(t *testing.T, s store.Store, orgID string) []store.AuditEntry {
	t.Helper()
	entries, err := s.ListAuditEntries(t.Context(),
		store.AuditQuery{OrgID: orgID, Start: at(-24 * time.Hour), End: at(24 * time.Hour), Limit: 1000})
	must(t, "ListAuditEntries", err)
	whole := make([]store.AuditEntry, 0, len(entries))
	for _, e := range entries {
		full, err := s.GetAuditEntry(t.Context(), orgID, e.ID)
		must(t, "GetAuditEntry", err)
		equal(t, "listed audit entry "+e.ID, e, listed(full))
		whole = append(whole, full)
	}
	return whole
}

// listed is e as ListAuditEntries shows it: without the payload, the
// assertion and the public key.
func listed(e store.AuditEntry) store.AuditEntry {
	e.Payload, e.ClientData, e.AuthenticatorData, e.Signature, e.CredentialPublicKey = nil, nil, nil, nil, ""
	return e
}

// must stops the test when a call that sets up the behaviour fails.
func must(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// wantErr reports unless errors.Is(err, target).
func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Errorf("%s: got error %v, want %v", what, err, target)
	}
}

// equal reports unless got and want are the same value once times are
// compared as instants and nil and empty slices as equal. Every time in got
// must also be in UTC.
func equal[T any](t *testing.T, what string, got, want T) {
	t.Helper()
	checkUTC(t, what, reflect.ValueOf(got))
	if !reflect.DeepEqual(canon(reflect.ValueOf(got)).Interface(), canon(reflect.ValueOf(want)).Interface()) {
		t.Errorf("%s:\n got %+v\nwant %+v", what, got, want)
	}
}

var timeType = reflect.TypeFor[time.Time]()

// canon returns a copy of v with times in UTC without monotonic readings and
// empty slices as nil. The store types have exported fields only.
func canon(v reflect.Value) reflect.Value {
	if v.Type() == timeType {
		return reflect.ValueOf(v.Interface().(time.Time).UTC().Round(0))
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return v
		}
		p := reflect.New(v.Type().Elem())
		p.Elem().Set(canon(v.Elem()))
		return p
	case reflect.Slice:
		if v.Len() == 0 {
			return reflect.Zero(v.Type())
		}
		out := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
		for i := range v.Len() {
			out.Index(i).Set(canon(v.Index(i)))
		}
		return out
	case reflect.Struct:
		out := reflect.New(v.Type()).Elem()
		for i := range v.NumField() {
			out.Field(i).Set(canon(v.Field(i)))
		}
		return out
	}
	return v
}

// checkUTC reports every time in v whose location is not UTC.
func checkUTC(t *testing.T, what string, v reflect.Value) {
	t.Helper()
	if v.Type() == timeType {
		if tm := v.Interface().(time.Time); tm.Location() != time.UTC {
			t.Errorf("%s: time %s is in %s, want UTC", what, tm, tm.Location())
		}
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			checkUTC(t, what, v.Elem())
		}
	case reflect.Slice:
		for i := range v.Len() {
			checkUTC(t, what, v.Index(i))
		}
	case reflect.Struct:
		for i := range v.NumField() {
			checkUTC(t, what, v.Field(i))
		}
	}
}
