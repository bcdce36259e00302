package server

import (
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"countersign/store"
	"countersign/webauthn"
	"countersign/webauthn/webauthntest"
)

// signAction runs User Action Signing with a Key signer, as the SDK does,
// and returns the user-action token.
func (h *harness) signAction(tok string, s *webauthntest.KeySigner, method, path, payload string) string {
	h.t.Helper()
	ua, r := h.trySign(tok, s, method, path, payload)
	h.mustStatus(r, http.StatusOK)
	return ua
}

// trySign is signAction that returns /auth/action/init's refusal instead of
// failing: ua is "" and r the refusal when init does not answer 200.
func (h *harness) trySign(tok string, s *webauthntest.KeySigner, method, path, payload string) (ua string, r response) {
	h.t.Helper()
	r = h.do("POST", "/auth/action/init", map[string]string{
		"userActionPayload": payload, "userActionHttpMethod": method, "userActionHttpPath": path, "userActionServerKind": "Api",
	}, "Authorization", "Bearer "+tok)
	if r.Status != http.StatusOK {
		return "", r
	}
	var ch loginInit
	if err := json.Unmarshal(r.Body, &ch); err != nil {
		h.t.Fatal(err)
	}
	cd, sig := s.Sign(ch.Challenge)
	r = h.do("POST", "/auth/action", keyAssertion(ch.ChallengeIdentifier, s.CredID, cd, sig), "Authorization", "Bearer "+tok)
	h.mustStatus(r, http.StatusOK)
	ua, _ = r.json(h.t)["userAction"].(string)
	if ua == "" {
		h.t.Fatalf("no userAction in %s", r.Body)
	}
	return ua, r
}

// signedDo sends a request with a bearer token and a user action.
func (h *harness) signedDo(tok, action, method, path, body string) response {
	h.t.Helper()
	return h.do(method, path, body, "Authorization", "Bearer "+tok, headerUserAction, action)
}

// actionUser is a registered Key user with a login token and a second Key
// credential added through a signed request, ready for action tests.
type actionUser struct {
	inv           webauthn.Invited
	tok           string
	first, second *webauthntest.KeySigner
	secondUUID    string
}

func (h *harness) newActionUser(name string) actionUser {
	h.t.Helper()
	inv, first := h.registerKey(name, "P256")
	tok := h.loginKey(inv, first)
	second, uuid := h.addKeyCredential(tok, first, "second key")
	return actionUser{inv: inv, tok: tok, first: first, second: second, secondUUID: uuid}
}

// addKeyCredential adds a Key credential through /auth/credentials/init and
// a signed POST /auth/credentials, returning its signer and uuid.
func (h *harness) addKeyCredential(tok string, signer *webauthntest.KeySigner, name string) (*webauthntest.KeySigner, string) {
	h.t.Helper()
	r := h.do("POST", "/auth/credentials/init", map[string]string{"kind": "Key"}, "Authorization", "Bearer "+tok)
	h.mustStatus(r, http.StatusOK)
	m := r.json(h.t)
	newSigner := webauthntest.NewKeySigner("P256")
	cd, att := newSigner.Attest(m["challenge"].(string))
	body, _ := json.Marshal(map[string]any{
		"credentialKind": "Key", "credentialName": name, "challengeIdentifier": m["challengeIdentifier"],
		"credentialInfo": map[string]string{"credId": newSigner.CredID, "clientData": cd, "attestationData": att},
	})
	ua := h.signAction(tok, signer, "POST", "/auth/credentials", string(body))
	r = h.signedDo(tok, ua, "POST", "/auth/credentials", string(body))
	h.mustStatus(r, http.StatusOK)
	uuid, _ := r.json(h.t)["credentialUuid"].(string)
	return newSigner, uuid
}

func (h *harness) actionUsed(id string) bool {
	h.t.Helper()
	ua, err := h.st.GetUserAction(context.Background(), id)
	if err != nil {
		h.t.Fatal(err)
	}
	return ua.UsedAt != nil
}

func (h *harness) credentialActive(userID, uuid string) bool {
	h.t.Helper()
	for _, c := range h.credentials(userID) {
		if c.ID == uuid {
			return c.IsActive
		}
	}
	h.t.Fatalf("no credential %s", uuid)
	return false
}

func TestUserActionBindsTheBody(t *testing.T) {
	h := newHarness(t)
	u := h.newActionUser("alice")
	signed := `{"credentialUuid":"` + u.secondUUID + `"}`
	cases := []struct {
		name   string
		sent   string
		status int
	}{
		{"a changed field is refused", `{"credentialUuid":"cr-other-credential"}`, http.StatusForbidden},
		{"an added field is refused", `{"credentialUuid":"` + u.secondUUID + `","extra":1}`, http.StatusForbidden},
		{"a duplicate key is refused", `{"credentialUuid":"` + u.secondUUID + `","credentialUuid":"cr-x"}`, http.StatusForbidden},
		{"a case-variant key is refused", `{"credentialUuid":"` + u.secondUUID + `","CredentialUuid":"cr-x"}`, http.StatusForbidden},
		{"an empty body is refused", ``, http.StatusForbidden},
		{"invalid UTF-8 is refused", "{\"credentialUuid\":\"" + u.secondUUID + "\xff\"}", http.StatusForbidden},
		{"whitespace changes keep the meaning and are accepted", "{ \"credentialUuid\" : \"" + u.secondUUID + "\" }\n", http.StatusOK},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ua := h.signAction(u.tok, u.first, "PUT", "/auth/credentials/deactivate", signed)
			r := h.signedDo(u.tok, ua, "PUT", "/auth/credentials/deactivate", tc.sent)
			mustStatus(t, r, tc.status)
			if tc.status != http.StatusOK {
				if h.actionUsed(ua) {
					t.Fatal("a refused request burned the user action")
				}
				if !h.credentialActive(u.inv.User.ID, u.secondUUID) {
					t.Fatal("a refused request deactivated the credential")
				}
			} else {
				mustStatus(t, h.signedDo(u.tok, h.signAction(u.tok, u.first, "PUT", "/auth/credentials/activate", signed), "PUT", "/auth/credentials/activate", signed), http.StatusOK)
			}
		})
	}
	t.Run("reordered keys keep the meaning and are accepted", func(t *testing.T) {
		signedBody := `{"credentialUuid":"` + u.secondUUID + `","name":"renamed"}`
		ua := h.signAction(u.tok, u.first, "PUT", "/auth/credentials/name", signedBody)
		mustStatus(t, h.signedDo(u.tok, ua, "PUT", "/auth/credentials/name", `{"name":"renamed","credentialUuid":"`+u.secondUUID+`"}`), http.StatusOK)
	})
	t.Run("what no route could execute is refused before any signature", func(t *testing.T) {
		for name, payload := range map[string]string{
			"a duplicate key":                   `{"credentialUuid":"` + u.secondUUID + `","credentialUuid":"cr-x"}`,
			"keys that fold together":           `{"credentialUuid":"` + u.secondUUID + `","credentialUuid\u017f":"cr-x"}`,
			"a known field spelt in other case": `{"CredentialUuid":"` + u.secondUUID + `"}`,
			"an unknown field":                  `{"credentialUuid":"` + u.secondUUID + `","note":"junk kept in the audit log"}`,
			"a field spelt with a long s":       `{"credentialUuid":"` + u.secondUUID + `","name\u017f":"x"}`,
			"deep nesting":                      `{"credentialUuid":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}`,
			"not an object":                     `["credentialUuid"]`,
		} {
			_, r := h.trySign(u.tok, u.first, "PUT", "/auth/credentials/deactivate", payload)
			if r.Status != http.StatusBadRequest {
				t.Errorf("%s: init answered %d, want 400: %s", name, r.Status, r.Body)
			}
		}
		if !h.credentialActive(u.inv.User.ID, u.secondUUID) {
			t.Fatal("a refused payload changed the credential")
		}
	})
	t.Run("a payload over the signed-body limit is refused before any signature", func(t *testing.T) {
		big := `{"credentialUuid":"` + u.secondUUID + `","name":"` + strings.Repeat("x", 64<<10) + `"}`
		_, r := h.trySign(u.tok, u.first, "PUT", "/auth/credentials/name", big)
		mustStatus(t, r, http.StatusRequestEntityTooLarge)
	})
	t.Run("the third mismatched use spends the action", func(t *testing.T) {
		ua := h.signAction(u.tok, u.first, "PUT", "/auth/credentials/deactivate", signed)
		for i, body := range []string{`{"credentialUuid":"cr-1"}`, `{"credentialUuid":"cr-2"}`, `{"credentialUuid":"cr-3"}`} {
			mustStatus(t, h.signedDo(u.tok, ua, "PUT", "/auth/credentials/deactivate", body), http.StatusForbidden)
			if used := h.actionUsed(ua); used != (i == 2) {
				t.Fatalf("after mismatch %d the action is used: %v", i+1, used)
			}
		}
		r := h.signedDo(u.tok, ua, "PUT", "/auth/credentials/deactivate", signed)
		mustStatus(t, r, http.StatusBadRequest)
		if !h.credentialActive(u.inv.User.ID, u.secondUUID) {
			t.Fatal("a spent action was executed")
		}
	})
}

func TestUserActionBindsMethodAndPath(t *testing.T) {
	h := newHarness(t)
	u := h.newActionUser("alice")
	body := `{"credentialUuid":"` + u.secondUUID + `"}`
	const real = "/auth/credentials/deactivate"
	t.Run("a request no signed route serves gets no challenge", func(t *testing.T) {
		for name, req := range map[string]struct{ method, path string }{
			"another method":   {"POST", real},
			"a trailing slash": {"PUT", real + "/"},
			"an encoded slash": {"PUT", "/auth/credentials%2Fdeactivate"},
			"a dot segment":    {"PUT", "/auth/./credentials/deactivate"},
			"a parent segment": {"PUT", "/auth/pats/../credentials/deactivate"},
			"a change of case": {"PUT", "/AUTH/credentials/deactivate"},
			"a doubled slash":  {"PUT", "/auth//credentials/deactivate"},
			"a GET":            {"GET", "/auth/credentials"},
			"an unknown route": {"PUT", "/auth/nothing"},
		} {
			_, r := h.trySign(u.tok, u.first, req.method, req.path, body)
			if r.Status != http.StatusNotFound || r.errorCode(t) != "no_signed_route" {
				t.Errorf("%s (%s %s): init answered %d: %s", name, req.method, req.path, r.Status, r.Body)
			}
		}
	})
	t.Run("an action for another route is refused", func(t *testing.T) {
		ua := h.signAction(u.tok, u.first, "PUT", "/auth/credentials/activate", body)
		for _, path := range []string{real, real + "/", "/auth/credentials%2Fdeactivate", "/AUTH/credentials/deactivate"} {
			r := h.signedDo(u.tok, ua, "PUT", path, body)
			if r.Status != http.StatusForbidden && r.Status != http.StatusNotFound {
				t.Fatalf("PUT %s with an action for activate: %d", path, r.Status)
			}
		}
		if !h.credentialActive(u.inv.User.ID, u.secondUUID) {
			t.Fatal("a mismatched action was executed")
		}
	})
	t.Run("an action for another method on the same path is refused", func(t *testing.T) {
		pat, r := h.createPAT(t, u.tok, u.first, nil)
		mustStatus(t, r, http.StatusOK)
		ua := h.signAction(u.tok, u.first, "PUT", "/auth/pats/"+pat.id, "{}")
		mustStatus(t, h.signedDo(u.tok, ua, "DELETE", "/auth/pats/"+pat.id, "{}"), http.StatusForbidden)
		if at, _ := h.st.GetAccessToken(t.Context(), pat.id); at.IsArchived {
			t.Fatal("a PUT approval archived the PAT")
		}
	})
	t.Run("a query string is not part of the signed path", func(t *testing.T) {
		ua := h.signAction(u.tok, u.first, "PUT", real+"?force=true", body)
		mustStatus(t, h.signedDo(u.tok, ua, "PUT", real+"?x=1", body), http.StatusOK)
	})
}

func TestUserActionIsSingleUse(t *testing.T) {
	t.Run("a token reused sequentially is refused", func(t *testing.T) {
		h := newHarness(t)
		u := h.newActionUser("alice")
		body := `{"credentialUuid":"` + u.secondUUID + `","name":"one"}`
		ua := h.signAction(u.tok, u.first, "PUT", "/auth/credentials/name", body)
		mustStatus(t, h.signedDo(u.tok, ua, "PUT", "/auth/credentials/name", body), http.StatusOK)
		r := h.signedDo(u.tok, ua, "PUT", "/auth/credentials/name", body)
		mustStatus(t, r, http.StatusBadRequest)
		if r.json(t)["message"] != "user action has already been used" {
			t.Fatalf("message = %v", r.json(t)["message"])
		}
	})
	t.Run("a token used 20 times concurrently executes once", func(t *testing.T) {
		h := newHarness(t)
		u := h.newActionUser("alice")
		body := `{"credentialUuid":"` + u.secondUUID + `"}`
		ua := h.signAction(u.tok, u.first, "PUT", "/auth/credentials/deactivate", body)
		const n = 20
		statuses := make(chan int, n)
		var wg sync.WaitGroup
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				statuses <- h.signedDo(u.tok, ua, "PUT", "/auth/credentials/deactivate", body).Status
			}()
		}
		wg.Wait()
		close(statuses)
		counts := map[int]int{}
		for s := range statuses {
			counts[s]++
		}
		if counts[http.StatusOK] != 1 || counts[http.StatusBadRequest] != n-1 {
			t.Fatalf("statuses = %v, want one 200 and %d 400", counts, n-1)
		}
		entries, err := h.st.ListAuditEntries(context.Background(), auditAll(h, u))
		if err != nil {
			t.Fatal(err)
		}
		deactivations := 0
		for _, e := range entries {
			if e.Path == "/auth/credentials/deactivate" {
				deactivations++
			}
		}
		if deactivations != 1 {
			t.Fatalf("%d audit entries for the deactivation, want 1", deactivations)
		}
	})
	t.Run("a failed change does not burn the token", func(t *testing.T) {
		h := newHarness(t)
		inv, signer := h.registerKey("alice", "P256")
		tok := h.loginKey(inv, signer)
		only := h.credentials(inv.User.ID)[0].ID
		body := `{"credentialUuid":"` + only + `"}`
		ua := h.signAction(tok, signer, "PUT", "/auth/credentials/deactivate", body)
		r := h.signedDo(tok, ua, "PUT", "/auth/credentials/deactivate", body)
		mustStatus(t, r, http.StatusBadRequest)
		if code := r.errorCode(t); code != "last_active_credential" {
			t.Fatalf("code = %s", code)
		}
		if h.actionUsed(ua) {
			t.Fatal("the refused change burned the user action")
		}
	})
}

func TestUserActionBindsTheIdentity(t *testing.T) {
	h := newHarness(t)
	alice := h.newActionUser("alice")
	bob := h.newActionUser("bob")
	body := `{"credentialUuid":"` + alice.secondUUID + `"}`
	t.Run("user A's token with user B's bearer is refused", func(t *testing.T) {
		ua := h.signAction(alice.tok, alice.first, "PUT", "/auth/credentials/deactivate", body)
		mustStatus(t, h.signedDo(bob.tok, ua, "PUT", "/auth/credentials/deactivate", body), http.StatusForbidden)
		if !h.credentialActive(alice.inv.User.ID, alice.secondUUID) {
			t.Fatal("bob deactivated alice's credential")
		}
	})
	t.Run("an action challenge cannot be finished by another user", func(t *testing.T) {
		r := h.do("POST", "/auth/action/init", map[string]string{"userActionPayload": body, "userActionHttpMethod": "PUT", "userActionHttpPath": "/auth/credentials/deactivate"}, "Authorization", "Bearer "+alice.tok)
		ch := r.json(t)
		cd, sig := bob.first.Sign(ch["challenge"].(string))
		mustStatus(t, h.do("POST", "/auth/action", keyAssertion(ch["challengeIdentifier"].(string), bob.first.CredID, cd, sig), "Authorization", "Bearer "+bob.tok), http.StatusUnauthorized)
	})
	t.Run("another user's credential cannot sign", func(t *testing.T) {
		r := h.do("POST", "/auth/action/init", map[string]string{"userActionPayload": body, "userActionHttpMethod": "PUT", "userActionHttpPath": "/auth/credentials/deactivate"}, "Authorization", "Bearer "+alice.tok)
		ch := r.json(t)
		cd, sig := bob.first.Sign(ch["challenge"].(string))
		mustStatus(t, h.do("POST", "/auth/action", keyAssertion(ch["challengeIdentifier"].(string), bob.first.CredID, cd, sig), "Authorization", "Bearer "+alice.tok), http.StatusUnauthorized)
	})
	t.Run("bob cannot deactivate alice's credential with his own signature", func(t *testing.T) {
		ua := h.signAction(bob.tok, bob.first, "PUT", "/auth/credentials/deactivate", body)
		mustStatus(t, h.signedDo(bob.tok, ua, "PUT", "/auth/credentials/deactivate", body), http.StatusNotFound)
		if !h.credentialActive(alice.inv.User.ID, alice.secondUUID) {
			t.Fatal("bob deactivated alice's credential")
		}
	})
}

func TestUserActionExpiryAndPurpose(t *testing.T) {
	t.Run("an expired token is refused", func(t *testing.T) {
		h := newHarness(t)
		u := h.newActionUser("alice")
		body := `{"credentialUuid":"` + u.secondUUID + `"}`
		ua := h.signAction(u.tok, u.first, "PUT", "/auth/credentials/deactivate", body)
		h.advance(5*time.Minute + time.Second)
		mustStatus(t, h.signedDo(u.tok, ua, "PUT", "/auth/credentials/deactivate", body), http.StatusForbidden)
	})
	t.Run("a token sent on a GET neither executes nor burns", func(t *testing.T) {
		h := newHarness(t)
		u := h.newActionUser("alice")
		body := `{"credentialUuid":"` + u.secondUUID + `"}`
		ua := h.signAction(u.tok, u.first, "PUT", "/auth/credentials/deactivate", body)
		mustStatus(t, h.signedDo(u.tok, ua, "GET", "/auth/credentials", ""), http.StatusOK)
		if h.actionUsed(ua) || !h.credentialActive(u.inv.User.ID, u.secondUUID) {
			t.Fatal("a GET consumed the action")
		}
		mustStatus(t, h.signedDo(u.tok, ua, "PUT", "/auth/credentials/deactivate", body), http.StatusOK)
	})
	t.Run("a login challenge cannot be finished as an action", func(t *testing.T) {
		h := newHarness(t)
		u := h.newActionUser("alice")
		li := h.loginInit(u.inv.Org.ID, "alice")
		cd, sig := u.first.Sign(li.Challenge)
		mustStatus(t, h.do("POST", "/auth/action", keyAssertion(li.ChallengeIdentifier, u.first.CredID, cd, sig), "Authorization", "Bearer "+u.tok), http.StatusUnauthorized)
	})
	t.Run("an action challenge cannot be finished as a login", func(t *testing.T) {
		h := newHarness(t)
		u := h.newActionUser("alice")
		r := h.do("POST", "/auth/action/init", map[string]string{"userActionPayload": "{}", "userActionHttpMethod": "PUT", "userActionHttpPath": "/auth/credentials/activate"}, "Authorization", "Bearer "+u.tok)
		ch := r.json(t)
		cd, sig := u.first.Sign(ch["challenge"].(string))
		mustStatus(t, h.do("POST", "/auth/login", keyAssertion(ch["challengeIdentifier"].(string), u.first.CredID, cd, sig)), http.StatusUnauthorized)
	})
	t.Run("an action signed before its credential was deactivated is refused", func(t *testing.T) {
		h := newHarness(t)
		u := h.newActionUser("alice")
		rename := `{"credentialUuid":"` + u.secondUUID + `","name":"x"}`
		pending := h.signAction(u.tok, u.second, "PUT", "/auth/credentials/name", rename)
		deact := `{"credentialUuid":"` + u.secondUUID + `"}`
		mustStatus(t, h.signedDo(u.tok, h.signAction(u.tok, u.first, "PUT", "/auth/credentials/deactivate", deact), "PUT", "/auth/credentials/deactivate", deact), http.StatusOK)
		mustStatus(t, h.signedDo(u.tok, pending, "PUT", "/auth/credentials/name", rename), http.StatusForbidden)
	})
	t.Run("a deactivated credential can neither sign nor log in", func(t *testing.T) {
		h := newHarness(t)
		u := h.newActionUser("alice")
		deact := `{"credentialUuid":"` + u.secondUUID + `"}`
		mustStatus(t, h.signedDo(u.tok, h.signAction(u.tok, u.first, "PUT", "/auth/credentials/deactivate", deact), "PUT", "/auth/credentials/deactivate", deact), http.StatusOK)
		r := h.do("POST", "/auth/action/init", map[string]string{"userActionPayload": "{}", "userActionHttpMethod": "PUT", "userActionHttpPath": "/auth/credentials/activate"}, "Authorization", "Bearer "+u.tok)
		ch := r.json(t)
		if strings.Contains(string(r.Body), u.second.CredID) {
			t.Fatal("allowCredentials lists a deactivated credential")
		}
		cd, sig := u.second.Sign(ch["challenge"].(string))
		mustStatus(t, h.do("POST", "/auth/action", keyAssertion(ch["challengeIdentifier"].(string), u.second.CredID, cd, sig), "Authorization", "Bearer "+u.tok), http.StatusUnauthorized)
		li := h.loginInit(u.inv.Org.ID, "alice")
		cd, sig = u.second.Sign(li.Challenge)
		mustStatus(t, h.do("POST", "/auth/login", keyAssertion(li.ChallengeIdentifier, u.second.CredID, cd, sig)), http.StatusUnauthorized)
	})
}

// TestEveryMutatingRouteIsGuarded walks the route table: every POST, PUT,
// PATCH and DELETE outside the ceremonies must refuse a request that
// carries a valid bearer token but no user action.
func TestEveryMutatingRouteIsGuarded(t *testing.T) {
	h := newHarness(t)
	inv, signer := h.registerKey("alice", "P256")
	tok := h.loginKey(inv, signer)
	checked := 0
	for _, rt := range h.srv.echo.Routes() {
		switch rt.Method {
		case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
		default:
			continue
		}
		if unsignedMutations[rt.Method+" "+rt.Path] || rt.Name == echoNotFoundName(rt) {
			continue
		}
		path := paramPattern.ReplaceAllString(rt.Path, "x-1")
		t.Run(rt.Method+" "+rt.Path+" refuses a request without user action", func(t *testing.T) {
			r := h.do(rt.Method, path, "{}", "Authorization", "Bearer "+tok)
			mustStatus(t, r, http.StatusForbidden)
			if code := r.errorCode(t); code != "user_action_invalid" {
				t.Fatalf("code = %s", code)
			}
		})
		checked++
	}
	if checked < 4 {
		t.Fatalf("only %d mutating routes found; the walk is broken", checked)
	}
}

var paramPattern = regexp.MustCompile(`:[A-Za-z]+`)

// echoNotFoundName identifies Echo's own catch-all routes, if any.
func echoNotFoundName(rt *echo.Route) string {
	if strings.HasSuffix(rt.Path, "/*") {
		return rt.Name
	}
	return ""
}

func TestAuditLog(t *testing.T) {
	h := newHarness(t)
	u := h.newActionUser("alice")
	body := `{"credentialUuid":"` + u.secondUUID + `","name":"Laptop"}`
	mustStatus(t, h.signedDo(u.tok, h.signAction(u.tok, u.first, "PUT", "/auth/credentials/name", body), "PUT", "/auth/credentials/name", body), http.StatusOK)
	t.Run("the CSV comes as a JSON string by default", func(t *testing.T) {
		r := h.do("GET", "/auth/action/logs", nil, "Authorization", "Bearer "+u.tok)
		mustStatus(t, r, http.StatusOK)
		var csv string
		if err := json.Unmarshal(r.Body, &csv); err != nil {
			t.Fatalf("body is not a JSON string: %s", r.Body)
		}
		lines := strings.Split(strings.TrimSpace(csv), "\n")
		if lines[0] != "Date Performed,Audit Log ID,User ID,Username,Primary Credential ID,Action Path,Summary" || len(lines) != 3 {
			t.Fatalf("csv = %q", csv)
		}
		if !strings.Contains(lines[2], `Rename the key ""second key"" (`+u.secondUUID+`) to ""Laptop""`) {
			t.Fatalf("summary row = %q", lines[2])
		}
	})
	t.Run("raw CSV when asked for", func(t *testing.T) {
		r := h.do("GET", "/auth/action/logs", nil, "Authorization", "Bearer "+u.tok, "Accept", "text/csv")
		if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/csv") || !strings.HasPrefix(string(r.Body), "Date Performed,") {
			t.Fatalf("Content-Type %q, body %s", ct, r.Body)
		}
	})
	t.Run("an entry holds the request and the signature", func(t *testing.T) {
		entries, err := h.st.ListAuditEntries(context.Background(), auditAll(h, u))
		if err != nil || len(entries) != 2 {
			t.Fatalf("entries = %d, %v", len(entries), err)
		}
		r := h.do("GET", "/auth/action/logs/"+entries[1].ID, nil, "Authorization", "Bearer "+u.tok)
		mustStatus(t, r, http.StatusOK)
		var got auditLog
		if err := json.Unmarshal(r.Body, &got); err != nil {
			t.Fatal(err)
		}
		if got.Payload != body || got.FirstFactorCredential.Kind != "Key" || got.FirstFactorCredential.Assertion == nil {
			t.Fatalf("audit log = %+v", got)
		}
		// Anyone can check the signature later with the stored public key.
		pub, err := webauthn.ParsePublicKeyPEM(got.FirstFactorCredential.PublicKey)
		if err != nil {
			t.Fatal(err)
		}
		if err := webauthn.VerifyKeySignature(pub, mustDecode(t, got.FirstFactorCredential.Assertion.ClientData), mustDecode(t, got.FirstFactorCredential.Assertion.Signature), ""); err != nil {
			t.Fatalf("stored signature does not verify: %v", err)
		}
	})
	t.Run("a user without Auth:Logs:Read is refused", func(t *testing.T) {
		bob := h.newActionUser("bob")
		mustStatus(t, h.do("GET", "/auth/action/logs", nil, "Authorization", "Bearer "+bob.tok), http.StatusForbidden)
	})
	t.Run("bad times answer 400", func(t *testing.T) {
		mustStatus(t, h.do("GET", "/auth/action/logs?startTime=yesterday", nil, "Authorization", "Bearer "+u.tok), http.StatusBadRequest)
	})
}

func auditAll(h *harness, u actionUser) store.AuditQuery {
	return store.AuditQuery{OrgID: u.inv.Org.ID, Start: h.clock().Add(-time.Hour), End: h.clock().Add(time.Hour), Limit: 100}
}

func TestAddingACredentialWithABadAttestation(t *testing.T) {
	h := newHarness(t)
	u := h.newActionUser("alice")
	r := h.do("POST", "/auth/credentials/init", map[string]string{"kind": "Key"}, "Authorization", "Bearer "+u.tok)
	m := r.json(t)
	key, other := webauthntest.NewKeySigner("P256"), webauthntest.NewKeySigner("P256")
	cd, _ := key.Attest(m["challenge"].(string))
	_, forged := other.Attest(m["challenge"].(string))
	body, _ := json.Marshal(map[string]any{
		"credentialKind": "Key", "credentialName": "forged", "challengeIdentifier": m["challengeIdentifier"],
		"credentialInfo": map[string]string{"credId": key.CredID, "clientData": cd, "attestationData": swapPublicKey(t, forged, key.PublicKeyPEM())},
	})
	ua := h.signAction(u.tok, u.first, "POST", "/auth/credentials", string(body))
	r = h.signedDo(u.tok, ua, "POST", "/auth/credentials", string(body))
	mustStatus(t, r, http.StatusBadRequest)
	if code := r.errorCode(t); code != "attestation_failed" {
		t.Fatalf("code = %s", code)
	}
	if h.actionUsed(ua) || len(h.credentials(u.inv.User.ID)) != 2 {
		t.Fatal("a refused credential was stored or burned the action")
	}
}

func TestLastUsedIsKeptApartForLoginAndSigning(t *testing.T) {
	h := newHarness(t)
	inv, signer := h.registerKey("alice", "P256")
	find := func() store.Credential {
		return h.credentials(inv.User.ID)[0]
	}
	if c := find(); c.LastLoginAt != nil || c.LastSignAt != nil {
		t.Fatalf("a fresh credential has last use %v / %v", c.LastLoginAt, c.LastSignAt)
	}
	tok := h.loginKey(inv, signer)
	c := find()
	if c.LastLoginAt == nil || c.LastSignAt != nil {
		t.Fatalf("after login: login %v, sign %v", c.LastLoginAt, c.LastSignAt)
	}
	h.advance(time.Minute)
	body := `{"credentialUuid":"` + c.ID + `","name":"renamed"}`
	mustStatus(t, h.signedDo(tok, h.signAction(tok, signer, "PUT", "/auth/credentials/name", body), "PUT", "/auth/credentials/name", body), http.StatusOK)
	after := find()
	if after.LastSignAt == nil || !after.LastSignAt.Equal(h.clock()) || !after.LastLoginAt.Equal(*c.LastLoginAt) {
		t.Fatalf("after signing: login %v (was %v), sign %v (want %v)", after.LastLoginAt, c.LastLoginAt, after.LastSignAt, h.clock())
	}
}
