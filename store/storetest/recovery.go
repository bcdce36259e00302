package storetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"countersign/store"
)

// Recovery keys, one-time codes and the recovery transaction (issue 10).

// recoveryFixture is a registered person with a passkey (cr-1), a recovery
// key (cr-rk), a login token, a PAT (to-1 with its key), an unused user
// action, an open challenge, and a recovery verification code.
type recoveryFixture struct {
	Org      store.Org
	User     store.User
	Passkey  store.Credential
	Recovery store.Credential
	Login    store.Token
	PAT      store.AccessToken
	Action   store.UserAction
	Code     store.Code
}

func newRecoveryKey(id string, u store.User, credID string) store.Credential {
	c := newCredential(id, u, credID)
	c.Kind, c.PublicKey, c.EncryptedPrivateKey = store.CredentialRecoveryKey, []byte(pem), `{"v":1,"of":"`+id+`"}`
	c.AAGUID, c.Transports, c.SignCount, c.Origin, c.RPID = nil, nil, 0, "", ""
	return c
}

func newCode(purpose string, u store.User, secret string) store.Code {
	return store.Code{
		Purpose: purpose, UserID: u.ID, OrgID: u.OrgID, CodeHash: hash(secret),
		CreatedAt: t0, ExpiresAt: at(15 * time.Minute),
	}
}

func newRecoveryFixture(t *testing.T, s store.Store) recoveryFixture {
	t.Helper()
	o, u := seed(t, s)
	f := recoveryFixture{Org: o, Passkey: newCredential("cr-1", u, "cred-1"), Recovery: newRecoveryKey("cr-rk", u, "rk-1")}
	must(t, "CompleteRegistration", completeRegistration(t, s, u.ID, hash("code-"+u.ID), t0,
		[]store.Credential{f.Passkey, f.Recovery}))
	u.IsRegistered = true
	f.User = u
	f.Login = newToken("tk-login", u)
	mustCreateToken(t, s, f.Login)
	f.PAT = newAccessToken("to-1", u)
	f.PAT.Scope = store.ScopeAllUserOperations
	mustCreateAccessToken(t, s, u, f.PAT, newKey(f.PAT, "key-to-1"), nil)
	f.Action = newUserAction("ua-open", u)
	mustCreateUserAction(t, s, f.Action)
	mustCreateChallenge(t, s, newChallenge("ch-open", u))
	f.Code = newCode(store.CodeRecovery, u, "verification")
	must(t, "PutCode", s.PutCode(t.Context(), f.Code))
	return f
}

// recovery is what a successful recovery of f by its recovery key writes:
// one new passkey and one new recovery key.
func (f recoveryFixture) recovery(now time.Time) store.Recovery {
	passkey := newCredential("cr-new", f.User, "cred-new")
	passkey.CreatedAt = now
	rk := newRecoveryKey("cr-rk-new", f.User, "rk-new")
	rk.CreatedAt = now
	return store.Recovery{
		UserID: f.User.ID, OrgID: f.Org.ID, CodePurpose: store.CodeRecovery, CodeHash: f.Code.CodeHash,
		RecoveryCredentialID: f.Recovery.ID, Credentials: []store.Credential{passkey, rk}, Now: now,
		Audit: store.AuditEntry{
			ID: "uj-recover", OrgID: f.Org.ID, UserID: f.User.ID, Username: f.User.Username,
			CredentialID: f.Recovery.ID, CredentialKind: store.CredentialRecoveryKey, CredentialPublicKey: pem,
			Method: "POST", Path: "/auth/recover/user", Payload: []byte(`{"newCredentials":{}}`),
			ClientData: []byte(`{"type":"key.get"}`), Signature: []byte{0x30, 0x01}, Summary: "Recover.", CreatedAt: now,
		},
	}
}

// recoveryWorld is what a recovery may change: the org's world, the
// fixture's action and challenge, and the user's codes.
type recoveryWorld struct {
	World     world
	Challenge bool // ch-open is still there
	Codes     []store.Code
}

func recoveryWorldOf(t *testing.T, s store.Store, f recoveryFixture) recoveryWorld {
	t.Helper()
	w := recoveryWorld{World: worldOf(t, s, f.Org.ID, f.Action.ID, "ua-create-to-1")}
	for _, p := range []string{store.CodeRecovery, store.CodeReset, store.CodeCredential} {
		if c, err := s.GetCode(t.Context(), p, f.User.ID); err == nil {
			w.Codes = append(w.Codes, c)
		} else {
			wantErr(t, "GetCode "+p, err, store.ErrNotFound)
		}
	}
	// Peek at the challenge by creating one with its id: a conflict means
	// it is still there (consuming it would change the state).
	ch := newChallenge("ch-open", f.User)
	err := s.CreateChallenge(t.Context(), ch)
	w.Challenge = err != nil
	if err == nil {
		_, _ = s.ConsumeChallenge(t.Context(), ch.ID, t0)
	} else {
		wantErr(t, "CreateChallenge over ch-open", err, store.ErrConflict)
	}
	return w
}

var recoveryTests = []test{
	{"a one-time code replaces the user's code of its purpose and leaves other purposes", func(t *testing.T, s store.Store) {
		_, u := seed(t, s)
		first, reset := newCode(store.CodeRecovery, u, "first"), newCode(store.CodeReset, u, "reset")
		reset.IssuedBy = "us-admin"
		must(t, "PutCode first", s.PutCode(t.Context(), first))
		must(t, "PutCode reset", s.PutCode(t.Context(), reset))
		second := newCode(store.CodeRecovery, u, "second")
		second.CreatedAt, second.ExpiresAt = at(time.Minute), at(16*time.Minute)
		must(t, "PutCode second", s.PutCode(t.Context(), second))

		got, err := s.GetCode(t.Context(), store.CodeRecovery, u.ID)
		must(t, "GetCode", err)
		equal(t, "recovery code", got, second)
		got, err = s.GetCode(t.Context(), store.CodeReset, u.ID)
		must(t, "GetCode reset", err)
		equal(t, "reset code", got, reset)
		_, err = s.FindCode(t.Context(), store.CodeRecovery, first.CodeHash, t0)
		wantErr(t, "FindCode of the replaced code", err, store.ErrNotFound)
		_, err = s.GetCode(t.Context(), store.CodeCredential, u.ID)
		wantErr(t, "GetCode of a purpose never put", err, store.ErrNotFound)
	}},
	{"find code matches purpose and hash while unexpired", func(t *testing.T, s store.Store) {
		_, u := seed(t, s)
		c := newCode(store.CodeCredential, u, "link")
		must(t, "PutCode", s.PutCode(t.Context(), c))
		got, err := s.FindCode(t.Context(), store.CodeCredential, hash("link"), at(time.Minute))
		must(t, "FindCode", err)
		equal(t, "found code", got, c)
		_, err = s.FindCode(t.Context(), store.CodeReset, hash("link"), at(time.Minute))
		wantErr(t, "FindCode of another purpose", err, store.ErrNotFound)
		_, err = s.FindCode(t.Context(), store.CodeCredential, hash("other"), at(time.Minute))
		wantErr(t, "FindCode of another hash", err, store.ErrNotFound)
		_, err = s.FindCode(t.Context(), store.CodeCredential, hash("link"), c.ExpiresAt)
		wantErr(t, "FindCode at its expiry", err, store.ErrNotFound)
	}},
	{"a signed code is written with its action and audit entry, and a used action writes nothing", func(t *testing.T, s store.Store) {
		u, _, a := signedFixture(t, s)
		c := newCode(store.CodeReset, u, "reset")
		must(t, "PutCodeSigned", s.PutCodeSigned(t.Context(), signedWith(a, u, "uj-1", t0), c))
		got, err := s.GetCode(t.Context(), store.CodeReset, u.ID)
		must(t, "GetCode", err)
		equal(t, "code", got, c)
		equal(t, "audit entries", len(allAudit(t, s, u.OrgID)), 1)

		again := newCode(store.CodeReset, u, "again")
		err = s.PutCodeSigned(t.Context(), signedWith(a, u, "uj-2", t0), again)
		wantErr(t, "PutCodeSigned with the used action", err, store.ErrActionUsed)
		got, err = s.GetCode(t.Context(), store.CodeReset, u.ID)
		must(t, "GetCode after the refusal", err)
		equal(t, "code after the refusal", got, c)
		equal(t, "audit entries after the refusal", len(allAudit(t, s, u.OrgID)), 1)
	}},
	{"a credential code adds its credential once, with an audit entry", func(t *testing.T, s store.Store) {
		f := newRecoveryFixture(t, s)
		code := newCode(store.CodeCredential, f.User, "add")
		must(t, "PutCode", s.PutCode(t.Context(), code))
		c := newCredential("cr-phone", f.User, "cred-phone")
		audit := store.AuditEntry{ID: "uj-code", OrgID: f.Org.ID, UserID: f.User.ID, Username: f.User.Username,
			Method: "POST", Path: "/auth/credentials/code/verify", Summary: "Add.", CreatedAt: at(time.Minute)}
		must(t, "CompleteCredentialCode", s.CompleteCredentialCode(t.Context(), code.CodeHash, at(time.Minute), c, audit))
		got, err := s.GetCredential(t.Context(), c.ID)
		must(t, "GetCredential", err)
		equal(t, "added credential", got, c)
		_, err = s.GetCode(t.Context(), store.CodeCredential, f.User.ID)
		wantErr(t, "GetCode after its use", err, store.ErrNotFound)
		entries := allAudit(t, s, f.Org.ID)
		equal(t, "last audit entry", entries[len(entries)-1], audit)

		audit.ID = "uj-code-2"
		err = s.CompleteCredentialCode(t.Context(), code.CodeHash, at(time.Minute), newCredential("cr-2nd", f.User, "cred-2nd"), audit)
		wantErr(t, "CompleteCredentialCode with the used code", err, store.ErrNotFound)
		_, err = s.GetCredential(t.Context(), "cr-2nd")
		wantErr(t, "GetCredential of the refused credential", err, store.ErrNotFound)
	}},
	{"a wrong, expired or another user's credential code, or an inactive user, adds nothing", func(t *testing.T, s store.Store) {
		f := newRecoveryFixture(t, s)
		code := newCode(store.CodeCredential, f.User, "add")
		must(t, "PutCode", s.PutCode(t.Context(), code))
		other := addUser(t, s, "us-2", f.Org.ID, "bob@example.com")
		before := recoveryWorldOf(t, s, f)
		audit := store.AuditEntry{ID: "uj-code", OrgID: f.Org.ID, UserID: f.User.ID, Method: "POST", Path: "/x", CreatedAt: t0}
		cases := []struct {
			what string
			hash []byte
			now  time.Time
			c    store.Credential
		}{
			{"a wrong code", hash("wrong"), at(time.Minute), newCredential("cr-x", f.User, "cred-x")},
			{"an expired code", code.CodeHash, code.ExpiresAt, newCredential("cr-x", f.User, "cred-x")},
			{"another user's credential", code.CodeHash, at(time.Minute), newCredential("cr-x", other, "cred-x")},
		}
		for _, tc := range cases {
			err := s.CompleteCredentialCode(t.Context(), tc.hash, tc.now, tc.c, audit)
			wantErr(t, "CompleteCredentialCode with "+tc.what, err, store.ErrNotFound)
		}
		equal(t, "state after the refusals", recoveryWorldOf(t, s, f), before)
	}},
	{"recovery archives every credential and token of the person and adds the new ones", func(t *testing.T, s store.Store) {
		f := newRecoveryFixture(t, s)
		other := addUser(t, s, "us-2", f.Org.ID, "bob@example.com")
		theirs := newCredential("cr-theirs", other, "cred-theirs")
		mustCreateCredential(t, s, theirs)
		theirToken := newToken("tk-theirs", other)
		mustCreateToken(t, s, theirToken)
		reset := newCode(store.CodeCredential, f.User, "pending code")
		must(t, "PutCode", s.PutCode(t.Context(), reset))

		now := at(time.Minute)
		r := f.recovery(now)
		must(t, "Recover", s.Recover(t.Context(), r))

		creds, err := s.ListCredentials(t.Context(), f.User.ID)
		must(t, "ListCredentials", err)
		passkey, rk, key := f.Passkey, f.Recovery, newKey(f.PAT, "key-to-1")
		passkey.IsActive, passkey.IsArchived = false, true
		rk.IsActive, rk.IsArchived = false, true
		equal(t, "credentials", creds, []store.Credential{passkey, rk, key, r.Credentials[0], r.Credentials[1]})
		for _, id := range []string{f.Login.ID, f.PAT.ID} {
			tk, err := s.GetToken(t.Context(), id)
			must(t, "GetToken "+id, err)
			if tk.RevokedAt == nil || !tk.RevokedAt.Equal(now) {
				t.Errorf("token %s: revoked at %v, want %v", id, tk.RevokedAt, now)
			}
		}
		pat, err := s.GetAccessToken(t.Context(), f.PAT.ID)
		must(t, "GetAccessToken", err)
		equal(t, "PAT active, archived", []bool{pat.IsActive, pat.IsArchived}, []bool{false, true})
		a, err := s.GetUserAction(t.Context(), f.Action.ID)
		must(t, "GetUserAction", err)
		if a.UsedAt == nil {
			t.Error("the person's unused user action is still usable")
		}
		_, err = s.ConsumeChallenge(t.Context(), "ch-open", t0)
		wantErr(t, "ConsumeChallenge of the person's open challenge", err, store.ErrNotFound)
		for _, p := range []string{store.CodeRecovery, store.CodeCredential} {
			_, err = s.GetCode(t.Context(), p, f.User.ID)
			wantErr(t, "GetCode "+p+" after the recovery", err, store.ErrNotFound)
		}
		entries := allAudit(t, s, f.Org.ID)
		equal(t, "last audit entry", entries[len(entries)-1], r.Audit)

		// Nobody else was touched.
		got, err := s.GetCredential(t.Context(), theirs.ID)
		must(t, "GetCredential of the other user's", err)
		equal(t, "other user's credential", got, theirs)
		tk, err := s.GetToken(t.Context(), theirToken.ID)
		must(t, "GetToken of the other user's", err)
		equal(t, "other user's token", tk, theirToken)
	}},
	{"a refused recovery changes nothing", func(t *testing.T, s store.Store) {
		f := newRecoveryFixture(t, s)
		other := addUser(t, s, "us-2", f.Org.ID, "bob@example.com")
		otherKey := newRecoveryKey("cr-rk-bob", other, "rk-bob")
		mustCreateCredential(t, s, otherKey)
		archived := newRecoveryKey("cr-rk-old", f.User, "rk-old")
		archived.IsActive, archived.IsArchived = false, true
		mustCreateCredential(t, s, archived)
		before := recoveryWorldOf(t, s, f)
		cases := []struct {
			what   string
			change func(r *store.Recovery)
		}{
			{"a wrong code", func(r *store.Recovery) { r.CodeHash = hash("wrong") }},
			{"an expired code", func(r *store.Recovery) { r.Now = f.Code.ExpiresAt }},
			{"the code of another purpose", func(r *store.Recovery) { r.CodePurpose = store.CodeReset }},
			{"an archived recovery key", func(r *store.Recovery) { r.RecoveryCredentialID = archived.ID }},
			{"another user's recovery key", func(r *store.Recovery) { r.RecoveryCredentialID = otherKey.ID }},
			{"a passkey for a recovery key", func(r *store.Recovery) { r.RecoveryCredentialID = f.Passkey.ID }},
			{"another organisation", func(r *store.Recovery) { r.OrgID = "or-elsewhere" }},
			{"a taken credential id", func(r *store.Recovery) { r.Credentials[0].CredID = "cred-1" }},
		}
		for _, tc := range cases {
			r := f.recovery(at(time.Minute))
			tc.change(&r)
			err := s.Recover(t.Context(), r)
			if err == nil {
				t.Errorf("Recover with %s succeeded", tc.what)
			}
			equal(t, "state after a recovery with "+tc.what, recoveryWorldOf(t, s, f), before)
		}
	}},
	{"a deactivated person cannot be recovered", func(t *testing.T, s store.Store) {
		f := newRecoveryFixture(t, s)
		admin := addUser(t, s, "us-admin", f.Org.ID, "admin@example.com")
		sg := signedNew(t, s, admin, "deactivate", t0)
		must(t, "UpdateUserSigned", s.UpdateUserSigned(t.Context(), sg, f.Org.ID, f.User.ID, store.UserPatch{IsActive: ptr(false)}))
		before := recoveryWorldOf(t, s, f)
		err := s.Recover(t.Context(), f.recovery(at(time.Minute)))
		wantErr(t, "Recover", err, store.ErrNotFound)
		equal(t, "state after the refusal", recoveryWorldOf(t, s, f), before)
	}},
	{"a reset link recovers without a recovery key", func(t *testing.T, s store.Store) {
		f := newRecoveryFixture(t, s)
		reset := newCode(store.CodeReset, f.User, "reset link")
		reset.IssuedBy = "us-admin"
		must(t, "PutCode", s.PutCode(t.Context(), reset))
		r := f.recovery(at(time.Minute))
		r.CodePurpose, r.CodeHash, r.RecoveryCredentialID = store.CodeReset, reset.CodeHash, ""
		must(t, "Recover", s.Recover(t.Context(), r))
		got, err := s.GetCredential(t.Context(), f.Recovery.ID)
		must(t, "GetCredential of the old recovery key", err)
		equal(t, "old recovery key active, archived", []bool{got.IsActive, got.IsArchived}, []bool{false, true})
		wantErr(t, "Recover with the used link", s.Recover(t.Context(), r), store.ErrNotFound)
	}},
	{"of concurrent recoveries with one code exactly one succeeds", func(t *testing.T, s store.Store) {
		f := newRecoveryFixture(t, s)
		const racers = 6
		errs := make([]error, racers)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range racers {
			wg.Go(func() {
				<-start
				r := f.recovery(at(time.Minute))
				for j := range r.Credentials {
					r.Credentials[j].ID = fmt.Sprintf("%s-%d", r.Credentials[j].ID, i)
					r.Credentials[j].CredID = fmt.Sprintf("%s-%d", r.Credentials[j].CredID, i)
				}
				r.Audit.ID = fmt.Sprintf("uj-recover-%d", i)
				errs[i] = s.Recover(t.Context(), r)
			})
		}
		close(start)
		wg.Wait()
		won := 0
		for i, err := range errs {
			if err == nil {
				won++
				continue
			}
			wantErr(t, fmt.Sprintf("recovery %d", i), err, store.ErrNotFound)
		}
		equal(t, "recoveries that succeeded", won, 1)
		creds, err := s.ListCredentials(t.Context(), f.User.ID)
		must(t, "ListCredentials", err)
		active := 0
		for _, c := range creds {
			if c.IsActive && c.TokenID == "" {
				active++
			}
		}
		equal(t, "active credentials after the race", active, 2)
	}},
	{"a new recovery key archives the previous one", func(t *testing.T, s store.Store) {
		f := newRecoveryFixture(t, s)
		next := newRecoveryKey("cr-rk-2", f.User, "rk-2")
		must(t, "CreateCredentialSigned", s.CreateCredentialSigned(t.Context(), signedWith(f.Action, f.User, "uj-1", t0), next))
		old, err := s.GetCredential(t.Context(), f.Recovery.ID)
		must(t, "GetCredential of the old recovery key", err)
		equal(t, "old recovery key active, archived", []bool{old.IsActive, old.IsArchived}, []bool{false, true})
		got, err := s.GetCredential(t.Context(), next.ID)
		must(t, "GetCredential of the new recovery key", err)
		equal(t, "new recovery key", got, next)
		passkey, err := s.GetCredential(t.Context(), f.Passkey.ID)
		must(t, "GetCredential of the passkey", err)
		equal(t, "passkey", passkey, f.Passkey)
	}},
	{"an archived credential cannot be activated again", func(t *testing.T, s store.Store) {
		f := newRecoveryFixture(t, s)
		must(t, "Recover", s.Recover(t.Context(), f.recovery(at(time.Minute))))
		a := newUserAction("ua-activate", f.User)
		a.CreatedAt, a.ExpiresAt = at(time.Minute), at(10*time.Minute)
		mustCreateUserAction(t, s, a)
		err := s.SetCredentialActive(t.Context(), signedWith(a, f.User, "uj-activate", at(2*time.Minute)), f.User.ID, f.Passkey.ID, true)
		wantErr(t, "SetCredentialActive of an archived credential", err, store.ErrArchived)
		got, err := s.GetUserAction(t.Context(), a.ID)
		must(t, "GetUserAction", err)
		if got.UsedAt != nil {
			t.Error("the refused activation used its action")
		}
	}},
	{"a recovery key does not count as the last sign-in credential", func(t *testing.T, s store.Store) {
		f := newRecoveryFixture(t, s)
		err := s.SetCredentialActive(t.Context(), signedWith(f.Action, f.User, "uj-1", t0), f.User.ID, f.Passkey.ID, false)
		wantErr(t, "deactivating the only passkey beside a recovery key", err, store.ErrLastCredential)
		must(t, "deactivating the recovery key", s.SetCredentialActive(t.Context(),
			signedWith(f.Action, f.User, "uj-2", t0), f.User.ID, f.Recovery.ID, false))
	}},
	{"delete expired sweeps expired one-time codes", func(t *testing.T, s store.Store) {
		_, u := seed(t, s)
		old, live := newCode(store.CodeRecovery, u, "old"), newCode(store.CodeCredential, u, "live")
		old.ExpiresAt, live.ExpiresAt = at(time.Minute), at(3*time.Hour)
		must(t, "PutCode old", s.PutCode(t.Context(), old))
		must(t, "PutCode live", s.PutCode(t.Context(), live))
		_, err := s.DeleteExpired(t.Context(), at(2*time.Hour))
		must(t, "DeleteExpired", err)
		_, err = s.GetCode(t.Context(), store.CodeRecovery, u.ID)
		wantErr(t, "GetCode of the expired code", err, store.ErrNotFound)
		_, err = s.GetCode(t.Context(), store.CodeCredential, u.ID)
		must(t, "GetCode of the live code", err)
	}},
}
