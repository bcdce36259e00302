package token

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"countersign/store"
	"countersign/store/sqlite"
)

func newIssuer(t testing.TB, now *time.Time) (*Issuer, *sqlite.Store) {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "t.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	is, err := New(context.Background(), st, Options{Issuer: "http://localhost:8080", LoginTTL: time.Hour, TempTTL: time.Minute, Now: func() time.Time { return *now }})
	if err != nil {
		t.Fatal(err)
	}
	return is, st
}

func TestTokens(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	is, st := newIssuer(t, &now)
	ctx := context.Background()
	u := store.User{ID: "us-1", OrgID: "or-1", Username: "alice"}
	temp, err := is.IssueTemp("ch-1", u)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("a second issuer on the same store verifies the first one's tokens", func(t *testing.T) {
		other, err := New(ctx, st, Options{Issuer: "http://localhost:8080", Now: func() time.Time { return now }})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := other.Parse(temp.Token, store.TokenTemp); err != nil {
			t.Fatalf("parse: %v", err)
		}
	})
	t.Run("a token of another kind is refused", func(t *testing.T) {
		if _, err := is.Parse(temp.Token, store.TokenLogin); !errors.Is(err, ErrInvalid) {
			t.Fatalf("got %v, want ErrInvalid", err)
		}
	})
	t.Run("a token signed by another key with the same kid is refused", func(t *testing.T) {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tok := jwt.NewWithClaims(jwt.SigningMethodES256, Claims{
			RegisteredClaims: jwt.RegisteredClaims{Issuer: is.opts.Issuer, Audience: jwt.ClaimStrings{is.opts.Issuer}, ExpiresAt: jwt.NewNumericDate(now.Add(time.Hour)), ID: "ch-1"},
			AppMetadata:      AppMetadata{OrgID: "or-1", UserID: "us-1", TokenKind: store.TokenTemp},
		})
		tok.Header["kid"] = is.SigningKeyID()
		forged, err := tok.SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := is.Parse(forged, store.TokenTemp); !errors.Is(err, ErrInvalid) {
			t.Fatalf("got %v, want ErrInvalid", err)
		}
	})
	t.Run("an HS256 token keyed with the public key is refused", func(t *testing.T) {
		spki := is.signer().priv.PublicKey
		point, _ := spki.Bytes()
		tok := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"exp": now.Add(time.Hour).Unix(), "iss": is.opts.Issuer, "aud": is.opts.Issuer})
		tok.Header["kid"] = is.SigningKeyID()
		forged, _ := tok.SignedString(point)
		if _, err := is.Parse(forged, store.TokenTemp); !errors.Is(err, ErrInvalid) {
			t.Fatalf("got %v, want ErrInvalid", err)
		}
	})
	t.Run("an expired token is refused", func(t *testing.T) {
		later := now.Add(2 * time.Minute)
		exp, _ := newIssuerAt(t, st, later)
		if _, err := exp.Parse(temp.Token, store.TokenTemp); !errors.Is(err, ErrInvalid) {
			t.Fatalf("got %v, want ErrInvalid", err)
		}
	})
	t.Run("a login token is recorded and refused once revoked", func(t *testing.T) {
		if err := st.Invite(ctx, store.Invitation{
			Org:  &store.Org{ID: "or-1", Name: "o", CreatedAt: now},
			User: store.User{ID: "us-1", OrgID: "or-1", Username: "alice", Kind: store.KindCustomerEmployee, UserHandle: "h", IsActive: true, CreatedAt: now},
			Code: store.RegistrationCode{UserID: "us-1", CodeHash: []byte("x"), ExpiresAt: now.Add(time.Hour)},
		}); err != nil {
			t.Fatal(err)
		}
		login, err := is.IssueLogin(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := is.Verify(ctx, login.Token, store.TokenLogin); err != nil {
			t.Fatalf("verify: %v", err)
		}
		if err := st.RevokeToken(ctx, login.ID, now); err != nil {
			t.Fatal(err)
		}
		if _, _, err := is.Verify(ctx, login.Token, store.TokenLogin); !errors.Is(err, ErrInvalid) {
			t.Fatalf("got %v, want ErrInvalid", err)
		}
	})
	t.Run("a token whose signed kind differs from its record is refused", func(t *testing.T) {
		// Only a holder of the signing key could make one; the store's
		// record still decides. A login bearer is read without its access
		// token, so the kind read back must be the stored one.
		for _, tc := range []struct{ stored, claimed string }{
			{store.TokenPAT, store.TokenLogin}, {store.TokenLogin, store.TokenPAT},
		} {
			rec := store.Token{ID: store.NewID("to"), Kind: tc.stored, OrgID: "or-1", UserID: "us-1", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
			if err := st.CreateToken(ctx, rec); err != nil {
				t.Fatal(err)
			}
			lying := rec
			lying.Kind = tc.claimed
			raw, err := is.sign(lying, "alice")
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := is.VerifyBearer(ctx, raw.Token, tc.claimed); !errors.Is(err, ErrInvalid) {
				t.Fatalf("a %s recorded as %s: got %v, want ErrInvalid", tc.claimed, tc.stored, err)
			}
		}
	})
}

func newIssuerAt(t *testing.T, st *sqlite.Store, at time.Time) (*Issuer, error) {
	t.Helper()
	return New(context.Background(), st, Options{Issuer: "http://localhost:8080", Now: func() time.Time { return at }})
}
