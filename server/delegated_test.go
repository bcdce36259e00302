package server

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"countersign/store"
	"countersign/webauthn/webauthntest"
)

// delegation is an organisation whose service account holds the three
// delegated operations, and one without any.
type delegation struct {
	owner     actionUser
	sa, bare  machine
	delegates string // the permission id
}

func newDelegation(t *testing.T, h *harness) delegation {
	t.Helper()
	d := delegation{owner: h.newActionUser("owner")}
	d.delegates = h.createPermission(t, d.owner.tok, d.owner.first, "Delegation",
		"Auth:Register:Delegated", "Auth:Login:Delegated", "Auth:Recover:Delegated")
	var r response
	d.sa, r = h.createServiceAccount(t, d.owner.tok, d.owner.first, map[string]any{"name": "app-backend", "permissionId": d.delegates})
	mustStatus(t, r, http.StatusOK)
	d.bare, r = h.createServiceAccount(t, d.owner.tok, d.owner.first, map[string]any{"name": "bare"})
	mustStatus(t, r, http.StatusOK)
	return d
}

// endUser is an end user registered through delegation, with a first
// Key credential and a recovery key.
type endUser struct {
	id, username    string
	first, recovery *webauthntest.KeySigner
}

// delegatedChallenge asks for a delegated registration of email.
func (h *harness) delegatedChallenge(t *testing.T, sa machine, email string) (regInit, response) {
	t.Helper()
	r := h.signedJSON(t, sa.tok, sa.signer, "POST", "/auth/registration/delegated",
		map[string]any{"email": email, "kind": "EndUser", "externalId": "app-" + email})
	var ri regInit
	if r.Status == http.StatusOK {
		if err := json.Unmarshal(r.Body, &ri); err != nil {
			t.Fatal(err)
		}
	}
	return ri, r
}

func (h *harness) delegatedEndUser(t *testing.T, sa machine, email string) endUser {
	t.Helper()
	ri, r := h.delegatedChallenge(t, sa, email)
	mustStatus(t, r, http.StatusOK)
	eu := endUser{username: email, first: webauthntest.NewKeySigner("P256"), recovery: webauthntest.NewKeySigner("P256")}
	r = h.do("POST", "/auth/registration", map[string]any{
		"firstFactorCredential": keyCredential(eu.first, ri.Challenge),
		"recoveryCredential":    recoveryKeyCredential(eu.recovery, ri.Challenge),
	}, "Authorization", "Bearer "+ri.Temp)
	mustStatus(t, r, http.StatusOK)
	eu.id = r.json(t)["user"].(map[string]any)["id"].(string)
	return eu
}

func (h *harness) delegatedLogin(t *testing.T, sa machine, username string) response {
	t.Helper()
	return h.signedJSON(t, sa.tok, sa.signer, "POST", "/auth/login/delegated", map[string]any{"username": username})
}

// loginTokensOf counts userID's active login tokens.
func (h *harness) loginTokensOf(t *testing.T, userID string) int {
	t.Helper()
	ts, err := h.st.ListActiveTokens(t.Context(), userID, store.TokenLogin, h.clock())
	if err != nil {
		t.Fatal(err)
	}
	return len(ts)
}

func TestDelegatedFlows(t *testing.T) {
	h := newHarness(t)
	d := newDelegation(t, h)
	orgID := d.owner.inv.Org.ID
	eve := h.delegatedEndUser(t, d.sa, "eve@example.com")

	t.Run("registration creates an end user with the external id", func(t *testing.T) {
		u := h.user(eve.id)
		if u.Kind != store.KindEndUser || u.ExternalID != "app-eve@example.com" || !u.IsRegistered || u.IsServiceAccount {
			t.Fatalf("end user = %+v", u)
		}
		last := h.orgAudit(t, orgID)
		if a := last[len(last)-1]; a.Path != "/auth/registration/delegated" || a.UserID != d.sa.id {
			t.Fatalf("last audit entry = %+v, want the service account's delegated registration", a)
		}
	})

	t.Run("a delegated login token reads as the end user and writes only with their signature", func(t *testing.T) {
		r := h.delegatedLogin(t, d.sa, eve.username)
		mustStatus(t, r, http.StatusOK)
		tok := r.json(t)["token"].(string)
		creds := get(h, tok, "/auth/credentials")
		mustStatus(t, creds, http.StatusOK)
		items := creds.json(t)["items"].([]any)
		if len(items) != 2 { // the first factor and the recovery key
			t.Fatalf("credentials of the delegated token = %s", creds.Body)
		}
		uuid := ""
		for _, it := range items {
			if m := it.(map[string]any); m["kind"] == "Key" {
				uuid = m["credentialUuid"].(string)
			}
		}
		body := `{"credentialUuid":"` + uuid + `","name":"renamed"}`
		// The service account's own key cannot approve the end user's change.
		ch := h.actionInit(tok, "PUT", "/auth/credentials/name", body)
		for _, k := range ch.AllowCredentials.Key {
			if k.ID == d.sa.signer.CredID {
				t.Fatalf("the service account's key is offered for the end user's action: %+v", ch.AllowCredentials)
			}
		}
		cd, sig := d.sa.signer.Sign(ch.Challenge)
		refused := h.do("POST", "/auth/action", keyAssertion(ch.ChallengeIdentifier, d.sa.signer.CredID, cd, sig), "Authorization", "Bearer "+tok)
		if refused.Status != http.StatusUnauthorized && refused.Status != http.StatusForbidden {
			t.Fatalf("the service account's signature for the end user: %d %s", refused.Status, refused.Body)
		}
		ua := h.signAction(tok, eve.first, "PUT", "/auth/credentials/name", body)
		mustStatus(t, h.signedDo(tok, ua, "PUT", "/auth/credentials/name", body), http.StatusOK)

		claims, err := h.tokens.Parse(tok, store.TokenLogin)
		if err != nil {
			t.Fatal(err)
		}
		e, err := h.st.GetSignInByToken(t.Context(), claims.ID)
		if err != nil || e.Via != store.ViaDelegated || e.UserID != eve.id {
			t.Fatalf("sign-in of the delegated token = %+v, %v", e, err)
		}

		// The owner's Activity page tells the delegated sign-in apart.
		li := h.loginInit(orgID, d.owner.inv.User.Username)
		cd, sig = d.owner.first.Sign(li.Challenge)
		r = h.do("POST", pathSessionLogin, keyAssertion(li.ChallengeIdentifier, d.owner.first.CredID, cd, sig), "Origin", testOrigin)
		mustStatus(t, r, http.StatusOK)
		cookie := strings.Split(r.Header.Get("Set-Cookie"), ";")[0]
		page := h.page(consoleUser{cookie: cookie}, pathActivity)
		mustStatus(t, page, http.StatusOK)
		if !strings.Contains(string(page.Body), "Signed in by delegation") {
			t.Fatalf("the Activity page does not show the delegated sign-in:\n%s", page.Body)
		}
	})

	t.Run("only end users are signed in by delegation, and nothing is written otherwise", func(t *testing.T) {
		_, r := h.delegatedChallenge(t, d.sa, "unfinished@example.com")
		mustStatus(t, r, http.StatusOK)
		off := h.delegatedEndUser(t, d.sa, "off@example.com")
		mustStatus(t, h.signedJSON(t, d.owner.tok, d.owner.first, "PUT", "/auth/users/"+off.id+"/deactivate", nil), http.StatusOK)
		ownerTokens := h.loginTokensOf(t, d.owner.inv.User.ID)
		for _, c := range []struct {
			username string
			status   int
			code     string
		}{
			{d.owner.inv.User.Username, http.StatusNotFound, "not_found"}, // a person: told apart from nobody by nothing
			{"unfinished@example.com", http.StatusBadRequest, "invalid_request"},
			{off.username, http.StatusBadRequest, "invalid_request"},
			{"nobody@example.com", http.StatusNotFound, "not_found"},
		} {
			before := len(h.orgAudit(t, orgID))
			r := h.delegatedLogin(t, d.sa, c.username)
			if r.Status != c.status || r.errorCode(t) != c.code {
				t.Errorf("delegated login of %s: %d %s, want %d %s", c.username, r.Status, r.Body, c.status, c.code)
			}
			if after := len(h.orgAudit(t, orgID)); after != before {
				t.Errorf("delegated login of %s wrote %d audit entries", c.username, after-before)
			}
		}
		if n := h.loginTokensOf(t, d.owner.inv.User.ID); n != ownerTokens {
			t.Errorf("the owner has %d login tokens, had %d", n, ownerTokens)
		}
	})

	t.Run("only a service account holding the operation may delegate", func(t *testing.T) {
		pat, r := h.createPAT(t, d.owner.tok, d.owner.first, nil)
		mustStatus(t, r, http.StatusOK)
		for _, c := range []struct {
			name   string
			tok    string
			signer *webauthntest.KeySigner
			code   string
		}{
			{"the owner, a person holding every operation", d.owner.tok, d.owner.first, "service_accounts_only"},
			{"the owner's PAT", pat.tok, pat.signer, "service_accounts_only"},
			{"a service account without the operation", d.bare.tok, d.bare.signer, "permission_denied"},
		} {
			for _, path := range []string{"/auth/login/delegated", "/auth/registration/delegated", "/auth/recover/user/delegated"} {
				body := map[string]any{"username": eve.username, "credentialId": eve.recovery.CredID}
				if path == "/auth/registration/delegated" {
					body = map[string]any{"email": "new@example.com", "kind": "EndUser"}
				}
				r := h.signedJSON(t, c.tok, c.signer, "POST", path, body)
				if r.Status != http.StatusForbidden || r.errorCode(t) != c.code {
					t.Errorf("%s on %s: %d %s, want 403 %s", c.name, path, r.Status, r.Body, c.code)
				}
			}
		}
		if n := h.loginTokensOf(t, eve.id); n != 1 {
			t.Errorf("eve has %d login tokens, want the one delegated above", n)
		}
	})

	t.Run("an end user holding more than the service account is out of its reach", func(t *testing.T) {
		strong := h.delegatedEndUser(t, d.sa, "strong@example.com")
		readers := h.createPermission(t, d.owner.tok, d.owner.first, "Readers", "Auth:Users:Read")
		h.assign(t, d.owner.tok, d.owner.first, readers, strong.id)
		r := h.delegatedLogin(t, d.sa, strong.username)
		if r.Status != http.StatusForbidden || r.errorCode(t) != "insufficient_authority" {
			t.Fatalf("delegated login of a stronger end user: %d %s", r.Status, r.Body)
		}
		if n := h.loginTokensOf(t, strong.id); n != 0 {
			t.Fatalf("the stronger end user has %d login tokens", n)
		}
	})

	t.Run("registering again", func(t *testing.T) {
		carol := h.invite("carol@example.com") // a person, invited by the owner
		for _, c := range []struct{ email, why string }{
			{eve.username, "a registered end user"},
			{carol.User.Username, "a person of the organisation"},
		} {
			before := len(h.orgAudit(t, orgID))
			_, r := h.delegatedChallenge(t, d.sa, c.email)
			if r.Status != http.StatusConflict {
				t.Errorf("delegated registration of %s: %d %s, want 409", c.why, r.Status, r.Body)
			}
			if after := len(h.orgAudit(t, orgID)); after != before {
				t.Errorf("refused registration of %s wrote %d audit entries", c.why, after-before)
			}
		}
		first, r := h.delegatedChallenge(t, d.sa, "late@example.com")
		mustStatus(t, r, http.StatusOK)
		second, r := h.delegatedChallenge(t, d.sa, "late@example.com")
		mustStatus(t, r, http.StatusOK)
		if first.User.ID != second.User.ID {
			t.Fatalf("a second challenge for an unfinished end user named another user: %s, %s", first.User.ID, second.User.ID)
		}
		k := webauthntest.NewKeySigner("P256")
		if r := h.register(first.Temp, keyCredential(k, first.Challenge)); r.Status != http.StatusUnauthorized {
			t.Fatalf("the replaced challenge registered: %d %s", r.Status, r.Body)
		}
		k = webauthntest.NewKeySigner("P256")
		mustStatus(t, h.register(second.Temp, keyCredential(k, second.Challenge)), http.StatusOK)
		for path, bad := range map[string]map[string]any{
			"/auth/login/delegated":        {"username": strings.Repeat("a", 255)},
			"/auth/recover/user/delegated": {"username": eve.username, "credentialId": strings.Repeat("c", 513)},
		} {
			if r := h.signedJSON(t, d.sa.tok, d.sa.signer, "POST", path, bad); r.Status != http.StatusBadRequest {
				t.Errorf("%s with an over-long field: %d %s, want 400", path, r.Status, r.Body)
			}
		}
		for _, bad := range []map[string]any{
			{"email": "x@example.com", "kind": "CustomerEmployee"},
			{"email": "not an address", "kind": "EndUser"},
			{"kind": "EndUser"},
		} {
			if r := h.signedJSON(t, d.sa.tok, d.sa.signer, "POST", "/auth/registration/delegated", bad); r.Status != http.StatusBadRequest {
				t.Errorf("delegated registration of %v: %d %s, want 400", bad, r.Status, r.Body)
			}
		}
	})

	t.Run("deactivating the service account stops the tokens it obtained", func(t *testing.T) {
		other, r := h.createServiceAccount(t, d.owner.tok, d.owner.first, map[string]any{"name": "second-backend", "permissionId": d.delegates})
		mustStatus(t, r, http.StatusOK)
		mine := h.delegatedLogin(t, d.sa, eve.username)
		mustStatus(t, mine, http.StatusOK)
		theirs := h.delegatedLogin(t, other, eve.username)
		mustStatus(t, theirs, http.StatusOK)
		mustStatus(t, h.signedJSON(t, d.owner.tok, d.owner.first, "PUT", "/auth/service-accounts/"+other.id+"/deactivate", nil), http.StatusOK)
		if r := get(h, theirs.json(t)["token"].(string), "/auth/credentials"); r.Status != http.StatusUnauthorized {
			t.Fatalf("a token obtained by a deactivated service account: %d %s", r.Status, r.Body)
		}
		mustStatus(t, get(h, mine.json(t)["token"].(string), "/auth/credentials"), http.StatusOK)
	})

	t.Run("recovery by delegation still takes the end user's recovery key", func(t *testing.T) {
		before := len(h.orgAudit(t, orgID))
		r := h.signedJSON(t, d.sa.tok, d.sa.signer, "POST", "/auth/recover/user/delegated",
			map[string]any{"username": eve.username, "credentialId": eve.first.CredID})
		if r.Status != http.StatusBadRequest || r.errorCode(t) != "invalid_recovery_credential" {
			t.Fatalf("delegated recovery naming a first factor: %d %s", r.Status, r.Body)
		}
		if after := len(h.orgAudit(t, orgID)); after != before {
			t.Fatalf("the refused recovery wrote %d audit entries", after-before)
		}

		r = h.signedJSON(t, d.sa.tok, d.sa.signer, "POST", "/auth/recover/user/delegated",
			map[string]any{"username": eve.username, "credentialId": eve.recovery.CredID})
		mustStatus(t, r, http.StatusOK)
		var ri recoveryInit
		if err := json.Unmarshal(r.Body, &ri); err != nil {
			t.Fatal(err)
		}
		if len(ri.Allowed) != 1 || ri.Allowed[0].ID != eve.recovery.CredID {
			t.Fatalf("allowedRecoveryCredentials = %+v", ri.Allowed)
		}
		// Nor without a recovery signature at all, as a reset link would.
		unsigned := map[string]any{"newCredentials": map[string]any{"firstFactorCredential": keyCredential(webauthntest.NewKeySigner("P256"), ri.Challenge)}}
		if r := h.do("POST", "/auth/recover/user", unsigned, "Authorization", "Bearer "+ri.Temp); r.Status != http.StatusUnauthorized {
			t.Fatalf("a delegated recovery without the recovery key's signature: %d %s", r.Status, r.Body)
		}
		r = h.signedJSON(t, d.sa.tok, d.sa.signer, "POST", "/auth/recover/user/delegated",
			map[string]any{"username": eve.username, "credentialId": eve.recovery.CredID})
		mustStatus(t, r, http.StatusOK)
		if err := json.Unmarshal(r.Body, &ri); err != nil {
			t.Fatal(err)
		}
		// The service account cannot finish it with a key of its own.
		fresh := webauthntest.NewKeySigner("P256")
		forged := recoverBody(ri.Challenge, d.sa.signer, fresh, nil)
		if r := h.do("POST", "/auth/recover/user", forged, "Authorization", "Bearer "+ri.Temp); r.Status == http.StatusOK {
			t.Fatalf("a recovery signed by the service account's key was accepted: %s", r.Body)
		}
		r = h.signedJSON(t, d.sa.tok, d.sa.signer, "POST", "/auth/recover/user/delegated",
			map[string]any{"username": eve.username, "credentialId": eve.recovery.CredID})
		mustStatus(t, r, http.StatusOK)
		if err := json.Unmarshal(r.Body, &ri); err != nil {
			t.Fatal(err)
		}
		newKey := webauthntest.NewKeySigner("P256")
		mustStatus(t, h.do("POST", "/auth/recover/user", recoverBody(ri.Challenge, eve.recovery, newKey, nil), "Authorization", "Bearer "+ri.Temp), http.StatusOK)
		if n := h.loginTokensOf(t, eve.id); n != 0 {
			t.Fatalf("eve's delegated login token outlived the recovery (%d active)", n)
		}
	})
}
