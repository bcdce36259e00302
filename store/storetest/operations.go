package storetest

import (
	"context"
	"testing"
	"time"

	"countersign/store"
)

// Operating the store: readiness and signing-key retirement.
var operationTests = []test{
	{"a migrated store has no pending migration", func(t *testing.T, s store.Store) {
		n, err := s.PendingMigrations(context.Background())
		if err != nil || n != 0 {
			t.Fatalf("PendingMigrations = %d, %v; want 0, nil", n, err)
		}
	}},
	{"latest token expiry is zero without tokens", func(t *testing.T, s store.Store) {
		got, err := s.LatestTokenExpiry(context.Background(), at(time.Hour))
		if err != nil || !got.IsZero() {
			t.Fatalf("LatestTokenExpiry = %v, %v; want the zero time", got, err)
		}
	}},
	{"latest token expiry counts unrevoked tokens created before the time", func(t *testing.T, s store.Store) {
		ctx := context.Background()
		org, u := seed(t, s)
		tokens := []store.Token{
			{ID: "to-short", Kind: store.TokenLogin, OrgID: org.ID, UserID: u.ID, CreatedAt: t0, ExpiresAt: at(time.Hour)},
			{ID: "to-pat", Kind: store.TokenPAT, OrgID: org.ID, UserID: u.ID, CreatedAt: at(time.Minute), ExpiresAt: at(730 * 24 * time.Hour)},
			{ID: "to-revoked", Kind: store.TokenLogin, OrgID: org.ID, UserID: u.ID, CreatedAt: t0, ExpiresAt: at(900 * 24 * time.Hour)},
			{ID: "to-later", Kind: store.TokenLogin, OrgID: org.ID, UserID: u.ID, CreatedAt: at(2 * time.Hour), ExpiresAt: at(1000 * 24 * time.Hour)},
		}
		for _, tk := range tokens {
			if err := s.CreateToken(ctx, tk); err != nil {
				t.Fatalf("CreateToken %s: %v", tk.ID, err)
			}
		}
		if err := s.RevokeToken(ctx, "to-revoked", at(time.Minute)); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			before time.Time
			want   time.Time
		}{
			{t0, time.Time{}},                         // created at t0 is not before t0
			{at(time.Second), at(time.Hour)},          // the login token only
			{at(time.Hour), at(730 * 24 * time.Hour)}, // and the PAT; the revoked one never counts
			{at(3 * time.Hour), at(1000 * 24 * time.Hour)},
		} {
			got, err := s.LatestTokenExpiry(ctx, tc.before)
			if err != nil || !got.Equal(tc.want) {
				t.Errorf("LatestTokenExpiry(%v) = %v, %v; want %v", tc.before, got, err, tc.want)
			}
		}
	}},
}
