package server

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"countersign/webauthn"
	"countersign/webauthn/webauthntest"
)

// consoleUser is a person signed in to the console: the session cookie a
// browser would hold, and a login token and key for signed API calls.
type consoleUser struct {
	inv    webauthn.Invited
	signer *webauthntest.KeySigner
	tok    string
	cookie string
}

// signInConsole registers username with a Key credential and signs in
// through /session/login as the login page does.
func (h *harness) signInConsole(username string) consoleUser {
	h.t.Helper()
	inv, signer := h.registerKey(username, "P256")
	li := h.loginInit(inv.Org.ID, inv.User.Username)
	cd, sig := signer.Sign(li.Challenge)
	r := h.do("POST", pathSessionLogin, keyAssertion(li.ChallengeIdentifier, signer.CredID, cd, sig), "Origin", testOrigin)
	h.mustStatus(r, http.StatusOK)
	cookie := strings.Split(r.Header.Get("Set-Cookie"), ";")[0]
	if !strings.HasPrefix(cookie, sessionCookie+"=") {
		h.t.Fatalf("session login set no session cookie: %q", r.Header.Values("Set-Cookie"))
	}
	return consoleUser{inv: inv, signer: signer, tok: h.loginKey(inv, signer), cookie: cookie}
}

// page GETs a console page as a browser navigation.
func (h *harness) page(u consoleUser, path string) response {
	h.t.Helper()
	return h.do("GET", path, nil, "Accept", "text/html", "Cookie", u.cookie)
}

// signed sends a request under User Action Signing with u's key.
func (h *harness) signed(u consoleUser, method, path string, body any) response {
	h.t.Helper()
	raw, err := json.Marshal(body)
	if err != nil {
		h.t.Fatal(err)
	}
	ua := h.signAction(u.tok, u.signer, method, path, string(raw))
	return h.signedDo(u.tok, ua, method, path, string(raw))
}

var consolePages = map[string]string{
	pathConsole: "console", pathCredentials: "credentials", pathActivity: "activity", pathTokens: "tokens",
	pathServiceAccounts: "service-accounts", pathUsers: "users", pathPermissionsPage: "permissions",
}

func TestConsolePagesSendTheSignedOutToLogin(t *testing.T) {
	h := newHarness(t)
	for path := range consolePages {
		t.Run(path+" redirects to the login page, which comes back to it", func(t *testing.T) {
			r := h.do("GET", path, nil, "Accept", "text/html")
			mustStatus(t, r, http.StatusSeeOther)
			want := pathLogin + "?next=" + url.QueryEscape(path)
			if path == pathConsole {
				want = pathLogin
			}
			if got := r.Header.Get("Location"); got != want {
				t.Errorf("Location = %q, want %q", got, want)
			}
		})
	}
}

func TestConsolePagesRenderForTheOwner(t *testing.T) {
	h := newHarness(t)
	owner := h.signInConsole("alice")
	for path, key := range consolePages {
		t.Run(path+" renders with its navigation entry current", func(t *testing.T) {
			r := h.page(owner, path)
			mustStatus(t, r, http.StatusOK)
			body := string(r.Body)
			for _, want := range []string{`data-page="` + key + `"`, `data-testid="nav-` + key + `" aria-current="page"`, `data-testid="approve-dialog"`} {
				if !strings.Contains(body, want) {
					t.Errorf("page lacks %s", want)
				}
			}
			if strings.Contains(body, `-denied"`) {
				t.Errorf("the owner is told a permission is missing")
			}
		})
	}
}

// A person without permissions sees the pages, each saying what it needs,
// and only their own activity.
func TestConsolePagesForAPersonWithoutPermissions(t *testing.T) {
	h := newHarness(t)
	owner := h.signInConsole("alice")
	h.mustStatus(h.signed(owner, "PUT", apiCredentialsName, map[string]string{"credentialUuid": h.credentials(owner.inv.User.ID)[0].ID, "name": "alice key"}), http.StatusOK)
	h.advance(time.Second)
	bob := h.signInConsole("bob")
	h.mustStatus(h.signed(bob, "PUT", apiCredentialsName, map[string]string{"credentialUuid": h.credentials(bob.inv.User.ID)[0].ID, "name": "bob key"}), http.StatusOK)

	for path, want := range map[string][]string{
		pathActivity:        {`data-testid="activity-scope"`, `Rename the key &#34;`},
		pathUsers:           {`data-testid="users-denied"`},
		pathServiceAccounts: {`data-testid="service-accounts-denied"`},
		pathPermissionsPage: {`data-testid="permissions-denied"`},
		pathTokens:          {`data-testid="tokens-create-denied"`},
	} {
		r := h.page(bob, path)
		h.mustStatus(r, http.StatusOK)
		for _, w := range want {
			if !strings.Contains(string(r.Body), w) {
				t.Errorf("%s for bob lacks %s", path, w)
			}
		}
	}
	activity := string(h.page(bob, pathActivity).Body)
	if n := strings.Count(activity, `data-kind="approval"`); n != 1 {
		t.Errorf("bob's activity shows %d approvals, want his own one", n)
	}
	if n := strings.Count(activity, `data-kind="sign-in"`); n != 2 {
		t.Errorf("bob's activity shows %d sign-ins, want his own two (console and API)", n)
	}
	if strings.Contains(activity, "alice key") {
		t.Errorf("bob's activity shows alice's action")
	}
	ownerActivity := string(h.page(owner, pathActivity).Body)
	if n := strings.Count(ownerActivity, `data-kind="approval"`); n != 2 {
		t.Errorf("the owner's activity shows %d approvals, want both", n)
	}
	if strings.Index(ownerActivity, "bob key") > strings.Index(ownerActivity, "alice key") {
		t.Errorf("the owner's activity is not newest first")
	}
}

// The key of a personal access token belongs to the token: the
// Credentials page does not list it among the person's credentials.
func TestCredentialsPageLeavesOutTokenKeys(t *testing.T) {
	h := newHarness(t)
	owner := h.signInConsole("alice")
	tokenKey := webauthntest.NewKeySigner("P256")
	r := h.signed(owner, "POST", apiPATs, map[string]any{"name": "ci", "publicKey": tokenKey.PublicKeyPEM()})
	h.mustStatus(r, http.StatusOK)
	var patCred string
	for _, c := range h.credentials(owner.inv.User.ID) {
		if c.TokenID != "" {
			patCred = c.ID
		}
	}
	if patCred == "" {
		t.Fatal("the PAT has no key credential among the user's")
	}
	page := string(h.page(owner, pathCredentials).Body)
	if strings.Contains(page, patCred) {
		t.Errorf("the Credentials page lists the PAT's key %s", patCred)
	}
	if n := strings.Count(page, `data-testid="credential-row"`); n != 1 {
		t.Errorf("the Credentials page lists %d credentials, want 1", n)
	}
	tokens := string(h.page(owner, pathTokens).Body)
	if !strings.Contains(tokens, `data-testid="token-row"`) {
		t.Errorf("the Access tokens page does not list the PAT")
	}
	if !strings.Contains(tokens, "Holds all of your rights") {
		t.Errorf("the Access tokens page does not say the PAT's scope")
	}
}
