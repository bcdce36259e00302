package server

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"countersign/metrics"
	"countersign/store"
	"countersign/store/sqlite"
	"countersign/token"
	"countersign/webauthn"
	"countersign/webauthn/webauthntest"
)

const (
	testRPID   = "localhost"
	testOrigin = "http://localhost:8080"
)

// testSealKey seals the harness's login and action challenges.
var testSealKey = []byte("countersign test challenge seal!")

// harness is the real router on a temp SQLite store with an injected clock.
type harness struct {
	t      testing.TB
	srv    *Server
	st     *sqlite.Store
	cs     *webauthn.Ceremonies
	tokens *token.Issuer
	// metrics is the server's registry, for tests that scrape it.
	metrics *metrics.Metrics
	// timed and log are what the server was built on: the store through
	// the metrics wrapper, and the logger of the package's leak check.
	timed *metrics.Store
	log   *slog.Logger
	mu    sync.Mutex
	now   time.Time
}

// rebuild replaces the server with one built on the same store, clock,
// logger and metrics, with opts otherwise (origins default to the test's).
func (h *harness) rebuild(t testing.TB, opts Options) {
	t.Helper()
	if opts.Origins == nil {
		opts.Origins = []string{testOrigin}
	}
	opts.Now, opts.Logger, opts.Metrics = h.clock, h.log, h.metrics
	srv, err := New(context.Background(), h.timed, h.cs, h.tokens, opts)
	if err != nil {
		t.Fatal(err)
	}
	h.srv = srv
}

func newHarness(t testing.TB) *harness {
	t.Helper()
	h := &harness{t: t, now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "test.db"), sqlite.Options{})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	// The server sees the store through the metrics wrapper, as in
	// production; h.st is the store itself, for reading back.
	h.metrics = metrics.New()
	timed := metrics.WrapStore(st, h.metrics)
	// Everything the server logs goes to the package's leak check.
	log := slog.New(slog.NewJSONHandler(&testLog, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cs, err := webauthn.New(timed, webauthn.Options{
		RPID: testRPID, RPName: "countersign test", Origins: []string{testOrigin},
		DecoyKey: []byte("test decoy key"), SealKey: testSealKey, Now: h.clock, Logger: log,
	})
	if err != nil {
		t.Fatalf("ceremonies: %v", err)
	}
	tokens, err := token.New(ctx, timed, token.Options{Issuer: testOrigin, LoginTTL: time.Hour, TempTTL: 5 * time.Minute, Now: h.clock})
	if err != nil {
		t.Fatalf("tokens: %v", err)
	}
	srv, err := New(ctx, timed, cs, tokens, Options{Origins: []string{testOrigin}, Now: h.clock, Logger: log, Metrics: h.metrics})
	if err != nil {
		t.Fatalf("server: %v", err)
	}
	h.srv, h.st, h.cs, h.tokens, h.timed, h.log = srv, st, cs, tokens, timed, log
	harvestServerSecrets(st, SessionKeyringSecret, "jwt-es256-key-1", "jwt-signing-keys")
	leakSecrets.addBytes("challenge seal key", testSealKey)
	return h
}

func (h *harness) clock() time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.now
}

func (h *harness) advance(d time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.now = h.now.Add(d)
}

// response is a recorded answer with its decoded JSON.
type response struct {
	Status int
	Body   []byte
	Header http.Header
}

func (r response) json(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("response is not a JSON object: %v\n%s", err, r.Body)
	}
	return m
}

// errorCode returns error.code of a JSON error body.
func (r response) errorCode(t testing.TB) string {
	t.Helper()
	e, _ := r.json(t)["error"].(map[string]any)
	code, _ := e["code"].(string)
	return code
}

// do sends a request through the router. body may be a string (sent raw),
// nil (no body) or anything else (JSON-encoded).
func (h *harness) do(method, path string, body any, header ...string) response {
	h.t.Helper()
	var rd io.Reader
	var raw []byte
	switch b := body.(type) {
	case nil:
	case string:
		raw = []byte(b)
		rd = bytes.NewReader(raw)
	default:
		var err error
		if raw, err = json.Marshal(b); err != nil {
			h.t.Fatalf("encode body: %v", err)
		}
		rd = bytes.NewReader(raw)
	}
	req := httptest.NewRequest(method, path, rd)
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.srv.ServeHTTP(rec, req)
	harvest(req, raw, rec.Header(), rec.Body.Bytes())
	return response{Status: rec.Code, Body: rec.Body.Bytes(), Header: rec.Header()}
}

func (h *harness) mustStatus(r response, want int) {
	h.t.Helper()
	if r.Status != want {
		h.t.Fatalf("status = %d, want %d; body: %s", r.Status, want, r.Body)
	}
}

func (h *harness) invite(username string) webauthn.Invited {
	h.t.Helper()
	orgID := ""
	if orgs, err := h.st.ListOrgs(context.Background()); err == nil && len(orgs) > 0 {
		orgID = orgs[0].ID
	}
	inv, err := h.cs.Invite(context.Background(), webauthn.InviteRequest{OrgID: orgID, Username: username})
	if err != nil {
		h.t.Fatalf("invite %s: %v", username, err)
	}
	leakSecrets.add("registration code", inv.Code)
	return inv
}

// regInit is the decoded /auth/registration/init answer.
type regInit struct {
	Challenge string `json:"challenge"`
	Temp      string `json:"temporaryAuthenticationToken"`
	User      struct {
		ID string `json:"id"`
	} `json:"user"`
}

func (h *harness) registrationInit(inv webauthn.Invited) regInit {
	h.t.Helper()
	r := h.do("POST", "/auth/registration/init", map[string]string{
		"orgId": inv.Org.ID, "username": inv.User.Username, "registrationCode": inv.Code,
	})
	h.mustStatus(r, http.StatusOK)
	var out regInit
	if err := json.Unmarshal(r.Body, &out); err != nil {
		h.t.Fatal(err)
	}
	return out
}

func keyCredential(s *webauthntest.KeySigner, challenge string) map[string]any {
	cd, att := s.Attest(challenge)
	return map[string]any{"credentialKind": "Key", "credentialInfo": map[string]string{
		"credId": s.CredID, "clientData": cd, "attestationData": att,
	}}
}

func fido2Credential(credID, clientData, attestation []byte) map[string]any {
	return map[string]any{"credentialKind": "Fido2", "credentialInfo": map[string]string{
		"credId": b64(credID), "clientData": b64(clientData), "attestationData": b64(attestation),
	}}
}

func (h *harness) register(temp string, cred map[string]any) response {
	h.t.Helper()
	return h.do("POST", "/auth/registration", map[string]any{"firstFactorCredential": cred}, "Authorization", "Bearer "+temp)
}

// registerKey invites username and registers a Key credential of kind.
func (h *harness) registerKey(username, kind string) (webauthn.Invited, *webauthntest.KeySigner) {
	h.t.Helper()
	inv := h.invite(username)
	ri := h.registrationInit(inv)
	signer := webauthntest.NewKeySigner(kind)
	h.mustStatus(h.register(ri.Temp, keyCredential(signer, ri.Challenge)), http.StatusOK)
	return inv, signer
}

// registerFido2 invites username and registers a passkey on a software
// authenticator, as the browser SDK would (challenge as UTF-8 bytes).
func (h *harness) registerFido2(username string) (webauthn.Invited, *webauthntest.Authenticator) {
	h.t.Helper()
	inv := h.invite(username)
	ri := h.registrationInit(inv)
	auth := webauthntest.NewAuthenticator(testRPID, testOrigin)
	id, cd, att := auth.Create([]byte(ri.Challenge), []byte(ri.User.ID))
	h.mustStatus(h.register(ri.Temp, fido2Credential(id, cd, att)), http.StatusOK)
	return inv, auth
}

// loginInit is the decoded /auth/login/init answer.
type loginInit struct {
	Challenge           string `json:"challenge"`
	ChallengeIdentifier string `json:"challengeIdentifier"`
	AllowCredentials    struct {
		Key      []struct{ ID string } `json:"key"`
		Webauthn []struct{ ID string } `json:"webauthn"`
	} `json:"allowCredentials"`
}

func (h *harness) loginInit(orgID, username string) loginInit {
	h.t.Helper()
	body := map[string]string{"orgId": orgID}
	if username != "" {
		body["username"] = username
	}
	r := h.do("POST", "/auth/login/init", body)
	h.mustStatus(r, http.StatusOK)
	var out loginInit
	if err := json.Unmarshal(r.Body, &out); err != nil {
		h.t.Fatal(err)
	}
	return out
}

func keyAssertion(challengeID, credID, clientData, signature string) map[string]any {
	return map[string]any{"challengeIdentifier": challengeID, "firstFactor": map[string]any{
		"kind": "Key", "credentialAssertion": map[string]string{"credId": credID, "clientData": clientData, "signature": signature},
	}}
}

func fido2Assertion(challengeID string, credID, clientData, authData, sig, userHandle []byte) map[string]any {
	a := map[string]string{"credId": b64(credID), "clientData": b64(clientData), "authenticatorData": b64(authData), "signature": b64(sig)}
	if len(userHandle) > 0 {
		a["userHandle"] = b64(userHandle)
	}
	return map[string]any{"challengeIdentifier": challengeID, "firstFactor": map[string]any{"kind": "Fido2", "credentialAssertion": a}}
}

// loginKey logs in with a Key signer and returns the token.
func (h *harness) loginKey(inv webauthn.Invited, s *webauthntest.KeySigner) string {
	h.t.Helper()
	li := h.loginInit(inv.Org.ID, inv.User.Username)
	cd, sig := s.Sign(li.Challenge)
	r := h.do("POST", "/auth/login", keyAssertion(li.ChallengeIdentifier, s.CredID, cd, sig))
	h.mustStatus(r, http.StatusOK)
	tok, _ := r.json(h.t)["token"].(string)
	if tok == "" {
		h.t.Fatalf("login answered no token: %s", r.Body)
	}
	return tok
}

// loginFido2 logs in with a passkey, naming the user.
func (h *harness) loginFido2(inv webauthn.Invited, a *webauthntest.Authenticator) string {
	h.t.Helper()
	li := h.loginInit(inv.Org.ID, inv.User.Username)
	id, cd, ad, sig, uh := a.Get([]byte(li.Challenge))
	r := h.do("POST", "/auth/login", fido2Assertion(li.ChallengeIdentifier, id, cd, ad, sig, uh))
	h.mustStatus(r, http.StatusOK)
	tok, _ := r.json(h.t)["token"].(string)
	return tok
}

func (h *harness) credentials(userID string) []store.Credential {
	h.t.Helper()
	creds, err := h.st.ListCredentials(context.Background(), userID)
	if err != nil {
		h.t.Fatal(err)
	}
	return creds
}

func (h *harness) user(id string) store.User {
	h.t.Helper()
	u, err := h.st.GetUser(context.Background(), id)
	if err != nil {
		h.t.Fatal(err)
	}
	return u
}

// mustStatus fails t (the running test or subtest) unless r has status want.
func mustStatus(t testing.TB, r response, want int) {
	t.Helper()
	if r.Status != want {
		t.Fatalf("status = %d, want %d; body: %s", r.Status, want, r.Body)
	}
}
