package storetest

import (
	"testing"
	"time"

	"countersign/store"
)

// consoleTests are the behaviours the console needs beyond the API's.
var consoleTests = []test{
	{"a signed renewal replaces a pending invitation's code", func(t *testing.T, s store.Store) {
		f := newAdminFixture(t, s)
		code := store.RegistrationCode{UserID: f.Bob.ID, CodeHash: hash("renewed"), ExpiresAt: at(48 * time.Hour)}
		must(t, "renew", s.RenewRegistrationCodeSigned(t.Context(), signedNew(t, s, f.Alice, "renew", t0), code))
		got, err := s.GetRegistrationCode(t.Context(), f.Bob.ID)
		must(t, "get code", err)
		if string(got.CodeHash) != string(code.CodeHash) || !got.ExpiresAt.Equal(code.ExpiresAt) {
			t.Errorf("code = %+v, want %+v", got, code)
		}
	}},
	{"a cancelled (archived) invitation is not renewed, and the action stays unused", func(t *testing.T, s store.Store) {
		f := newAdminFixture(t, s)
		must(t, "archive bob", s.UpdateUserSigned(t.Context(), signedNew(t, s, f.Alice, "archive", t0), f.Org.ID, f.Bob.ID, store.UserPatch{IsArchived: ptr(true)}))
		sg := signedNew(t, s, f.Alice, "renew", t0)
		err := s.RenewRegistrationCodeSigned(t.Context(), sg, store.RegistrationCode{UserID: f.Bob.ID, CodeHash: hash("x"), ExpiresAt: at(time.Hour)})
		wantErr(t, "renew an archived user's code", err, store.ErrNotFound)
		a, err := s.GetUserAction(t.Context(), sg.ActionID)
		must(t, "get action", err)
		if a.UsedAt != nil {
			t.Errorf("the failed renewal used its action")
		}
	}},
}
