package metrics

import (
	"context"
	"time"

	"countersign/store"
)

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
