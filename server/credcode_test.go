package server

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"countersign/webauthn/webauthntest"
)

// credentialCode makes a credential code of u expiring after ttl.
func (h *harness) credentialCode(tok string, s *webauthntest.KeySigner, ttl time.Duration) (string, response) {
	h.t.Helper()
	body := `{"expiration":"` + h.clock().Add(ttl).UTC().Format(time.RFC3339Nano) + `"}`
	ua := h.signAction(tok, s, "POST", "/auth/credentials/code", body)
	r := h.signedDo(tok, ua, "POST", "/auth/credentials/code", body)
	code, _ := r.json(h.t)["code"].(string)
	return code, r
}

// addWithCode runs /code/init and /code/verify with a new Key credential.
func (h *harness) addWithCode(code string) (*webauthntest.KeySigner, response) {
	h.t.Helper()
	r := h.do("POST", "/auth/credentials/code/init", map[string]string{"code": code, "credentialKind": "Key"})
	if r.Status != http.StatusOK {
		return nil, r
	}
	ch := r.json(h.t)
	key := webauthntest.NewKeySigner("P256")
	c := keyCredential(key, ch["challenge"].(string))
	c["credentialName"], c["challengeIdentifier"] = "phone", ch["challengeIdentifier"]
	return key, h.do("POST", "/auth/credentials/code/verify", c)
}

func TestCredentialCodes(t *testing.T) {
	h := newHarness(t)
	inv, first := h.registerKey("alice@example.com", "P256")
	tok := h.loginKey(inv, first)

	t.Run("a code adds a credential from another device, once", func(t *testing.T) {
		code, r := h.credentialCode(tok, first, time.Minute)
		mustStatus(t, r, http.StatusOK)
		if len(strings.ReplaceAll(code, "-", "")) != 25 {
			t.Fatalf("code %q is not 25 characters", code)
		}
		key, r := h.addWithCode(code)
		mustStatus(t, r, http.StatusOK)
		if r.json(t)["kind"] != "Key" {
			t.Errorf("answer %s", r.Body)
		}
		h.loginKey(inv, key)
		_, r = h.addWithCode(code)
		mustStatus(t, r, http.StatusUnauthorized)
		if r.errorCode(t) != "invalid_code" {
			t.Errorf("code = %s", r.errorCode(t))
		}
	})
	t.Run("an expired code is refused and adds nothing", func(t *testing.T) {
		code, r := h.credentialCode(tok, first, time.Minute)
		mustStatus(t, r, http.StatusOK)
		before := len(h.credentials(inv.User.ID))
		h.advance(2 * time.Minute)
		_, r = h.addWithCode(code)
		mustStatus(t, r, http.StatusUnauthorized)
		if n := len(h.credentials(inv.User.ID)); n != before {
			t.Errorf("%d credentials, had %d", n, before)
		}
		tok = h.loginKey(inv, first)
	})
	t.Run("a code that expired between init and verify is refused", func(t *testing.T) {
		code, r := h.credentialCode(tok, first, time.Minute)
		mustStatus(t, r, http.StatusOK)
		r = h.do("POST", "/auth/credentials/code/init", map[string]string{"code": code, "credentialKind": "Key"})
		mustStatus(t, r, http.StatusOK)
		ch := r.json(t)
		h.advance(61 * time.Second)
		key := webauthntest.NewKeySigner("P256")
		c := keyCredential(key, ch["challenge"].(string))
		c["credentialName"], c["challengeIdentifier"] = "late", ch["challengeIdentifier"]
		mustStatus(t, h.do("POST", "/auth/credentials/code/verify", c), http.StatusUnauthorized)
		tok = h.loginKey(inv, first)
	})
	t.Run("a wrong code is refused", func(t *testing.T) {
		_, r := h.addWithCode("AAAAA-BBBBB-CCCCC-DDDDD-EEEEE")
		mustStatus(t, r, http.StatusUnauthorized)
	})
	t.Run("a code lives at most five minutes", func(t *testing.T) {
		_, r := h.credentialCode(tok, first, 6*time.Minute)
		mustStatus(t, r, http.StatusBadRequest)
		_, r = h.credentialCode(tok, first, -time.Second)
		mustStatus(t, r, http.StatusBadRequest)
	})
	t.Run("a Unix time in seconds or milliseconds is an expiration", func(t *testing.T) {
		for _, v := range []int64{h.clock().Add(time.Minute).Unix(), h.clock().Add(time.Minute).UnixMilli()} {
			body := `{"expiration":` + jsonInt(v) + `}`
			ua := h.signAction(tok, first, "POST", "/auth/credentials/code", body)
			mustStatus(t, h.signedDo(tok, ua, "POST", "/auth/credentials/code", body), http.StatusOK)
		}
	})
	t.Run("a PAT cannot make a code", func(t *testing.T) {
		pat, r := h.createPAT(t, tok, first, nil)
		mustStatus(t, r, http.StatusOK)
		r = h.do("POST", "/auth/action/init", map[string]string{"userActionPayload": "{}", "userActionHttpMethod": "POST",
			"userActionHttpPath": "/auth/credentials/code"}, "Authorization", "Bearer "+pat.tok)
		mustStatus(t, r, http.StatusForbidden)
	})
}

func jsonInt(v int64) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestAdministratorReset(t *testing.T) {
	h := newHarness(t)
	owner := h.newRecoverable("owner@example.com")
	bob := h.newRecoverable("bob@example.com")
	ownerTok := h.loginKey(owner.inv, owner.first)
	reset := func(t *testing.T, tok string, s *webauthntest.KeySigner, userID string) response {
		t.Helper()
		path := "/auth/users/" + userID + "/recovery"
		ua, r := h.trySign(tok, s, "POST", path, "{}")
		if ua == "" {
			return r
		}
		return h.signedDo(tok, ua, "POST", path, "{}")
	}
	useLink := func(t *testing.T, link string) (response, *webauthntest.KeySigner) {
		t.Helper()
		u, err := url.Parse(link)
		if err != nil {
			t.Fatal(err)
		}
		if page := h.do("GET", u.RequestURI(), nil, "Accept", "text/html"); page.Status != http.StatusOK {
			return page, nil
		}
		r := h.do("POST", "/auth/recover/reset/init", map[string]string{"code": u.Query().Get("reset")})
		if r.Status != http.StatusOK {
			return r, nil
		}
		var ri regInit
		if err := json.Unmarshal(r.Body, &ri); err != nil {
			t.Fatal(err)
		}
		key := webauthntest.NewKeySigner("P256")
		return h.do("POST", "/auth/recover/user", map[string]any{"newCredentials": map[string]any{
			"firstFactorCredential": keyCredential(key, ri.Challenge)}}, "Authorization", "Bearer "+ri.Temp), key
	}

	var link string
	var bobKey *webauthntest.KeySigner
	t.Run("an administrator issues a link, which replaces every credential", func(t *testing.T) {
		r := reset(t, ownerTok, owner.first, bob.inv.User.ID)
		mustStatus(t, r, http.StatusOK)
		link, _ = r.json(t)["resetUrl"].(string)
		h.stillWorks(t, bob) // nothing changes until the link is used
		r, key := useLink(t, link)
		mustStatus(t, r, http.StatusOK)
		bobKey = key
		mustStatus(t, h.do("GET", "/auth/pats", nil, "Authorization", "Bearer "+bob.tok), http.StatusUnauthorized)
		h.loginKey(bob.inv, key)
		li := h.loginInit(bob.inv.Org.ID, bob.inv.User.Username)
		cd, sig := bob.first.Sign(li.Challenge)
		mustStatus(t, h.do("POST", "/auth/login", keyAssertion(li.ChallengeIdentifier, bob.first.CredID, cd, sig)), http.StatusUnauthorized)
	})
	t.Run("a used link is refused", func(t *testing.T) {
		r, _ := useLink(t, link)
		mustStatus(t, r, http.StatusUnauthorized)
	})
	t.Run("nobody resets someone stronger, nor themselves", func(t *testing.T) {
		// bob holds nothing: he cannot even ask. Give him the recovery
		// operation only: still weaker than the owner.
		bob.tok, bob.first = h.loginKey(bob.inv, bobKey), bobKey
		perm := h.signedJSON(t, ownerTok, owner.first, "POST", "/permissions", map[string]any{"name": "Recoverers", "operations": []string{"Auth:Recover:Delegated"}}).json(t)
		mustStatus(t, h.signedJSON(t, ownerTok, owner.first, "POST", "/permissions/"+perm["id"].(string)+"/assignments", map[string]any{"identityId": bob.inv.User.ID}), http.StatusOK)
		r := reset(t, bob.tok, bob.first, owner.inv.User.ID)
		mustStatus(t, r, http.StatusForbidden)
		if r.errorCode(t) != "insufficient_authority" {
			t.Errorf("code = %s", r.errorCode(t))
		}
		h.stillWorks(t, owner)
		mustStatus(t, reset(t, ownerTok, owner.first, owner.inv.User.ID), http.StatusBadRequest)
	})
	t.Run("only a person issues a link: the issuer is re-checked when it is used", func(t *testing.T) {
		// owner.pat holds all of the owner's operations; a link it issued
		// would be re-checked against the owner, not the token.
		r := reset(t, owner.pat, owner.first, bob.inv.User.ID)
		if r.Status != http.StatusForbidden || r.errorCode(t) != "people_only" {
			t.Fatalf("a PAT issuing a reset link: %d %s", r.Status, r.Body)
		}
	})
	t.Run("a link expires", func(t *testing.T) {
		carol := h.newRecoverable("carol@example.com")
		r := reset(t, ownerTok, owner.first, carol.inv.User.ID)
		mustStatus(t, r, http.StatusOK)
		h.advance(25 * time.Hour)
		u, _ := url.Parse(r.json(t)["resetUrl"].(string))
		mustStatus(t, h.do("POST", "/auth/recover/reset/init", map[string]string{"code": u.Query().Get("reset")}), http.StatusUnauthorized)
	})
}

func TestAMailedResetLinkGoesToThePersonOnly(t *testing.T) {
	h := newHarness(t)
	smtp := h.withMail(t)
	owner := h.newRecoverable("owner@example.com")
	bob := h.newRecoverable("bob@example.com")
	tok := h.loginKey(owner.inv, owner.first)
	path := "/auth/users/" + bob.inv.User.ID + "/recovery"
	r := h.signedDo(tok, h.signAction(tok, owner.first, "POST", path, "{}"), "POST", path, "{}")
	mustStatus(t, r, http.StatusOK)
	if m := r.json(t); m["emailed"] != true || m["resetUrl"] != nil {
		t.Fatalf("answer %s: the administrator must not get the link", r.Body)
	}
	m := smtp.Next(t)
	link := find(t, linkIn, m.Text)
	u, _ := url.Parse(link)
	r = h.do("POST", "/auth/recover/reset/init", map[string]string{"code": u.Query().Get("reset")})
	mustStatus(t, r, http.StatusOK)
	if !strings.Contains(m.Text, "owner@example.com") || m.To[0] != "bob@example.com" {
		t.Errorf("mail to %v: %s", m.To, m.Text)
	}
}

func TestAResetLinkDiesWithItsIssuersAuthority(t *testing.T) {
	h := newHarness(t)
	owner := h.newRecoverable("owner@example.com")
	admin := h.newRecoverable("admin@example.com")
	bob := h.newRecoverable("bob@example.com")
	tok := h.loginKey(owner.inv, owner.first)
	perm := h.signedJSON(t, tok, owner.first, "POST", "/permissions", map[string]any{"name": "Recoverers", "operations": []string{"Auth:Recover:Delegated"}}).json(t)
	permID := perm["id"].(string)
	as := h.signedJSON(t, tok, owner.first, "POST", "/permissions/"+permID+"/assignments", map[string]any{"identityId": admin.inv.User.ID}).json(t)
	adminTok := h.loginKey(admin.inv, admin.first)
	path := "/auth/users/" + bob.inv.User.ID + "/recovery"
	r := h.signedDo(adminTok, h.signAction(adminTok, admin.first, "POST", path, "{}"), "POST", path, "{}")
	mustStatus(t, r, http.StatusOK)
	u, _ := url.Parse(r.json(t)["resetUrl"].(string))

	mustStatus(t, h.revoke(t, tok, owner.first, permID, as["id"].(string)), http.StatusNoContent)
	r = h.do("POST", "/auth/recover/reset/init", map[string]string{"code": u.Query().Get("reset")})
	mustStatus(t, r, http.StatusForbidden)
	if r.errorCode(t) != "reset_revoked" {
		t.Errorf("code = %s", r.errorCode(t))
	}
	h.stillWorks(t, bob)
}
