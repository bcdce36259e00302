package token

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx", for the schema of a test

	"countersign/store"
	"countersign/store/postgres"
	"countersign/store/sqlite"
)

// clock is an injected clock shared by the replicas of a test.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// replicaStore is a store with what the rotation tests seed directly.
type replicaStore interface {
	Store
	Invite(ctx context.Context, in store.Invitation) error
	RevokeToken(ctx context.Context, id string, now time.Time) error
	Close() error
}

// backends open two stores on one database, as two replicas do: SQLite
// twice on one file, PostgreSQL twice on one schema (when
// COUNTERSIGN_TEST_POSTGRES names a database, as make test does).
var backends = map[string]func(t *testing.T) (a, b replicaStore){
	"sqlite": func(t *testing.T) (replicaStore, replicaStore) {
		path := filepath.Join(t.TempDir(), "t.db")
		return openSQLite(t, path), openSQLite(t, path)
	},
	"postgres": func(t *testing.T) (replicaStore, replicaStore) {
		dsn := postgresSchema(t)
		return openPostgres(t, dsn), openPostgres(t, dsn)
	},
}

func openSQLite(t *testing.T, path string) replicaStore {
	st, err := sqlite.Open(context.Background(), path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func openPostgres(t *testing.T, dsn string) replicaStore {
	// The test cluster runs with fsync off (scripts/test-postgres.sh).
	st, err := postgres.Open(context.Background(), dsn, postgres.Options{AllowUnsafeDurability: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// postgresSchema returns a DSN on a fresh schema of the test database,
// dropped when the test ends, or skips saying why.
func postgresSchema(t *testing.T) string {
	t.Helper()
	base := os.Getenv("COUNTERSIGN_TEST_POSTGRES")
	if base == "" {
		t.Skip(`COUNTERSIGN_TEST_POSTGRES is not set: no PostgreSQL to test against (eval "$(bash scripts/test-postgres.sh start)" starts one)`)
	}
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	var b [6]byte
	rand.Read(b[:])
	schema := "rot_" + hex.EncodeToString(b[:])
	if _, err := admin.ExecContext(context.Background(), `CREATE SCHEMA `+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		defer admin.Close()
		if _, err := admin.ExecContext(context.Background(), `DROP SCHEMA `+schema+` CASCADE`); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

const (
	testIssuer = "http://localhost:8080"
	patTTL     = 730 * 24 * time.Hour
)

func replica(t *testing.T, st Store, c *clock) *Issuer {
	t.Helper()
	is, err := New(context.Background(), st, Options{Issuer: testIssuer, LoginTTL: time.Hour, TempTTL: 5 * time.Minute, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	return is
}

func kidOf(t *testing.T, raw string) string {
	t.Helper()
	tok, _, err := jwt.NewParser().ParseUnverified(raw, &Claims{})
	if err != nil {
		t.Fatal(err)
	}
	kid, _ := tok.Header["kid"].(string)
	return kid
}

func jwksKIDs(is *Issuer) []string {
	var kids []string
	for _, k := range is.JWKS()["keys"].([]map[string]string) {
		kids = append(kids, k["kid"])
	}
	return kids
}

// issuePAT signs and records a personal access token living two years, as
// CreateAccessTokenSigned records one.
func issuePAT(t *testing.T, is *Issuer, st Store, u store.User, now time.Time) Issued {
	t.Helper()
	at := store.AccessToken{ID: store.NewID("to"), OrgID: u.OrgID, Kind: store.TokenPAT, UserID: u.ID, CreatedAt: now, ExpiresAt: now.Add(patTTL)}
	iss, err := is.SignAccessToken(at, u.Username)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.CreateToken(context.Background(), store.Token{ID: at.ID, Kind: at.Kind, OrgID: at.OrgID, UserID: at.UserID, CreatedAt: now, ExpiresAt: at.ExpiresAt}); err != nil {
		t.Fatal(err)
	}
	return iss
}

func seedUser(t *testing.T, st replicaStore, now time.Time) store.User {
	t.Helper()
	org := store.Org{ID: store.NewID("or"), Name: "org", CreatedAt: now}
	u := store.User{ID: store.NewID("us"), OrgID: org.ID, Username: "alice", Kind: store.KindCustomerEmployee, UserHandle: store.NewID("uh"), IsActive: true, IsRegistered: true, CreatedAt: now}
	if err := st.Invite(context.Background(), store.Invitation{Org: &org, User: u, Code: store.RegistrationCode{UserID: u.ID, CodeHash: []byte("h"), ExpiresAt: now.Add(time.Hour)}}); err != nil {
		t.Fatal(err)
	}
	return u
}

// issuedUnder issues a login token of u on is and fails unless it names
// the key kid.
func issuedUnder(t *testing.T, is *Issuer, u store.User, kid, what string) Issued {
	t.Helper()
	tok, err := is.IssueLogin(context.Background(), u)
	if err != nil {
		t.Fatal(err)
	}
	if got := kidOf(t, tok.Token); got != kid {
		t.Fatalf("%s names key %s, want %s", what, got, kid)
	}
	return tok
}

func mustVerify(t *testing.T, is *Issuer, raw, what string) {
	t.Helper()
	if _, _, err := is.Verify(context.Background(), raw, store.TokenLogin, store.TokenPAT); err != nil {
		t.Fatalf("%s does not verify: %v", what, err)
	}
}

func TestSigningKeyRotation(t *testing.T) {
	for name, open := range backends {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			c := &clock{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
			stA, stB := open(t)
			a := replica(t, stA, c) // running before the rotation, never restarted
			u := seedUser(t, stA, c.Now())

			oldLogin, err := a.IssueLogin(ctx, u)
			if err != nil {
				t.Fatal(err)
			}
			oldPAT := issuePAT(t, a, stA, u, c.Now())
			oldKID := kidOf(t, oldLogin.Token)

			c.advance(time.Minute)
			b := replica(t, stB, c) // the operator's rotate-signing-key
			rot, err := b.Rotate(ctx, true)
			if err != nil {
				t.Fatal(err)
			}
			if rot.PreviousKID != oldKID || rot.KID == oldKID {
				t.Fatalf("rotation %+v, old kid %s", rot, oldKID)
			}

			newLogin := issuedUnder(t, b, u, rot.KID, "a token signed after the rotation")
			// Replica a has not reloaded: a token naming the new key makes
			// it read the keyring, and it verifies both keys' tokens.
			mustVerify(t, a, newLogin.Token, "a new token on the replica that was not restarted")
			for _, is := range []*Issuer{a, b} {
				mustVerify(t, is, oldLogin.Token, "the login token signed before the rotation")
				mustVerify(t, is, oldPAT.Token, "the PAT signed before the rotation")
				if kids := jwksKIDs(is); len(kids) != 2 || kids[0] != rot.KID || kids[1] != oldKID {
					t.Fatalf("JWKS kids = %v, want the new then the old", kids)
				}
			}
			if err := a.Reload(ctx); err != nil {
				t.Fatal(err)
			}
			issuedUnder(t, a, u, rot.KID, "after its periodic reload, a token of replica a")

			// The login token has expired, the PAT has not: the old key stays.
			c.advance(2 * time.Hour)
			if dropped, err := b.Prune(ctx); err != nil || len(dropped) != 0 {
				t.Fatalf("Prune while a PAT of the old key lives = %v, %v", dropped, err)
			}
			retired, err := b.Retired(ctx)
			if err != nil || len(retired) != 1 || !retired[0].Until.Equal(oldPAT.ExpiresAt) {
				t.Fatalf("Retired = %+v, %v; want the old key until the PAT expires at %v", retired, err, oldPAT.ExpiresAt)
			}
			mustVerify(t, a, oldPAT.Token, "the PAT, after the login token expired")

			// Once the PAT has expired, the old key is dropped everywhere.
			c.now = oldPAT.ExpiresAt
			dropped, err := b.Prune(ctx)
			if err != nil || len(dropped) != 1 || dropped[0] != oldKID {
				t.Fatalf("Prune after the last token expired = %v, %v; want [%s]", dropped, err, oldKID)
			}
			if err := a.Reload(ctx); err != nil {
				t.Fatal(err)
			}
			for _, is := range []*Issuer{a, b} {
				if kids := jwksKIDs(is); len(kids) != 1 || kids[0] != rot.KID {
					t.Fatalf("JWKS kids after the drop = %v, want only %s", kids, rot.KID)
				}
				if _, err := is.Parse(oldPAT.Token, store.TokenPAT); !errors.Is(err, ErrInvalid) {
					t.Fatalf("a token of the dropped key: %v, want ErrInvalid", err)
				}
			}
		})
	}
}

func TestRetiredKeyWithoutLongLivedTokens(t *testing.T) {
	ctx := context.Background()
	c := &clock{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	st, _ := backends["sqlite"](t)
	is := replica(t, st, c)
	u := seedUser(t, st, c.Now())
	login, err := is.IssueLogin(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	// A revoked PAT holds no key: nobody may use it.
	revoked := issuePAT(t, is, st, u, c.Now())
	if err := st.RevokeToken(ctx, revoked.ID, c.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := is.Rotate(ctx, true); err != nil {
		t.Fatal(err)
	}
	retired, err := is.Retired(ctx)
	if err != nil || len(retired) != 1 || !retired[0].Until.Equal(login.ExpiresAt) {
		t.Fatalf("Retired = %+v, %v; want until the login token expires at %v", retired, err, login.ExpiresAt)
	}
	c.now = login.ExpiresAt.Add(-time.Second)
	if dropped, _ := is.Prune(ctx); len(dropped) != 0 {
		t.Fatalf("dropped %v a second before the last token expires", dropped)
	}
	c.now = login.ExpiresAt
	if dropped, _ := is.Prune(ctx); len(dropped) != 1 {
		t.Fatalf("Prune at the expiry of the last token = %v, want the old key", dropped)
	}
}

func TestKeyringStartsFromTheLegacyKey(t *testing.T) {
	ctx := context.Background()
	c := &clock{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	st, _ := backends["sqlite"](t)
	// What the release before the keyring left in the store.
	der, err := newKeyDER()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.EnsureSecret(ctx, legacyKeySecret, der); err != nil {
		t.Fatal(err)
	}
	legacy, _ := parseKey(der)
	is := replica(t, st, c)
	if got, want := is.SigningKeyID(), keyID(&legacy.PublicKey); got != want {
		t.Fatalf("signing kid %s, want the legacy key's %s: tokens issued before the upgrade would stop verifying", got, want)
	}
	if _, err := is.Rotate(ctx, true); err != nil {
		t.Fatal(err)
	}
	if raw, _ := st.EnsureSecret(ctx, legacyKeySecret, nil); string(raw) != string(der) {
		t.Fatal("rotation changed the legacy key that the previous release reads")
	}
}

func TestKeyringIsBounded(t *testing.T) {
	ctx := context.Background()
	c := &clock{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	st, _ := backends["sqlite"](t)
	is := replica(t, st, c)
	u := seedUser(t, st, c.Now())
	issuePAT(t, is, st, u, c.Now()) // keeps every retired key
	for i := 1; i < maxKeys; i++ {
		c.advance(time.Hour)
		if _, err := is.Rotate(ctx, true); err != nil {
			t.Fatalf("rotation %d: %v", i, err)
		}
	}
	_, err := is.Rotate(ctx, true)
	if !errors.Is(err, ErrKeyringFull) || !strings.Contains(err.Error(), "16 keys") {
		t.Fatalf("rotation past %d keys: %v, want ErrKeyringFull", maxKeys, err)
	}
	if kids := jwksKIDs(is); len(kids) != maxKeys {
		t.Fatalf("JWKS has %d keys after a refused rotation, want %d", len(kids), maxKeys)
	}
}

// rotationScene is where a rotation test starts: replica a has signed
// oldLogin for u under the first key (oldKID); b, on the other store, is
// the operator's rotate-signing-key.
type rotationScene struct {
	c        *clock
	a, b     *Issuer
	u        store.User
	oldLogin Issued
	oldKID   string
}

func newRotationScene(t *testing.T, open func(t *testing.T) (a, b replicaStore)) rotationScene {
	t.Helper()
	c := &clock{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	stA, stB := open(t)
	a := replica(t, stA, c)
	u := seedUser(t, stA, c.Now())
	oldLogin, err := a.IssueLogin(context.Background(), u)
	if err != nil {
		t.Fatal(err)
	}
	return rotationScene{c: c, a: a, b: replica(t, stB, c), u: u, oldLogin: oldLogin, oldKID: kidOf(t, oldLogin.Token)}
}

// TestRotationPublishesTheKeyBeforeItSigns: a rotation's key is published
// and verifies at once, and signs only ActivationDelay later, by which time
// every replica reloading on its interval has it: none meets a token under
// a key it does not know, nor serves a JWKS without it.
func TestRotationPublishesTheKeyBeforeItSigns(t *testing.T) {
	for name, open := range backends {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			sc := newRotationScene(t, open)
			c, a, b, u, oldLogin, oldKID := sc.c, sc.a, sc.b, sc.u, sc.oldLogin, sc.oldKID
			rot, err := b.Rotate(ctx, false)
			if err != nil {
				t.Fatal(err)
			}
			if want := c.Now().Add(ActivationDelay); !rot.ActiveAt.Equal(want) {
				t.Fatalf("the new key signs from %s, want %s", rot.ActiveAt, want)
			}
			if _, err := b.Rotate(ctx, false); !errors.Is(err, ErrRotationPending) {
				t.Fatalf("a second rotation before the first key signs: %v, want ErrRotationPending", err)
			}

			// Within the reload interval replica a re-reads the keyring:
			// it publishes the new key and still signs with the old one.
			c.advance(ReloadInterval)
			if err := a.Reload(ctx); err != nil {
				t.Fatal(err)
			}
			for _, is := range []*Issuer{a, b} {
				issuedUnder(t, is, u, oldKID, "before the activation, a token")
				if kids := jwksKIDs(is); len(kids) != 2 || kids[0] != rot.KID || kids[1] != oldKID {
					t.Fatalf("JWKS kids before the activation = %v, want the new then the old", kids)
				}
			}

			// At the activation both sign with the new key, without a reload.
			c.now = rot.ActiveAt
			for _, is := range []*Issuer{a, b} {
				tok := issuedUnder(t, is, u, rot.KID, "after the activation, a token")
				mustVerify(t, a, tok.Token, "a token under the new key")
				mustVerify(t, b, tok.Token, "a token under the new key")
			}
			mustVerify(t, a, oldLogin.Token, "the token signed before the rotation")
			retired, err := b.Retired(ctx)
			if err != nil || len(retired) != 1 || retired[0].KID != oldKID || !retired[0].RetiredAt.Equal(rot.ActiveAt) {
				t.Fatalf("Retired = %+v, %v; want %s retired when the new key took over", retired, err, oldKID)
			}
		})
	}
}

// TestAnImmediateRotationOverAPendingOneSignsAtOnce: an operator who rotates
// again with --immediately while the last rotation's key waits to sign gets
// a key that signs at once, on every replica after its reload; the waiting
// key never signs, even past the time it was to start; the key that was
// signing retires now, not when the superseded key would have started; and
// every token signed before stays valid.
func TestAnImmediateRotationOverAPendingOneSignsAtOnce(t *testing.T) {
	for name, open := range backends {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			sc := newRotationScene(t, open)
			c, a, b, u, oldLogin, oldKID := sc.c, sc.a, sc.b, sc.u, sc.oldLogin, sc.oldKID
			pending, err := b.Rotate(ctx, false)
			if err != nil {
				t.Fatal(err)
			}
			c.advance(time.Second)
			now, err := b.Rotate(ctx, true)
			if err != nil {
				t.Fatalf("an immediate rotation over a pending one: %v", err)
			}
			if !now.ActiveAt.Equal(c.Now()) || now.PreviousKID != pending.KID {
				t.Fatalf("rotation = %+v, want active now (%s) after %s", now, c.Now(), pending.KID)
			}
			if err := a.Reload(ctx); err != nil {
				t.Fatal(err)
			}
			for _, is := range []*Issuer{a, b} {
				issuedUnder(t, is, u, now.KID, "right after the immediate rotation, a token")
				if kids := jwksKIDs(is); len(kids) != 3 || kids[0] != now.KID || kids[1] != pending.KID || kids[2] != oldKID {
					t.Fatalf("JWKS kids = %v, want %s, %s, %s", kids, now.KID, pending.KID, oldKID)
				}
			}
			c.now = pending.ActiveAt.Add(time.Second) // when the superseded key was to start signing
			for _, is := range []*Issuer{a, b} {
				tok := issuedUnder(t, is, u, now.KID, "past the superseded key's activation, a token")
				mustVerify(t, a, tok.Token, "a token under the immediate key")
			}
			mustVerify(t, b, oldLogin.Token, "the token signed before both rotations")
			retired, err := b.Retired(ctx)
			if err != nil || len(retired) != 2 {
				t.Fatalf("Retired = %+v, %v; want the superseded and the old key", retired, err)
			}
			for _, r := range retired {
				if !r.RetiredAt.Equal(now.ActiveAt) {
					t.Fatalf("%s retired at %s, want %s, when the immediate key took over", r.KID, r.RetiredAt, now.ActiveAt)
				}
			}
		})
	}
}
