package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"

	"countersign/webauthn/webauthntest"
)

// withOptions rebuilds the harness's server with opts.
func (h *harness) withOptions(t *testing.T, opts Options) { h.rebuild(t, opts) }

// doFrom sends a request as if from the peer address addr.
func (h *harness) doFrom(addr, method, path, body string) response {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.RemoteAddr = addr
	rec := httptest.NewRecorder()
	h.srv.ServeHTTP(rec, req)
	return response{Status: rec.Code, Body: rec.Body.Bytes(), Header: rec.Header()}
}

func TestRateLimits(t *testing.T) {
	t.Run("every 429 says when to come back", func(t *testing.T) {
		h := newHarness(t)
		h.withOptions(t, Options{RateLimit: 1})
		var limited response
		for range 10 {
			if r := h.doFrom("192.0.2.1:1000", "POST", "/auth/login/init", `{"orgId":"or-x"}`); r.Status == http.StatusTooManyRequests {
				limited = r
			}
		}
		if limited.Status != http.StatusTooManyRequests || limited.Header.Get("Retry-After") == "" {
			t.Fatalf("the limited answer: %d, Retry-After %q", limited.Status, limited.Header.Get("Retry-After"))
		}
	})
	t.Run("one account is limited whatever address asks for it, and others are not", func(t *testing.T) {
		h := newHarness(t)
		h.withOptions(t, Options{AccountRateLimit: 1})
		inv, _ := h.registerKey("alice", "P256")
		body := `{"orgId":"` + inv.Org.ID + `","username":"Alice"}`
		limited := 0
		for i := range 10 {
			if h.doFrom(fmt.Sprintf("198.51.100.%d:1000", i), "POST", "/auth/login/init", body).Status == http.StatusTooManyRequests {
				limited++
			}
		}
		if limited == 0 {
			t.Fatal("ten logins for one account from ten addresses were never limited")
		}
		other := `{"orgId":"` + inv.Org.ID + `","username":"bob"}`
		mustStatus(t, h.doFrom("198.51.100.1:1000", "POST", "/auth/login/init", other), http.StatusOK)
	})
	t.Run("a signed-in identity asking for challenges is limited", func(t *testing.T) {
		h := newHarness(t)
		h.withOptions(t, Options{AccountRateLimit: 1})
		inv, signer := h.registerKey("alice", "P256")
		tok := h.loginKey(inv, signer)
		limited := 0
		for range 10 {
			for _, path := range []string{"/auth/action/init", "/auth/credentials/init"} {
				r := h.do("POST", path, map[string]string{"kind": "Key", "userActionHttpMethod": "PUT", "userActionHttpPath": "/auth/credentials/name",
					"userActionPayload": `{"credentialUuid":"cr-x","name":"x"}`}, "Authorization", "Bearer "+tok)
				if r.Status == http.StatusTooManyRequests {
					limited++
					if r.Header.Get("Retry-After") == "" {
						t.Fatal("429 without Retry-After")
					}
				}
			}
		}
		if limited == 0 {
			t.Fatal("twenty challenges in a row were never limited")
		}
	})
}

// Credential challenges are stored: asking for more than the cap replaces
// the oldest, so one identity never holds more than 32.
func TestOpenChallengesPerIdentityAreCapped(t *testing.T) {
	h := newHarness(t)
	u := h.newActionUser("alice")
	var ids []string
	for range 40 {
		r := h.do("POST", "/auth/credentials/init", map[string]string{"kind": "Key"}, "Authorization", "Bearer "+u.tok)
		mustStatus(t, r, http.StatusOK)
		ids = append(ids, r.json(t)["challengeIdentifier"].(string))
	}
	kept := 0
	for i, id := range ids {
		_, err := h.st.ConsumeChallenge(t.Context(), id, h.clock())
		if err == nil {
			kept++
			if i < len(ids)-32 {
				t.Errorf("challenge %d of 40 was kept, an older one than the newest 32", i)
			}
		}
	}
	if kept != 32 {
		t.Fatalf("%d of 40 challenges of one identity are open, want 32", kept)
	}
}

// Action and login challenges are sealed: asking for them, however often,
// writes nothing a client could grow.
func TestSealedChallengesWriteNothingWhenHandedOut(t *testing.T) {
	h := newHarness(t)
	u := h.newActionUser("alice")
	before := h.st.Commits()
	for range 40 {
		r := h.do("POST", "/auth/action/init", map[string]string{"userActionHttpMethod": "PUT", "userActionHttpPath": "/auth/credentials/name",
			"userActionPayload": `{"credentialUuid":"` + u.secondUUID + `","name":"x"}`}, "Authorization", "Bearer "+u.tok)
		mustStatus(t, r, http.StatusOK)
		mustStatus(t, h.do("POST", "/auth/login/init", map[string]string{"orgId": u.inv.Org.ID, "username": "alice"}), http.StatusOK)
	}
	if n := h.st.Commits() - before; n != 0 {
		t.Fatalf("80 challenges handed out committed %d transactions, want 0", n)
	}
}

func TestAStoreThatCannotServeAnswers503(t *testing.T) {
	h := newHarness(t)
	inv, signer := h.registerKey("alice", "P256")
	tok := h.loginKey(inv, signer)
	h.st.Close()
	for _, r := range []response{
		get(h, tok, "/auth/credentials"),
		h.do("POST", "/auth/login/init", map[string]string{"orgId": inv.Org.ID, "username": "alice"}),
		h.do("GET", "/readyz", nil),
	} {
		mustStatus(t, r, http.StatusServiceUnavailable)
		if r.Header.Get("Retry-After") == "" || r.errorCode(t) != "unavailable" {
			t.Fatalf("503 without Retry-After or code: %v %s", r.Header, r.Body)
		}
	}
	// Liveness does not ask the store: a restart would not bring it back.
	mustStatus(t, h.do("GET", "/healthz", nil), http.StatusOK)
}

func TestResponseHeaders(t *testing.T) {
	h := newHarness(t)
	inv, signer := h.registerKey("alice", "P256")
	t.Run("token and challenge answers are never cached", func(t *testing.T) {
		li := h.do("POST", "/auth/login/init", map[string]string{"orgId": inv.Org.ID, "username": "alice"})
		if cc := li.Header.Get("Cache-Control"); cc != "no-store" {
			t.Fatalf("login/init Cache-Control = %q", cc)
		}
		var ch loginInit
		json.Unmarshal(li.Body, &ch)
		cd, sig := signer.Sign(ch.Challenge)
		r := h.do("POST", "/auth/login", keyAssertion(ch.ChallengeIdentifier, signer.CredID, cd, sig))
		mustStatus(t, r, http.StatusOK)
		if cc := r.Header.Get("Cache-Control"); cc != "no-store" {
			t.Fatalf("login Cache-Control = %q", cc)
		}
	})
	t.Run("an oversized body's 413 carries the security headers", func(t *testing.T) {
		r := h.do("POST", "/auth/login/init", `{"orgId":"`+strings.Repeat("x", 2<<20)+`"}`)
		mustStatus(t, r, http.StatusRequestEntityTooLarge)
		for _, name := range []string{"Content-Security-Policy", "X-Content-Type-Options", "X-Frame-Options", "Cache-Control"} {
			if r.Header.Get(name) == "" {
				t.Errorf("413 without %s", name)
			}
		}
	})
	t.Run("over http there is no HSTS and the cookie has no __Host- prefix", func(t *testing.T) {
		r := h.do("GET", "/healthz", nil)
		if r.Header.Get("Strict-Transport-Security") != "" {
			t.Fatal("HSTS over http")
		}
	})
	t.Run("under https the answers carry HSTS and the session cookie the __Host- prefix", func(t *testing.T) {
		hs := newHarness(t)
		hs.withOptions(t, Options{Origins: []string{"https://auth.example.com"}})
		if got := hs.do("GET", "/healthz", nil).Header.Get("Strict-Transport-Security"); !strings.HasPrefix(got, "max-age=") {
			t.Fatalf("HSTS = %q", got)
		}
		if name := hs.srv.cookieName; name != "__Host-countersign_session" {
			t.Fatalf("cookie name = %s", name)
		}
		rec := httptest.NewRecorder()
		c := hs.srv.echo.NewContext(httptest.NewRequest("POST", "/session/login", nil), rec)
		if err := hs.srv.startSession(c, "token"); err != nil {
			t.Fatal(err)
		}
		cookie := rec.Header().Get("Set-Cookie")
		for _, want := range []string{"__Host-countersign_session=", "Path=/", "Secure", "HttpOnly", "SameSite=Strict"} {
			if !strings.Contains(cookie, want) {
				t.Errorf("Set-Cookie %q lacks %s", cookie, want)
			}
		}
		if strings.Contains(strings.ToLower(cookie), "domain=") {
			t.Errorf("a __Host- cookie with a Domain: %s", cookie)
		}
	})
}

func TestAuditCSVNeutralisesFormulas(t *testing.T) {
	for in, want := range map[string]string{
		"=HYPERLINK(\"x\")": "'=HYPERLINK(\"x\")", "+1": "'+1", "-2": "'-2", "@SUM(A1)": "'@SUM(A1)",
		"\tx": "'\tx", "\rx": "'\rx", "alice@example.com": "alice@example.com", "": "",
	} {
		if got := csvRow(in)[0]; got != want {
			t.Errorf("csvRow(%q) = %q, want %q", in, got, want)
		}
	}
	h := newHarness(t)
	owner := h.newActionUser("owner")
	mustStatus(t, h.signedJSON(t, owner.tok, owner.first, "POST", "/auth/users", map[string]any{"email": "=cmd@example.com", "kind": "CustomerEmployee"}), http.StatusOK)
	r := h.do("GET", "/auth/action/logs", nil, "Authorization", "Bearer "+owner.tok, "Accept", "text/csv")
	mustStatus(t, r, http.StatusOK)
	for _, line := range strings.Split(string(r.Body), "\n") {
		for _, cell := range strings.Split(line, ",") {
			if c := strings.TrimPrefix(cell, `"`); c != "" && strings.ContainsRune("=+-@", rune(c[0])) {
				t.Fatalf("an unneutralised cell %q in %q", cell, line)
			}
		}
	}
}

func TestRegistrationFinishCanBeSentAgain(t *testing.T) {
	h := newHarness(t)
	inv := h.invite("alice")
	ri := h.registrationInit(inv)
	signer := webauthntest.NewKeySigner("P256")
	cred := keyCredential(signer, ri.Challenge)
	first := h.register(ri.Temp, cred)
	mustStatus(t, first, http.StatusOK)
	again := h.register(ri.Temp, cred)
	mustStatus(t, again, http.StatusOK)
	if string(again.Body) != string(first.Body) {
		t.Fatalf("the repeat answered %s, the first %s", again.Body, first.Body)
	}
	other := webauthntest.NewKeySigner("P256")
	mustStatus(t, h.register(ri.Temp, keyCredential(other, ri.Challenge)), http.StatusUnauthorized)
	if n := len(h.credentials(inv.User.ID)); n != 1 {
		t.Fatalf("%d credentials after a repeat and another body, want 1", n)
	}
	h.advance(6 * 60e9)
	mustStatus(t, h.register(ri.Temp, cred), http.StatusUnauthorized)
}

func TestReactivationDoesNotReviveSessions(t *testing.T) {
	h := newHarness(t)
	owner := h.newActionUser("owner")
	bob, bobTok, _ := h.member(t, "bob")
	mustStatus(t, get(h, bobTok, "/auth/credentials"), http.StatusOK)
	for _, step := range []string{"deactivate", "activate"} {
		mustStatus(t, h.signedJSON(t, owner.tok, owner.first, "PUT", "/auth/users/"+bob.User.ID+"/"+step, map[string]any{}), http.StatusOK)
	}
	mustStatus(t, get(h, bobTok, "/auth/credentials"), http.StatusUnauthorized)
}

// keysOf is the set of key paths of a JSON document: its shape.
func keysOf(v any, at string, out map[string]bool) {
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			out[at+"."+k] = true
			keysOf(val, at+"."+k, out)
		}
	case []any:
		for _, val := range x {
			keysOf(val, at+"[]", out)
		}
	}
}

func shape(t *testing.T, body []byte) []string {
	t.Helper()
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatal(err)
	}
	set := map[string]bool{}
	keysOf(v, "", set)
	var out []string
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func TestUnknownUsersGetAChallengeOfTheSameShape(t *testing.T) {
	h := newHarness(t)
	// The shapes a real user's challenge can have: a passkey registered in
	// the console (with transports), one registered through the SDK
	// (without), a Key credential.
	console := h.invite("console-user")
	ri := h.registrationInit(console)
	a := webauthntest.NewAuthenticator(testRPID, testOrigin)
	id, cd, att := a.Create([]byte(ri.Challenge), []byte(ri.User.ID))
	info := map[string]any{"credId": b64(id), "clientData": b64(cd), "attestationData": b64(att), "transports": []string{"hybrid", "internal"}}
	mustStatus(t, h.do("POST", "/auth/registration", map[string]any{"firstFactorCredential": map[string]any{"credentialKind": "Fido2", "credentialInfo": info}},
		"Authorization", "Bearer "+ri.Temp), http.StatusOK)
	sdk, _ := h.registerFido2("sdk-user")
	keyUser, _ := h.registerKey("key-user", "P256")
	real := map[string]bool{}
	for _, u := range []string{console.User.Username, sdk.User.Username, keyUser.User.Username} {
		r := h.do("POST", "/auth/login/init", map[string]string{"orgId": console.Org.ID, "username": u})
		mustStatus(t, r, http.StatusOK)
		real[fmt.Sprint(shape(t, r.Body))] = true
	}
	if len(real) != 3 {
		t.Fatalf("the three real users' challenges have %d shapes, want 3: the test is broken", len(real))
	}
	seen := map[string]bool{}
	for i := range 60 {
		name := fmt.Sprintf("nobody-%d@example.com", i)
		decoy := h.do("POST", "/auth/login/init", map[string]string{"orgId": console.Org.ID, "username": name})
		mustStatus(t, decoy, http.StatusOK)
		s := fmt.Sprint(shape(t, decoy.Body))
		if !real[s] {
			t.Fatalf("the decoy for %q has a shape no real user's challenge has: %s", name, decoy.Body)
		}
		seen[s] = true
		again := h.do("POST", "/auth/login/init", map[string]string{"orgId": console.Org.ID, "username": name})
		if fmt.Sprint(allowedIDs(t, again.Body)) != fmt.Sprint(allowedIDs(t, decoy.Body)) || len(allowedIDs(t, decoy.Body)) != 1 {
			t.Fatal("the decoy credential changes between calls: a real one would not")
		}
	}
	if len(seen) != 3 {
		t.Fatalf("decoys took %d of the 3 shapes: the shape still tells", len(seen))
	}
}

func allowedIDs(t *testing.T, body []byte) []string {
	t.Helper()
	var ch loginInit
	if err := json.Unmarshal(body, &ch); err != nil {
		t.Fatal(err)
	}
	return allowedOf(ch)
}

func TestACloneRacingTheAuthenticatorIsRefused(t *testing.T) {
	h := newHarness(t)
	inv, auth := h.registerFido2("alice")
	// Two assertions with the same counter, as the authenticator and a
	// clone of it would make, on two login challenges sent together.
	const racers = 8
	bodies := make([]map[string]any, racers)
	counter := auth.Counter + 5
	for i := range bodies {
		li := h.loginInit(inv.Org.ID, "alice")
		id, cd, ad, sig, uh := auth.Get([]byte(li.Challenge), webauthntest.WithCounter(counter))
		bodies[i] = fido2Assertion(li.ChallengeIdentifier, id, cd, ad, sig, uh)
	}
	statuses := make([]int, racers)
	var wg sync.WaitGroup
	for i := range racers {
		wg.Go(func() { statuses[i] = h.do("POST", "/auth/login", bodies[i]).Status })
	}
	wg.Wait()
	ok := 0
	for _, s := range statuses {
		if s == http.StatusOK {
			ok++
		} else if s != http.StatusUnauthorized {
			t.Fatalf("statuses = %v", statuses)
		}
	}
	if ok != 1 {
		t.Fatalf("%d of %d assertions with one counter signed in, want 1 (statuses %v)", ok, racers, statuses)
	}
	if c, _ := h.st.GetCredential(t.Context(), h.credentials(inv.User.ID)[0].ID); c.SignCount == 0 {
		t.Fatal("the counter was not recorded")
	}
}
