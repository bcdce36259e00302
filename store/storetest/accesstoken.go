package storetest

import (
	"testing"
	"time"

	"countersign/store"
)

var accessTokenTests = []test{
	{"a signed access token creation writes the bearer token, its metadata, its key and its assignment", func(t *testing.T, s store.Store) {
		f := newAdminFixture(t, s)
		before := worldOf(t, s, f.Org.ID)
		tk := newAccessToken("to-2", f.Alice)
		tk.Name, tk.ExternalID = "CI deploys", "jenkins-7"
		key := newKey(tk, "key-to-2")
		as := newAssignment("as-to-2", f.Perm, tk.ID)
		now := at(time.Minute)
		sg := signedWith(f.Action, f.Alice, "uj-1", now)
		must(t, "CreateAccessTokenSigned", s.CreateAccessTokenSigned(t.Context(), sg, tk, key, &as))

		row, err := s.GetToken(t.Context(), tk.ID)
		must(t, "GetToken", err)
		equal(t, "bearer token", row, tokenRowOf(tk))
		equal(t, "bearer token kind", row.Kind, store.TokenPAT)
		got, err := s.GetAccessToken(t.Context(), tk.ID)
		must(t, "GetAccessToken", err)
		equal(t, "access token", got, tk)
		if got.LastUsedAt != nil || got.LastUsedFor != "" {
			t.Errorf("LastUsedAt, LastUsedFor: got %v, %q, want nil, \"\"", got.LastUsedAt, got.LastUsedFor)
		}
		gotKey, err := s.GetCredential(t.Context(), key.ID)
		must(t, "GetCredential", err)
		equal(t, "key", gotKey, key)
		byCredID, err := s.GetCredentialByCredID(t.Context(), key.CredID)
		must(t, "GetCredentialByCredID", err)
		equal(t, "key by credId", byCredID, key)
		infos, err := s.ListAssignments(t.Context(), tk.ID)
		must(t, "ListAssignments of the token", err)
		equal(t, "assignments of the token", infos, []store.AssignmentInfo{infoOf(as, f.Perm)})
		action, err := s.GetUserAction(t.Context(), f.Action.ID)
		must(t, "GetUserAction", err)
		equal(t, "action UsedAt", action.UsedAt, ptr(now))
		equal(t, "audit entries", allAudit(t, s, f.Org.ID), append(before.Audit, sg.Audit))
	}},
	{"a signed access token creation without an assignment assigns nothing", func(t *testing.T, s store.Store) {
		f := newAdminFixture(t, s)
		tk := newAccessToken("to-2", f.Bob)
		must(t, "CreateAccessTokenSigned", s.CreateAccessTokenSigned(t.Context(),
			signedWith(f.Action, f.Alice, "uj-1", t0), tk, newKey(tk, "key-to-2"), nil))

		got, err := s.GetAccessToken(t.Context(), tk.ID)
		must(t, "GetAccessToken", err)
		equal(t, "access token", got, tk)
		infos, err := s.ListAssignments(t.Context(), tk.ID)
		must(t, "ListAssignments of the token", err)
		equal(t, "assignments of the token", infos, []store.AssignmentInfo{})
	}},
	{"a signed access token creation with a taken credential id is a conflict, writes nothing and leaves the action unused", func(t *testing.T, s store.Store) {
		f := newAdminFixture(t, s)
		mustCreateCredential(t, s, newCredential("cr-fido", f.Alice, "cred-fido"))
		before := worldOf(t, s, f.Org.ID, f.Action.ID)
		tk := newAccessToken("to-2", f.Alice)
		as := newAssignment("as-to-2", f.Perm, tk.ID)

		for _, taken := range []string{"cred-fido", f.Key.CredID} {
			err := s.CreateAccessTokenSigned(t.Context(), signedWith(f.Action, f.Alice, "uj-1", t0), tk, newKey(tk, taken), &as)
			wantErr(t, "CreateAccessTokenSigned with credId "+taken, err, store.ErrConflict)
			equal(t, "state after the conflict", worldOf(t, s, f.Org.ID, f.Action.ID), before)
			wantNoToken(t, s, tk.ID)
		}

		must(t, "CreateAccessTokenSigned retried with the same action", s.CreateAccessTokenSigned(t.Context(),
			signedWith(f.Action, f.Alice, "uj-1", t0), tk, newKey(tk, "key-to-2"), &as))
	}},
	{"a signed access token creation whose key or assignment is not the token's is refused and writes nothing", func(t *testing.T, s store.Store) {
		f := newAdminFixture(t, s)
		before := worldOf(t, s, f.Org.ID, f.Action.ID)
		tk := newAccessToken("to-2", f.Alice)
		good := newKey(tk, "key-to-2")
		otherToken, otherID, otherUser := good, good, good
		otherToken.TokenID = "to-other"
		otherID.ID = "cr-other"
		otherUser.UserID = f.Bob.ID
		as := newAssignment("as-to-2", f.Perm, f.Alice.ID) // to the user, not the token

		cases := []struct {
			what string
			key  store.Credential
			as   *store.Assignment
		}{
			{"a key of another token", otherToken, nil},
			{"a key other than the token's credential id", otherID, nil},
			{"a key of another user", otherUser, nil},
			{"an assignment to another identity", good, &as},
		}
		for _, c := range cases {
			err := s.CreateAccessTokenSigned(t.Context(), signedWith(f.Action, f.Alice, "uj-1", t0), tk, c.key, c.as)
			if err == nil {
				t.Errorf("CreateAccessTokenSigned with %s: got nil error, want one", c.what)
			}
			equal(t, "state after "+c.what, worldOf(t, s, f.Org.ID, f.Action.ID), before)
			wantNoToken(t, s, tk.ID)
		}
	}},
	{"a signed service account creation writes the user, its bearer token, its metadata, its key and its assignment", func(t *testing.T, s store.Store) {
		f := newAdminFixture(t, s)
		before := worldOf(t, s, f.Org.ID)
		sa := newServiceAccount("us-sa", f.Org.ID, "Deployer")
		tk := newAccessToken("to-sa", sa)
		tk.Kind = store.TokenServiceAccount
		key := newKey(tk, "key-to-sa")
		as := newAssignment("as-sa", f.Perm, sa.ID)
		now := at(time.Minute)
		sg := signedWith(f.Action, f.Alice, "uj-1", now)
		must(t, "CreateServiceAccountSigned", s.CreateServiceAccountSigned(t.Context(), sg, sa, tk, key, &as))

		gotUser, err := s.GetUser(t.Context(), sa.ID)
		must(t, "GetUser", err)
		equal(t, "service account", gotUser, sa)
		_, err = s.GetRegistrationCode(t.Context(), sa.ID)
		wantErr(t, "GetRegistrationCode of the service account", err, store.ErrNotFound)
		row, err := s.GetToken(t.Context(), tk.ID)
		must(t, "GetToken", err)
		equal(t, "bearer token", row, tokenRowOf(tk))
		equal(t, "bearer token kind", row.Kind, store.TokenServiceAccount)
		got, err := s.GetAccessToken(t.Context(), tk.ID)
		must(t, "GetAccessToken", err)
		equal(t, "access token", got, tk)
		creds, err := s.ListCredentials(t.Context(), sa.ID)
		must(t, "ListCredentials of the service account", err)
		equal(t, "credentials of the service account", creds, []store.Credential{key})
		infos, err := s.ListAssignments(t.Context(), sa.ID)
		must(t, "ListAssignments of the service account", err)
		equal(t, "assignments of the service account", infos, []store.AssignmentInfo{infoOf(as, f.Perm)})
		action, err := s.GetUserAction(t.Context(), f.Action.ID)
		must(t, "GetUserAction", err)
		equal(t, "action UsedAt", action.UsedAt, ptr(now))
		equal(t, "audit entries", allAudit(t, s, f.Org.ID), append(before.Audit, sg.Audit))
	}},
	{"a signed service account creation with a username taken in the org is a conflict, writes nothing and leaves the action unused", func(t *testing.T, s store.Store) {
		f := newAdminFixture(t, s)
		before := worldOf(t, s, f.Org.ID, f.Action.ID)
		sa := newServiceAccount("us-sa", f.Org.ID, "Deployer")
		sa.Username = "BOB@example.com"
		tk := newAccessToken("to-sa", sa)
		tk.Kind = store.TokenServiceAccount
		as := newAssignment("as-sa", f.Perm, sa.ID)

		err := s.CreateServiceAccountSigned(t.Context(), signedWith(f.Action, f.Alice, "uj-1", t0), sa, tk, newKey(tk, "key-to-sa"), &as)
		wantErr(t, "CreateServiceAccountSigned", err, store.ErrConflict)
		equal(t, "state after the conflict", worldOf(t, s, f.Org.ID, f.Action.ID), before)
		_, err = s.GetUser(t.Context(), sa.ID)
		wantErr(t, "GetUser of the rejected service account", err, store.ErrNotFound)
		wantNoToken(t, s, tk.ID)

		// The same username in another org is no conflict.
		o2, carol := otherOrg(t, s)
		sa2 := newServiceAccount("us-sa2", o2.ID, "Deployer")
		tk2 := newAccessToken("to-sa2", sa2)
		tk2.Kind = store.TokenServiceAccount
		mustCreateServiceAccount(t, s, carol, sa2, tk2, newKey(tk2, "key-to-sa2"), nil)
		sa.Username = sa2.Username
		must(t, "CreateServiceAccountSigned of the same name in or-1", s.CreateServiceAccountSigned(t.Context(),
			signedWith(f.Action, f.Alice, "uj-1", t0), sa, tk, newKey(tk, "key-to-sa"), &as))
	}},
	{"a signed service account creation with a taken credential id is a conflict, writes nothing and leaves the action unused", func(t *testing.T, s store.Store) {
		f := newAdminFixture(t, s)
		before := worldOf(t, s, f.Org.ID, f.Action.ID)
		sa := newServiceAccount("us-sa", f.Org.ID, "Deployer")
		tk := newAccessToken("to-sa", sa)
		tk.Kind = store.TokenServiceAccount
		as := newAssignment("as-sa", f.Perm, sa.ID)

		err := s.CreateServiceAccountSigned(t.Context(), signedWith(f.Action, f.Alice, "uj-1", t0), sa, tk, newKey(tk, f.Key.CredID), &as)
		wantErr(t, "CreateServiceAccountSigned", err, store.ErrConflict)
		equal(t, "state after the conflict", worldOf(t, s, f.Org.ID, f.Action.ID), before)
		_, err = s.GetUser(t.Context(), sa.ID)
		wantErr(t, "GetUser of the rolled back service account", err, store.ErrNotFound)
		_, err = s.GetUserByUsername(t.Context(), f.Org.ID, sa.Username)
		wantErr(t, "GetUserByUsername of the rolled back service account", err, store.ErrNotFound)
		wantNoToken(t, s, tk.ID)
	}},
	{"a signed service account creation whose token, key or assignment is not the account's is refused and writes nothing", func(t *testing.T, s store.Store) {
		f := newAdminFixture(t, s)
		before := worldOf(t, s, f.Org.ID, f.Action.ID)
		sa := newServiceAccount("us-sa", f.Org.ID, "Deployer")
		tk := newAccessToken("to-sa", sa)
		tk.Kind = store.TokenServiceAccount
		key := newKey(tk, "key-to-sa")
		notSA := sa
		notSA.IsServiceAccount = false
		aliceTk := newAccessToken("to-sa", f.Alice)
		aliceTk.Kind = store.TokenServiceAccount
		toAlice := newAssignment("as-sa", f.Perm, f.Alice.ID)
		toToken := newAssignment("as-sa", f.Perm, tk.ID) // the account holds it, not its token

		cases := []struct {
			what string
			u    store.User
			tk   store.AccessToken
			key  store.Credential
			as   *store.Assignment
		}{
			{"a user that is no service account", notSA, tk, key, nil},
			{"a token of another user", sa, aliceTk, newKey(aliceTk, "key-to-sa"), nil},
			{"an assignment to another user", sa, tk, key, &toAlice},
			{"an assignment to the token", sa, tk, key, &toToken},
		}
		for _, c := range cases {
			err := s.CreateServiceAccountSigned(t.Context(), signedWith(f.Action, f.Alice, "uj-1", t0), c.u, c.tk, c.key, c.as)
			if err == nil {
				t.Errorf("CreateServiceAccountSigned with %s: got nil error, want one", c.what)
			}
			equal(t, "state after "+c.what, worldOf(t, s, f.Org.ID, f.Action.ID), before)
			_, err = s.GetUser(t.Context(), sa.ID)
			wantErr(t, "GetUser after "+c.what, err, store.ErrNotFound)
			wantNoToken(t, s, tk.ID)
		}
	}},
	{"list access tokens filters by org, linked user and kind, oldest first", func(t *testing.T, s store.Store) {
		f := newAdminFixture(t, s) // to-1: alice's, at t0
		bobs := newAccessToken("to-2", f.Bob)
		bobs.CreatedAt = at(2 * time.Minute)
		mustCreateAccessToken(t, s, f.Alice, bobs, newKey(bobs, "key-to-2"), nil)
		sa := newServiceAccount("us-sa", f.Org.ID, "Deployer")
		sa.CreatedAt = at(time.Minute)
		saTk := newAccessToken("to-sa", sa)
		saTk.Kind, saTk.CreatedAt = store.TokenServiceAccount, at(time.Minute)
		mustCreateServiceAccount(t, s, f.Alice, sa, saTk, newKey(saTk, "key-to-sa"), nil)
		o2, carol := otherOrg(t, s)
		carols := newAccessToken("to-9", carol)
		mustCreateAccessToken(t, s, carol, carols, newKey(carols, "key-to-9"), nil)

		cases := []struct {
			q    store.AccessTokenQuery
			want []store.AccessToken
		}{
			{store.AccessTokenQuery{OrgID: f.Org.ID}, []store.AccessToken{f.Token, saTk, bobs}},
			{store.AccessTokenQuery{OrgID: f.Org.ID, UserID: f.Alice.ID}, []store.AccessToken{f.Token}},
			{store.AccessTokenQuery{OrgID: f.Org.ID, Kind: store.TokenServiceAccount}, []store.AccessToken{saTk}},
			{store.AccessTokenQuery{OrgID: f.Org.ID, Kind: store.TokenPAT}, []store.AccessToken{f.Token, bobs}},
			{store.AccessTokenQuery{OrgID: f.Org.ID, UserID: f.Bob.ID, Kind: store.TokenPAT}, []store.AccessToken{bobs}},
			{store.AccessTokenQuery{OrgID: f.Org.ID, UserID: f.Bob.ID, Kind: store.TokenServiceAccount}, []store.AccessToken{}},
			{store.AccessTokenQuery{OrgID: f.Org.ID, UserID: carol.ID}, []store.AccessToken{}},
			{store.AccessTokenQuery{OrgID: o2.ID}, []store.AccessToken{carols}},
		}
		for _, c := range cases {
			got, err := s.ListAccessTokens(t.Context(), c.q)
			must(t, "ListAccessTokens", err)
			equal(t, "access tokens of "+c.q.OrgID+"/"+c.q.UserID+"/"+c.q.Kind, got, c.want)
		}
	}},
	{"list access tokens is empty and not nil when there are none", func(t *testing.T, s store.Store) {
		o, _ := seed(t, s)
		got, err := s.ListAccessTokens(t.Context(), store.AccessTokenQuery{OrgID: o.ID})
		must(t, "ListAccessTokens", err)
		if got == nil || len(got) != 0 {
			t.Errorf("ListAccessTokens: got %#v, want an empty non-nil slice", got)
		}
	}},
	{"get access token of an unknown id is not found", func(t *testing.T, s store.Store) {
		f := newAdminFixture(t, s)
		_, err := s.GetAccessToken(t.Context(), "to-unknown")
		wantErr(t, "GetAccessToken", err, store.ErrNotFound)
		// A login token is no access token.
		mustCreateToken(t, s, newToken("tk-login", f.Alice))
		_, err = s.GetAccessToken(t.Context(), "tk-login")
		wantErr(t, "GetAccessToken of a login token", err, store.ErrNotFound)
	}},
	{"a signed access token update changes the name, the external id and the active flag, each alone", func(t *testing.T, s store.Store) {
		f := newAdminFixture(t, s)
		want := f.Token
		steps := []struct {
			what  string
			patch store.AccessTokenPatch
			apply func(*store.AccessToken)
		}{
			{"rename", store.AccessTokenPatch{Name: ptr("renamed")}, func(tk *store.AccessToken) { tk.Name = "renamed" }},
			{"external id", store.AccessTokenPatch{ExternalID: ptr("ext-new")}, func(tk *store.AccessToken) { tk.ExternalID = "ext-new" }},
			{"clear external id", store.AccessTokenPatch{ExternalID: ptr("")}, func(tk *store.AccessToken) { tk.ExternalID = "" }},
			{"deactivate", store.AccessTokenPatch{IsActive: ptr(false)}, func(tk *store.AccessToken) { tk.IsActive = false }},
			{"activate", store.AccessTokenPatch{IsActive: ptr(true)}, func(tk *store.AccessToken) { tk.IsActive = true }},
			{"empty patch", store.AccessTokenPatch{}, func(*store.AccessToken) {}},
		}
		for i, step := range steps {
			sg := signedNew(t, s, f.Alice, "step-"+step.what, at(time.Duration(i)*time.Second))
			must(t, step.what, s.UpdateAccessTokenSigned(t.Context(), sg, f.Org.ID, f.Token.ID, step.patch))
			step.apply(&want)
			got, err := s.GetAccessToken(t.Context(), f.Token.ID)
			must(t, "GetAccessToken after "+step.what, err)
			equal(t, "access token after "+step.what, got, want)
		}
		row, err := s.GetToken(t.Context(), f.Token.ID)
		must(t, "GetToken", err)
		equal(t, "bearer token after the updates", row, tokenRowOf(f.Token))
	}},
	{"archiving an access token also deactivates it, and it is still found and listed", func(t *testing.T, s store.Store) {
		f := newAdminFixture(t, s)
		// Archiving wins over an activation in the same patch.
		must(t, "archive", s.UpdateAccessTokenSigned(t.Context(), signedWith(f.Action, f.Alice, "uj-1", t0),
			f.Org.ID, f.Token.ID, store.AccessTokenPatch{IsArchived: ptr(true), IsActive: ptr(true)}))
		want := f.Token
		want.IsArchived, want.IsActive = true, false
		got, err := s.GetAccessToken(t.Context(), f.Token.ID)
		must(t, "GetAccessToken", err)
		equal(t, "archived access token", got, want)
		list, err := s.ListAccessTokens(t.Context(), store.AccessTokenQuery{OrgID: f.Org.ID})
		must(t, "ListAccessTokens", err)
		equal(t, "access tokens", list, []store.AccessToken{want})
	}},
	{"a signed update of another org's or an unknown access token is not found and leaves the action unused", func(t *testing.T, s store.Store) {
		f := newAdminFixture(t, s)
		o2, carol := otherOrg(t, s)
		carols := newAccessToken("to-9", carol)
		mustCreateAccessToken(t, s, carol, carols, newKey(carols, "key-to-9"), nil)
		before := worldOf(t, s, f.Org.ID, f.Action.ID)
		beforeOther := worldOf(t, s, o2.ID)

		patch := store.AccessTokenPatch{Name: ptr("mine now"), IsArchived: ptr(true)}
		for _, c := range []struct{ org, id string }{{f.Org.ID, carols.ID}, {o2.ID, f.Token.ID}, {f.Org.ID, "to-unknown"}} {
			err := s.UpdateAccessTokenSigned(t.Context(), signedWith(f.Action, f.Alice, "uj-1", t0), c.org, c.id, patch)
			wantErr(t, "UpdateAccessTokenSigned of "+c.id+" in "+c.org, err, store.ErrNotFound)
		}
		equal(t, "state after the refused updates", worldOf(t, s, f.Org.ID, f.Action.ID), before)
		equal(t, "other org after the refused updates", worldOf(t, s, o2.ID), beforeOther)
	}},
	{"recording an access token's use sets when and for what it was last used", func(t *testing.T, s store.Store) {
		f := newAdminFixture(t, s)
		want := f.Token
		for i, purpose := range []string{store.UseRead, store.UseSign, store.UseRead} {
			when := at(time.Duration(i+1) * time.Minute)
			must(t, "RecordTokenUse "+purpose, s.RecordTokenUse(t.Context(), f.Token.ID, when, purpose))
			want.LastUsedAt, want.LastUsedFor = ptr(when), purpose
			got, err := s.GetAccessToken(t.Context(), f.Token.ID)
			must(t, "GetAccessToken", err)
			equal(t, "access token after a "+purpose, got, want)
		}
	}},
	{"recording the use of an unknown access token is not found, and of an unknown purpose an error", func(t *testing.T, s store.Store) {
		f := newAdminFixture(t, s)
		err := s.RecordTokenUse(t.Context(), "to-unknown", t0, store.UseRead)
		wantErr(t, "RecordTokenUse of an unknown token", err, store.ErrNotFound)
		if err := s.RecordTokenUse(t.Context(), f.Token.ID, t0, "dance"); err == nil {
			t.Errorf("RecordTokenUse for an unknown purpose: got nil error, want one")
		}
		got, err := s.GetAccessToken(t.Context(), f.Token.ID)
		must(t, "GetAccessToken", err)
		equal(t, "access token", got, f.Token)
	}},
	{"delete expired removes an expired access token's bearer token and keeps its metadata and key", func(t *testing.T, s store.Store) {
		f := newAdminFixture(t, s) // to-1 expires at t0+30d; us-2's code at t0+1h
		short := newAccessToken("to-2", f.Alice)
		short.ExpiresAt = at(time.Minute)
		shortKey := newKey(short, "key-to-2")
		mustCreateAccessToken(t, s, f.Alice, short, shortKey, nil)

		_, err := s.DeleteExpired(t.Context(), at(10*time.Minute))
		must(t, "DeleteExpired", err)
		_, err = s.GetToken(t.Context(), short.ID)
		wantErr(t, "GetToken of the expired access token", err, store.ErrNotFound)
		got, err := s.GetAccessToken(t.Context(), short.ID)
		must(t, "GetAccessToken of the expired access token", err)
		equal(t, "expired access token", got, short)
		gotKey, err := s.GetCredential(t.Context(), shortKey.ID)
		must(t, "GetCredential of the expired access token's key", err)
		equal(t, "expired access token's key", gotKey, shortKey)
		_, err = s.GetToken(t.Context(), f.Token.ID)
		must(t, "GetToken of the live access token", err)
	}},
}
