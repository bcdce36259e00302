//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/playwright-community/playwright-go"
)

func TestPlatformPasskeyLifecycle(t *testing.T) {
	passkeyLifecycle(t, touchID, virtualProvider, "Passkey in "+virtualProvider, "Synced across your devices")
}

func TestSecurityKeyLifecycle(t *testing.T) {
	// Chromium zeroes a security key's AAGUID under attestation "none", so
	// its provider is unknown and it is named for what it is.
	passkeyLifecycle(t, yubiKey, "Security key", "Security key", "Stays on this security key")
}

// passkeyLifecycle: invited, the user creates a passkey and lands on the
// console; signs out; signs in naming the account; signs out; signs in
// without a username (a discoverable passkey).
func passkeyLifecycle(t *testing.T, opts authenticatorOptions, name, description, storage string) {
	srv := startServer(t)
	link := srv.invite(t, "alice")
	u := newBrowserUser(t, srv, opts)

	u.register(link, "alice")
	u.expectCredential(name, description, storage)
	u.signOut()
	u.expectSignedOut()

	u.signIn("alice", "alice")
	u.signOut()

	u.signIn("", "alice")
	u.expectCredential(name, description, storage)
	if err := expect.Locator(u.credentialRows().GetByTestId("credential-last-used")).Not().ToHaveText(neverUsed); err != nil {
		t.Errorf("credential-last-used after two sign-ins: %v", err)
	}
}

// TestSignInFromAutofill: the login page asks for a passkey with conditional
// mediation on load, and a passkey picked there signs the user in. (In
// Chromium's virtual environment the pick happens by itself, see noAutofill.)
func TestSignInFromAutofill(t *testing.T) {
	srv := startServer(t)
	link := srv.invite(t, "alice")
	u := newAutofillUser(t, srv, touchID)
	u.recordMediation()
	u.register(link, "alice")
	if err := expect.Locator(u.credentialRows().GetByTestId("credential-last-used")).ToHaveText(neverUsed); err != nil {
		t.Fatalf("credential-last-used right after registration: %v", err)
	}

	u.click("logout-button")
	u.expectConsole("alice")
	if err := expect.Locator(u.credentialRows().GetByTestId("credential-last-used")).Not().ToHaveText(neverUsed); err != nil {
		t.Errorf("credential-last-used after the autofill sign-in: %v", err)
	}
	if got := u.mediations(); got != "conditional" {
		t.Errorf("navigator.credentials.get mediations = %q, want one conditional request", got)
	}
}

// TestButtonCancelsPendingAutofill: a click on "Sign in with a passkey"
// while the autofill request is still under way aborts it quietly and signs
// in with a modal request.
func TestButtonCancelsPendingAutofill(t *testing.T) {
	srv := startServer(t)
	link := srv.invite(t, "alice")
	u := newAutofillUser(t, srv, touchID)
	u.register(link, "alice")
	u.recordMediation()
	held := u.holdFirstLoginInit()

	u.click("logout-button")
	var autofillInit playwright.Route
	select {
	case autofillInit = <-held:
	case <-time.After(actionTimeoutMS * time.Millisecond):
		t.Fatal("the login page sent no autofill login/init request")
	}
	u.expectLoginUsable()
	if err := u.byTestID("login-username").Fill("alice"); err != nil {
		t.Fatalf("fill username: %v", err)
	}
	u.click("login-button")
	// The autofill request's fetch was aborted by the click: letting it go
	// now must not start a second WebAuthn request.
	_ = autofillInit.Continue()
	u.expectConsole("alice")
	if got := u.mediations(); got != "modal" {
		t.Errorf("navigator.credentials.get mediations = %q, want only the button's modal request", got)
	}
}

// TestUnverifiedUserIsRefused: a passkey whose user verification fails
// (wrong fingerprint, no PIN) cannot sign in.
//
// What happens: Chromium itself refuses. The server asks for
// userVerification "required"; the authenticator supports UV but reports it
// failed, so navigator.credentials.get rejects with NotAllowedError and no
// assertion reaches the server. An assertion that does reach it without the
// UV flag is TestForgedAssertionsAreRefused/isBadUV.
func TestUnverifiedUserIsRefused(t *testing.T) {
	srv := startServer(t)
	link := srv.invite(t, "alice")
	u := newBrowserUser(t, srv, touchID)
	u.register(link, "alice")
	u.signOut()

	u.auth.setUserVerified(t, false)
	u.startSignIn("alice")
	u.expectRefused(msgNotAllowed)
	u.startSignIn("")
	u.expectRefused(msgNotAllowed)
	u.expectSignedOut()
}

// TestCancelledPromptLeavesPageUsable: when no passkey answers (the user
// closed the prompt, or this authenticator holds none) the page says so
// calmly and a later attempt works without reloading.
func TestCancelledPromptLeavesPageUsable(t *testing.T) {
	srv := startServer(t)
	link := srv.invite(t, "alice")
	u := newBrowserUser(t, srv, touchID)
	u.register(link, "alice")
	u.signOut()

	// Swap in an empty authenticator: Chromium answers NotAllowedError at
	// once, exactly as for a closed prompt. (With no authenticator at all it
	// would wait for one until the request's timeout.)
	saved := u.auth.credentials(t)
	u.auth.send(t, "WebAuthn.removeVirtualAuthenticator", nil)
	u.auth = addVirtualAuthenticator(t, u.page, touchID)
	u.startSignIn("alice")
	u.expectRefused(msgNotAllowed)

	for _, c := range saved {
		u.auth.send(t, "WebAuthn.addCredential", map[string]any{"credential": c})
	}
	u.click("login-button")
	u.expectConsole("alice")
}

// TestForgedAssertionsAreRefused: an authenticator that lies (a signature
// that does not verify, UV or UP claimed unset) is refused by the server
// with the one authentication-failed message, and nobody is signed in.
func TestForgedAssertionsAreRefused(t *testing.T) {
	for _, bit := range []string{"isBogusSignature", "isBadUV", "isBadUP"} {
		t.Run(bit, func(t *testing.T) {
			srv := startServer(t)
			link := srv.invite(t, "alice")
			u := newBrowserUser(t, srv, touchID)
			u.register(link, "alice")
			u.signOut()

			u.auth.send(t, "WebAuthn.setResponseOverrideBits", map[string]any{bit: true})
			u.startSignIn("alice")
			u.expectRefused(msgAuthFailed)
			u.startSignIn("")
			u.expectRefused(msgAuthFailed)
			u.expectSignedOut()
		})
	}
}

// TestAnotherBrowserCannotSignInAsUser: mallory, at her own browser with her
// own authenticator, cannot become alice, not even after tampering with the
// login challenge so that her passkey may answer alice's challenge.
func TestAnotherBrowserCannotSignInAsUser(t *testing.T) {
	srv := startServer(t)
	alice := newBrowserUser(t, srv, touchID)
	alice.register(srv.invite(t, "alice"), "alice")
	mallory := newBrowserUser(t, srv, touchID)

	// Her authenticator holds nothing alice's challenge allows.
	mallory.startSignIn("alice")
	mallory.expectRefused(msgNotAllowed)
	mallory.expectSignedOut()

	// Nor does her own passkey.
	mallory.register(srv.invite(t, "mallory"), "mallory")
	mallory.signOut()
	mallory.startSignIn("alice")
	mallory.expectRefused(msgNotAllowed)

	// Strip alice's allow-list from the challenge: her passkey now signs
	// alice's challenge, and the server refuses it.
	mallory.dropAllowList()
	mallory.startSignIn("alice")
	mallory.expectRefused(msgAuthFailed)
	mallory.expectSignedOut()

	// Usernameless, her passkey signs her in as herself, never as alice.
	mallory.signIn("", "mallory")
	alice.open("/")
	alice.expectConsole("alice")
}

// TestUsedInvitationIsRefused: an invitation link works once. Opened after
// use, the server answers the error page; used in another tab meanwhile, the
// button's request is refused.
func TestUsedInvitationIsRefused(t *testing.T) {
	srv := startServer(t)
	link := srv.invite(t, "alice")
	late := newBrowserUser(t, srv, yubiKey)
	if _, err := late.page.Goto(link); err != nil {
		t.Fatalf("open the link: %v", err)
	}
	late.expectText("register-username", "alice")

	alice := newBrowserUser(t, srv, touchID)
	alice.register(link, "alice")

	late.click("register-button")
	late.expectText("message", msgBadCode)
	if err := expect.Locator(late.byTestID("register-button")).ToBeEnabled(); err != nil {
		t.Errorf("register-button after the refusal: %v", err)
	}
	if n := len(late.auth.credentials(t)); n != 0 {
		t.Errorf("the refused authenticator holds %d credentials, want none", n)
	}

	if _, err := late.page.Goto(link); err != nil {
		t.Fatalf("open the used link: %v", err)
	}
	late.expectText("error-title", "This invitation can't be used")
}

// TestSessionCookieIsOutOfReach: the session cookie is invisible to scripts,
// not sent cross-site, and a cross-site POST to /session/logout does not
// sign the user out.
func TestSessionCookieIsOutOfReach(t *testing.T) {
	srv := startServer(t)
	u := newBrowserUser(t, srv, touchID)
	u.register(srv.invite(t, "alice"), "alice")

	cookies, err := u.ctx.Cookies(srv.URL)
	if err != nil {
		t.Fatalf("context cookies: %v", err)
	}
	if len(cookies) == 0 {
		t.Fatal("signed in, but the browser holds no cookie for the server")
	}
	docCookie, err := u.page.Evaluate(`() => document.cookie`)
	if err != nil {
		t.Fatalf("read document.cookie: %v", err)
	}
	for _, c := range cookies {
		if !c.HttpOnly {
			t.Errorf("cookie %s is not HttpOnly", c.Name)
		}
		if c.SameSite == nil || (*c.SameSite != *playwright.SameSiteAttributeStrict && *c.SameSite != *playwright.SameSiteAttributeLax) {
			t.Errorf("cookie %s SameSite = %v, want Strict or Lax", c.Name, c.SameSite)
		}
		if strings.Contains(docCookie.(string), c.Name) {
			t.Errorf("document.cookie %q shows cookie %s", docCookie, c.Name)
		}
	}

	// A page of another site (127.0.0.1 is not localhost) tries both ways
	// to sign alice out: a no-cors fetch with credentials, then a form POST.
	attacker := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, crossSitePage, srv.URL+"/session/logout", r.URL.Query().Get("how"))
	}))
	t.Cleanup(attacker.Close)
	for _, how := range []string{"fetch", "form"} {
		if _, err := u.page.Goto(attacker.URL + "/?how=" + how); err != nil {
			t.Fatalf("open the cross-site page: %v", err)
		}
		if how == "fetch" {
			if err := expect.Locator(u.page.Locator("#done")).ToHaveText("fetch sent"); err != nil {
				t.Fatalf("cross-site fetch: %v", err)
			}
		} else if err := u.page.WaitForURL(srv.URL + "/session/logout"); err != nil {
			t.Fatalf("cross-site form POST did not reach the server: %v", err)
		}
		u.open("/")
		u.expectConsole("alice")
	}
}

// crossSitePage posts to the logout URL (%[1]s) by fetch or form (%[2]s).
const crossSitePage = `<!doctype html><html><body>
<form id="f" method="post" action="%[1]s"></form><p id="done"></p>
<script>
const how = %[2]q;
if (how === "fetch") {
	fetch(%[1]q, {method: "POST", credentials: "include", mode: "no-cors"})
		.finally(() => { document.getElementById("done").textContent = "fetch sent"; });
} else {
	document.getElementById("f").submit();
}
</script></body></html>`

// recordMediation logs the mediation of every navigator.credentials.get in
// sessionStorage, which outlives the page's navigations; mediations reads it.
func (u *browserUser) recordMediation() {
	u.t.Helper()
	script := `(() => {
		const get = navigator.credentials.get.bind(navigator.credentials);
		navigator.credentials.get = (options) => {
			const log = sessionStorage.getItem("mediations");
			const m = options?.mediation ?? "modal";
			sessionStorage.setItem("mediations", log ? log + "," + m : m);
			return get(options);
		};
	})();`
	if err := u.ctx.AddInitScript(playwright.Script{Content: &script}); err != nil {
		u.t.Fatalf("add init script: %v", err)
	}
}

// mediations lists the recorded mediations, comma-separated.
func (u *browserUser) mediations() string {
	u.t.Helper()
	v, err := u.page.Evaluate(`() => sessionStorage.getItem("mediations") ?? ""`)
	if err != nil {
		u.t.Fatalf("read recorded mediations: %v", err)
	}
	s, _ := v.(string)
	return s
}

// holdFirstLoginInit stops the next /auth/login/init request in the network
// and hands it to the test; later ones go through.
func (u *browserUser) holdFirstLoginInit() <-chan playwright.Route {
	u.t.Helper()
	held := make(chan playwright.Route, 1)
	var once sync.Once
	err := u.page.Route("**/auth/login/init", func(r playwright.Route) {
		first := false
		once.Do(func() { first = true })
		if first {
			held <- r
			return
		}
		_ = r.Continue()
	})
	if err != nil {
		u.t.Fatalf("route login/init: %v", err)
	}
	return held
}

// dropAllowList empties allowCredentials in every login challenge the page
// receives, as a tampered page or client could.
func (u *browserUser) dropAllowList() {
	u.t.Helper()
	err := u.page.Route("**/auth/login/init", func(r playwright.Route) {
		res, err := r.Fetch()
		if err != nil {
			_ = r.Abort()
			return
		}
		var ch map[string]any
		body, err := res.Body()
		if err == nil {
			err = json.Unmarshal(body, &ch)
		}
		if err != nil || res.Status() != http.StatusOK {
			_ = r.Fulfill(playwright.RouteFulfillOptions{Response: res})
			return
		}
		ch["allowCredentials"] = map[string]any{"key": []any{}, "webauthn": []any{}, "passwordProtectedKey": []any{}}
		tampered, _ := json.Marshal(ch)
		// Not Fulfill{Response, Body}: playwright-go then sends the
		// original body.
		_ = r.Fulfill(playwright.RouteFulfillOptions{
			Status: playwright.Int(http.StatusOK), ContentType: playwright.String("application/json"), Body: tampered,
		})
	})
	if err != nil {
		u.t.Fatalf("route login/init: %v", err)
	}
}
