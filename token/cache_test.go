package token

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"countersign/store"
)

func TestVerifiedTokenCache(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	setup := func(t *testing.T) (*Issuer, *Issued, func(*Issued)) {
		is, st := newIssuer(t, &now)
		ctx := context.Background()
		if err := st.Invite(ctx, store.Invitation{
			Org:  &store.Org{ID: "or-1", Name: "o", CreatedAt: now},
			User: store.User{ID: "us-1", OrgID: "or-1", Username: "alice", Kind: store.KindCustomerEmployee, UserHandle: "h", IsActive: true, CreatedAt: now},
			Code: store.RegistrationCode{UserID: "us-1", CodeHash: []byte("x"), ExpiresAt: now.Add(time.Hour)},
		}); err != nil {
			t.Fatal(err)
		}
		login, err := is.IssueLogin(ctx, store.User{ID: "us-1", OrgID: "or-1", Username: "alice"})
		if err != nil {
			t.Fatal(err)
		}
		revoke := func(l *Issued) {
			if err := st.RevokeToken(ctx, l.ID, now); err != nil {
				t.Fatal(err)
			}
		}
		return is, &login, revoke
	}
	verify := func(is *Issuer, raw string) error {
		_, _, err := is.Verify(context.Background(), raw, store.TokenLogin)
		return err
	}

	t.Run("a token's signature is verified once, its record on every request", func(t *testing.T) {
		is, login, revoke := setup(t)
		for range 5 {
			if err := verify(is, login.Token); err != nil {
				t.Fatal(err)
			}
		}
		if n := is.signatureChecks.Load(); n != 1 {
			t.Fatalf("5 verifications checked %d signatures, want 1", n)
		}
		revoke(login)
		if err := verify(is, login.Token); !errors.Is(err, ErrInvalid) {
			t.Fatalf("a cached, revoked token: got %v, want ErrInvalid", err)
		}
	})
	t.Run("a token that does not verify is never cached", func(t *testing.T) {
		is, login, _ := setup(t)
		forged := login.Token[:strings.LastIndex(login.Token, ".")+1] + strings.Repeat("A", 86)
		for range 3 {
			if err := verify(is, forged); !errors.Is(err, ErrInvalid) {
				t.Fatalf("forged signature: got %v, want ErrInvalid", err)
			}
		}
		if n := is.verified.lru.Len(); n != 0 {
			t.Fatalf("the cache holds %d entries after 3 forgeries, want 0", n)
		}
		if n := is.signatureChecks.Load(); n != 3 {
			t.Fatalf("3 forgeries checked %d signatures, want 3", n)
		}
	})
	t.Run("a cached token stops verifying when it expires", func(t *testing.T) {
		is, login, _ := setup(t)
		if err := verify(is, login.Token); err != nil {
			t.Fatal(err)
		}
		defer func(was time.Time) { now = was }(now)
		now = now.Add(time.Hour + time.Second)
		if err := verify(is, login.Token); !errors.Is(err, ErrInvalid) {
			t.Fatalf("expired cached token: got %v, want ErrInvalid", err)
		}
	})
	t.Run("a cached token stops verifying when its key leaves the keyring", func(t *testing.T) {
		is, login, _ := setup(t)
		if err := verify(is, login.Token); err != nil {
			t.Fatal(err)
		}
		// The keyring as it is once the signing key was rotated away and
		// pruned: another key only.
		other, err := newKeyDER()
		if err != nil {
			t.Fatal(err)
		}
		raw, err := json.Marshal([]storedKey{{Key: other, CreatedAt: now}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := is.store.UpdateSecret(context.Background(), keyringSecret, func([]byte) ([]byte, error) { return raw, nil }); err != nil {
			t.Fatal(err)
		}
		if err := is.Reload(context.Background()); err != nil {
			t.Fatal(err)
		}
		if err := verify(is, login.Token); !errors.Is(err, ErrInvalid) {
			t.Fatalf("cached token of a dropped key: got %v, want ErrInvalid", err)
		}
	})
	t.Run("the cache is bounded", func(t *testing.T) {
		c := newVerifiedCache()
		for i := range verifiedCacheSize + 10 {
			c.add(cacheKey(string(rune(i))+"token"), verifiedToken{})
		}
		if n := c.lru.Len(); n != verifiedCacheSize {
			t.Fatalf("cache holds %d entries, want its bound %d", n, verifiedCacheSize)
		}
	})
}
