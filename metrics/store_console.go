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
