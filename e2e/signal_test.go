//go:build e2e

package e2e

import (
	"testing"
	"time"
)

// msgOrphanRemoved is what the console says when a passkey made for an
// approval that was then cancelled has been signalled unknown.
const msgOrphanRemoved = "Cancelled: nothing was added to your account. Your authenticator had already made the new passkey; " +
	"since it was not added, your browser was asked to remove it, so it will not be offered for signing in."

// deletions reports the credentials a virtual authenticator deletes on its
// own (WebAuthn.credentialDeleted: the Signal API at work).
func (a *virtualAuthenticator) deletions() <-chan string {
	ch := make(chan string, 8)
	a.CDP.On("WebAuthn.credentialDeleted", func(ev map[string]any) {
		id, _ := ev["credentialId"].(string)
		ch <- id
	})
	return ch
}

func waitDeleted(t *testing.T, deleted <-chan string, what string) {
	t.Helper()
	select {
	case <-deleted:
	case <-time.After(actionTimeoutMS * time.Millisecond):
		t.Fatalf("the authenticator never deleted %s", what)
	}
}

// TestCancelledPasskeyIsRemovedFromTheAuthenticator: adding a security key
// makes the passkey on it first; alice then cancels the approval. The
// console says so truthfully and tells the browser the passkey is unknown
// (signalUnknownCredential), and the key no longer holds it.
func TestCancelledPasskeyIsRemovedFromTheAuthenticator(t *testing.T) {
	srv := startServer(t)
	u := newBrowserUser(t, srv, touchID)
	u.register(srv.invite(t, "alice"), "alice")
	u.openConsole("/credentials", "credentials")
	key := addVirtualAuthenticator(t, u.page, yubiKey)
	deleted := key.deletions()

	u.fill("passkey-name-input", "YubiKey")
	u.click("add-security-key-button")
	u.expectApproval("POST", "/auth/credentials", `Add the passkey "YubiKey"`)
	if n := len(key.credentials(t)); n != 1 {
		t.Fatalf("before the approval the key holds %d passkeys, want the new one", n)
	}
	u.click("approve-cancel")
	u.expectText("message", msgOrphanRemoved)
	waitDeleted(t, deleted, "the cancelled passkey")
	if creds := key.credentials(t); len(creds) != 0 {
		t.Errorf("after the cancel the key still holds %d passkeys: %v", len(creds), creds)
	}
	if n := len(u.auth.credentials(t)); n != 1 {
		t.Errorf("the laptop holds %d passkeys, want its own one untouched", n)
	}
	u.openConsole("/credentials", "credentials")
	u.expectRows("credential-row", 1)
}

// TestDeactivatedPasskeyIsNoLongerOffered: alice deactivates her security
// key's passkey; the console sends the passkeys still accepted
// (signalAllAcceptedCredentials), the key drops it, and neither the browser
// nor the server offers it for signing in again.
func TestDeactivatedPasskeyIsNoLongerOffered(t *testing.T) {
	srv := startServer(t)
	u := newBrowserUser(t, srv, touchID)
	u.register(srv.invite(t, "alice"), "alice")
	u.openConsole("/credentials", "credentials")
	key := addVirtualAuthenticator(t, u.page, yubiKey)
	u.addSecurityKey("YubiKey")
	if n := len(key.credentials(t)); n != 1 {
		t.Fatalf("the key holds %d passkeys, want the one just added", n)
	}
	deleted := key.deletions()

	yubi := u.credential("YubiKey")
	u.clickIn(yubi, "deactivate-button")
	u.approve("PUT", "/auth/credentials/deactivate", `Deactivate the passkey "YubiKey"`)
	u.expectDone(`Deactivate the passkey "YubiKey"`)
	u.expectStatus(yubi, "Inactive")
	waitDeleted(t, deleted, "the deactivated passkey")
	if creds := key.credentials(t); len(creds) != 0 {
		t.Errorf("the key still holds the deactivated passkey: %v", creds)
	}
	if n := len(u.auth.credentials(t)); n != 1 {
		t.Errorf("the laptop holds %d passkeys, want its active one kept", n)
	}

	u.openConsole("/", "console")
	orgID := u.text("console-org-id")
	offered, err := u.page.Evaluate(`async (org) => {
		const res = await fetch('/auth/login/init', {method: 'POST', headers: {'Content-Type': 'application/json'},
			body: JSON.stringify({orgId: org, username: 'alice'})});
		return (await res.json()).allowCredentials.webauthn.length;
	}`, orgID)
	if err != nil {
		t.Fatalf("login/init: %v", err)
	}
	if n, _ := offered.(int); n != 1 {
		t.Errorf("a sign-in as alice offers %v passkeys, want only the active one", offered)
	}
	// With the key still plugged in, signing in as alice offers only the
	// laptop's passkey, which answers.
	u.signOut()
	u.signIn("alice", "alice")
}
