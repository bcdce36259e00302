package server

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"countersign/mailer/mailertest"
	"countersign/store"
	"countersign/webauthn"
	"countersign/webauthn/webauthntest"
)

// withMail rebuilds the harness's server with e-mail delivered to an
// in-process SMTP server (STARTTLS), whose queue runs until the test ends.
func (h *harness) withMail(t *testing.T) *mailertest.Server {
	t.Helper()
	smtp := mailertest.Start(t, false)
	m := smtp.Mailer(t)
	done := make(chan struct{})
	go func() { m.Run(t.Context()); close(done) }()
	t.Cleanup(func() { <-done })
	h.withOptions(t, Options{Mail: m, MailInterval: time.Nanosecond}) // TestMailIsRateLimited has the real limits
	return smtp
}

var (
	verificationCodeIn = regexp.MustCompile(`\b[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}\b`)
	linkIn             = regexp.MustCompile(`http://localhost:8080/[^\s"<>]+`)
)

func find(t testing.TB, re *regexp.Regexp, text string) string {
	t.Helper()
	m := re.FindString(text)
	if m == "" {
		t.Fatalf("nothing like %s in:\n%s", re, text)
	}
	return m
}

// recoverable is a registered person with a Key credential, a recovery
// key, a login token and a PAT.
type recoverable struct {
	inv      webauthn.Invited
	first    *webauthntest.KeySigner
	recovery *webauthntest.KeySigner
	tok      string
	pat      string
}

func recoveryKeyCredential(s *webauthntest.KeySigner, challenge string) map[string]any {
	c := keyCredential(s, challenge)
	c["credentialKind"], c["encryptedPrivateKey"] = "RecoveryKey", `{"v":1,"sealed":true}`
	return c
}

// newRecoverable registers username; the first one, the organisation's
// owner, also makes a PAT (others may not).
func (h *harness) newRecoverable(username string) recoverable {
	h.t.Helper()
	inv := h.invite(username)
	ri := h.registrationInit(inv)
	r := recoverable{inv: inv, first: webauthntest.NewKeySigner("P256"), recovery: webauthntest.NewKeySigner("P256")}
	h.mustStatus(h.do("POST", "/auth/registration", map[string]any{
		"firstFactorCredential": keyCredential(r.first, ri.Challenge),
		"recoveryCredential":    recoveryKeyCredential(r.recovery, ri.Challenge),
	}, "Authorization", "Bearer "+ri.Temp), http.StatusOK)
	r.tok = h.loginKey(inv, r.first)
	if pat, resp := h.createPAT(h.t, r.tok, r.first, nil); resp.Status == http.StatusOK {
		r.pat = pat.tok
	}
	return r
}

// recoveryCode asks for a verification code and reads it from the mail.
func (h *harness) recoveryCode(smtp *mailertest.Server, inv webauthn.Invited) string {
	h.t.Helper()
	r := h.do("POST", "/auth/recover/user/code", map[string]string{"username": inv.User.Username, "orgId": inv.Org.ID})
	h.mustStatus(r, http.StatusOK)
	m := smtp.Next(h.t)
	return find(h.t, verificationCodeIn, m.Text)
}

type recoveryInit struct {
	regInit
	Allowed []struct {
		ID  string `json:"id"`
		Key string `json:"encryptedRecoveryKey"`
	} `json:"allowedRecoveryCredentials"`
}

func (h *harness) recoveryInit(inv webauthn.Invited, code, credID string) (recoveryInit, response) {
	h.t.Helper()
	r := h.do("POST", "/auth/recover/user/init", map[string]string{
		"username": inv.User.Username, "verificationCode": code, "orgId": inv.Org.ID, "credentialId": credID,
	})
	var out recoveryInit
	if r.Status == http.StatusOK {
		if err := json.Unmarshal(r.Body, &out); err != nil {
			h.t.Fatal(err)
		}
	}
	return out, r
}

// recoverBody is a recovery request: newCredentials with a new Key
// credential, signed by signer over signedCreds (the same by default).
func recoverBody(challenge string, signer *webauthntest.KeySigner, newKey *webauthntest.KeySigner, signedCreds map[string]any) map[string]any {
	creds := map[string]any{"firstFactorCredential": keyCredential(newKey, challenge)}
	if signedCreds == nil {
		signedCreds = creds
	}
	raw, _ := json.Marshal(signedCreds)
	cd, sig := signer.Sign(webauthn.EncodeBase64URL(raw))
	return map[string]any{
		"recovery":       map[string]any{"kind": "RecoveryKey", "credentialAssertion": map[string]string{"credId": signer.CredID, "clientData": cd, "signature": sig}},
		"newCredentials": creds,
	}
}

// still checks that r's old credential logs in and its token and PAT work.
func (h *harness) stillWorks(t *testing.T, r recoverable) {
	t.Helper()
	for _, tok := range []string{r.tok, r.pat} {
		if tok != "" {
			mustStatus(t, h.do("GET", "/auth/pats", nil, "Authorization", "Bearer "+tok), http.StatusOK)
		}
	}
	h.loginKey(r.inv, r.first)
}

func TestRecoveryWithARecoveryKey(t *testing.T) {
	h := newHarness(t)
	smtp := h.withMail(t)
	r := h.newRecoverable("alice@example.com")

	t.Run("the recovery key never signs in nor approves", func(t *testing.T) {
		li := h.loginInit(r.inv.Org.ID, r.inv.User.Username)
		for _, k := range li.AllowCredentials.Key {
			if k.ID == r.recovery.CredID {
				t.Fatal("the recovery key is offered for login")
			}
		}
		cd, sig := r.recovery.Sign(li.Challenge)
		mustStatus(t, h.do("POST", "/auth/login", keyAssertion(li.ChallengeIdentifier, r.recovery.CredID, cd, sig)), http.StatusUnauthorized)
	})

	code := h.recoveryCode(smtp, r.inv)
	ri, resp := h.recoveryInit(r.inv, code, r.recovery.CredID)
	mustStatus(t, resp, http.StatusOK)
	if len(ri.Allowed) != 1 || ri.Allowed[0].ID != r.recovery.CredID || ri.Allowed[0].Key != `{"v":1,"sealed":true}` {
		t.Fatalf("allowedRecoveryCredentials = %+v", ri.Allowed)
	}
	newKey := webauthntest.NewKeySigner("P256")
	resp = h.do("POST", "/auth/recover/user", recoverBody(ri.Challenge, r.recovery, newKey, nil), "Authorization", "Bearer "+ri.Temp)
	mustStatus(t, resp, http.StatusOK)

	t.Run("every old token, PAT and credential is refused at once", func(t *testing.T) {
		for name, tok := range map[string]string{"login token": r.tok, "PAT": r.pat} {
			if got := h.do("GET", "/auth/pats", nil, "Authorization", "Bearer "+tok); got.Status != http.StatusUnauthorized {
				t.Errorf("the old %s: %d, want 401", name, got.Status)
			}
		}
		li := h.loginInit(r.inv.Org.ID, r.inv.User.Username)
		cd, sig := r.first.Sign(li.Challenge)
		mustStatus(t, h.do("POST", "/auth/login", keyAssertion(li.ChallengeIdentifier, r.first.CredID, cd, sig)), http.StatusUnauthorized)
		for _, c := range h.credentials(r.inv.User.ID) {
			if c.TokenID == "" && (c.CredID == r.first.CredID || c.CredID == r.recovery.CredID) && (c.IsActive || !c.IsArchived) {
				t.Errorf("old credential %s: active %t, archived %t", c.ID, c.IsActive, c.IsArchived)
			}
		}
	})
	t.Run("the new credential signs in and approves", func(t *testing.T) {
		tok := h.loginKey(r.inv, newKey)
		h.addKeyCredential(tok, newKey, "another")
	})
	t.Run("an archived credential cannot be activated again", func(t *testing.T) {
		tok := h.loginKey(r.inv, newKey)
		old := ""
		for _, c := range h.credentials(r.inv.User.ID) {
			if c.CredID == r.first.CredID {
				old = c.ID
			}
		}
		body := `{"credentialUuid":"` + old + `"}`
		ua := h.signAction(tok, newKey, "PUT", "/auth/credentials/activate", body)
		got := h.signedDo(tok, ua, "PUT", "/auth/credentials/activate", body)
		mustStatus(t, got, http.StatusBadRequest)
		if code := got.errorCode(t); code != "archived" {
			t.Errorf("code = %s", code)
		}
	})
	t.Run("the used verification code is refused", func(t *testing.T) {
		_, resp := h.recoveryInit(r.inv, code, r.recovery.CredID)
		mustStatus(t, resp, http.StatusUnauthorized)
	})
	t.Run("the recovery is in the audit log", func(t *testing.T) {
		entries, err := h.st.ListAuditEntries(context.Background(), store.AuditQuery{OrgID: r.inv.Org.ID, Start: h.clock().Add(-time.Hour), End: h.clock().Add(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, e := range entries {
			if e.Path == "/auth/recover/user" {
				found = true
				if !strings.Contains(e.Summary, "with its recovery key") || e.CredentialKind != "RecoveryKey" || e.ActionID != "" {
					t.Errorf("recovery audit entry = %+v", e)
				}
			}
		}
		if !found {
			t.Error("no audit entry of the recovery")
		}
	})
}

func TestRecoveryRefusals(t *testing.T) {
	h := newHarness(t)
	smtp := h.withMail(t)
	r := h.newRecoverable("alice@example.com")
	bob := h.newRecoverable("bob@example.com")
	newKey := webauthntest.NewKeySigner("P256")

	refuseInit := func(t *testing.T, code, credID string, status int, errCode string) {
		t.Helper()
		_, resp := h.recoveryInit(r.inv, code, credID)
		mustStatus(t, resp, status)
		if got := resp.errorCode(t); got != errCode {
			t.Errorf("code = %s, want %s", got, errCode)
		}
		h.stillWorks(t, r)
	}
	refuseRecover := func(t *testing.T, temp string, body map[string]any) {
		t.Helper()
		resp := h.do("POST", "/auth/recover/user", body, "Authorization", "Bearer "+temp)
		mustStatus(t, resp, http.StatusUnauthorized)
		h.stillWorks(t, r)
	}

	t.Run("a wrong verification code", func(t *testing.T) {
		h.recoveryCode(smtp, r.inv)
		refuseInit(t, "AAAA-BBBB-CCCC", r.recovery.CredID, http.StatusUnauthorized, "invalid_code")
	})
	t.Run("an expired verification code", func(t *testing.T) {
		code := h.recoveryCode(smtp, r.inv)
		h.advance(16 * time.Minute)
		refuseInit(t, code, r.recovery.CredID, http.StatusUnauthorized, "invalid_code")
	})
	t.Run("another user's code", func(t *testing.T) {
		code := h.recoveryCode(smtp, bob.inv)
		refuseInit(t, code, r.recovery.CredID, http.StatusUnauthorized, "invalid_code")
	})
	t.Run("a credential that is not the person's recovery key", func(t *testing.T) {
		code := h.recoveryCode(smtp, r.inv)
		refuseInit(t, code, r.first.CredID, http.StatusBadRequest, "invalid_recovery_credential")
		refuseInit(t, code, bob.recovery.CredID, http.StatusBadRequest, "invalid_recovery_credential")
	})
	t.Run("an assertion not made by the recovery key", func(t *testing.T) {
		ri, resp := h.recoveryInit(r.inv, h.recoveryCode(smtp, r.inv), r.recovery.CredID)
		mustStatus(t, resp, http.StatusOK)
		body := recoverBody(ri.Challenge, r.first, newKey, nil)
		body["recovery"].(map[string]any)["credentialAssertion"].(map[string]string)["credId"] = r.recovery.CredID
		refuseRecover(t, ri.Temp, body)
	})
	t.Run("an assertion over other new credentials than the ones sent", func(t *testing.T) {
		ri, resp := h.recoveryInit(r.inv, h.recoveryCode(smtp, r.inv), r.recovery.CredID)
		mustStatus(t, resp, http.StatusOK)
		other := map[string]any{"firstFactorCredential": keyCredential(webauthntest.NewKeySigner("P256"), ri.Challenge)}
		refuseRecover(t, ri.Temp, recoverBody(ri.Challenge, r.recovery, newKey, other))
	})
	t.Run("new credentials attesting another challenge", func(t *testing.T) {
		ri, resp := h.recoveryInit(r.inv, h.recoveryCode(smtp, r.inv), r.recovery.CredID)
		mustStatus(t, resp, http.StatusOK)
		refuseRecover(t, ri.Temp, recoverBody("Y2hhbGxlbmdlLW9mLWFub3RoZXItY2VyZW1vbnk", r.recovery, newKey, nil))
	})
	t.Run("an archived recovery key", func(t *testing.T) {
		ri, resp := h.recoveryInit(r.inv, h.recoveryCode(smtp, r.inv), r.recovery.CredID)
		mustStatus(t, resp, http.StatusOK)
		// Meanwhile the person saves a new recovery code: the old key is archived.
		ch := h.do("POST", "/auth/credentials/init", map[string]string{"kind": "RecoveryKey"}, "Authorization", "Bearer "+r.tok).json(t)
		next := webauthntest.NewKeySigner("P256")
		c := recoveryKeyCredential(next, ch["challenge"].(string))
		c["credentialName"], c["challengeIdentifier"] = "Recovery code", ch["challengeIdentifier"]
		raw, _ := json.Marshal(c)
		ua := h.signAction(r.tok, r.first, "POST", "/auth/credentials", string(raw))
		mustStatus(t, h.signedDo(r.tok, ua, "POST", "/auth/credentials", string(raw)), http.StatusOK)
		refuseRecover(t, ri.Temp, recoverBody(ri.Challenge, r.recovery, newKey, nil))
		r.recovery = next
	})
	t.Run("a deactivated user", func(t *testing.T) {
		code := h.recoveryCode(smtp, bob.inv)
		owner := h.loginKey(r.inv, r.first)
		ua := h.signAction(owner, r.first, "PUT", "/auth/users/"+bob.inv.User.ID+"/deactivate", "{}")
		mustStatus(t, h.signedDo(owner, ua, "PUT", "/auth/users/"+bob.inv.User.ID+"/deactivate", "{}"), http.StatusOK)
		_, resp := h.recoveryInit(bob.inv, code, bob.recovery.CredID)
		mustStatus(t, resp, http.StatusUnauthorized)
	})
	t.Run("another organisation", func(t *testing.T) {
		code := h.recoveryCode(smtp, r.inv)
		other := r.inv
		other.Org.ID = "or-elsewhere"
		_, resp := h.recoveryInit(other, code, r.recovery.CredID)
		mustStatus(t, resp, http.StatusUnauthorized)
		h.stillWorks(t, r)
	})
}

func TestTwoRecoveriesWithOneCodeOnlyOneSucceeds(t *testing.T) {
	h := newHarness(t)
	smtp := h.withMail(t)
	r := h.newRecoverable("alice@example.com")
	code := h.recoveryCode(smtp, r.inv)
	var bodies []map[string]any
	var temps []string
	for range 4 {
		ri, resp := h.recoveryInit(r.inv, code, r.recovery.CredID)
		mustStatus(t, resp, http.StatusOK)
		bodies = append(bodies, recoverBody(ri.Challenge, r.recovery, webauthntest.NewKeySigner("P256"), nil))
		temps = append(temps, ri.Temp)
	}
	statuses := make([]int, len(bodies))
	var wg sync.WaitGroup
	for i := range bodies {
		wg.Go(func() {
			statuses[i] = h.do("POST", "/auth/recover/user", bodies[i], "Authorization", "Bearer "+temps[i]).Status
		})
	}
	wg.Wait()
	ok := 0
	for _, s := range statuses {
		switch s {
		case http.StatusOK:
			ok++
		case http.StatusUnauthorized:
		default:
			t.Errorf("a racing recovery answered %d", s)
		}
	}
	if ok != 1 {
		t.Fatalf("%d of the racing recoveries succeeded (%v), want exactly one", ok, statuses)
	}
}

func TestCodeRequestsAnswerAlikeForUnknownUsers(t *testing.T) {
	h := newHarness(t)
	smtp := h.withMail(t)
	r := h.newRecoverable("alice@example.com")
	for _, path := range []string{"/auth/recover/user/code", "/auth/registration/code"} {
		method := map[string]string{"/auth/recover/user/code": "POST", "/auth/registration/code": "PUT"}[path]
		known := h.do(method, path, map[string]string{"username": "alice@example.com", "orgId": r.inv.Org.ID})
		unknown := h.do(method, path, map[string]string{"username": "nobody@example.com", "orgId": r.inv.Org.ID})
		if known.Status != unknown.Status || string(known.Body) != string(unknown.Body) {
			t.Errorf("%s: known %d %s, unknown %d %s", path, known.Status, known.Body, unknown.Status, unknown.Body)
		}
	}
	// One worker delivers in order: once a mail to a real person arrives,
	// the jobs before it are done. Only alice's recovery code went out (she
	// has registered, so no new registration link either).
	h.do("POST", "/auth/recover/user/code", map[string]string{"username": "bob@example.com", "orgId": r.inv.Org.ID})
	first := smtp.Next(t)
	if first.To[0] != "alice@example.com" || !verificationCodeIn.MatchString(first.Text) {
		t.Fatalf("first mail: to %v, %q", first.To, first.Subject)
	}
	h.recoveryCode(smtp, r.inv)
	if extra := smtp.Pending(); len(extra) != 0 {
		t.Errorf("mails to unknown or registered users: %+v", extra)
	}
}

func TestWithoutSMTPTheMailRoutesSaySo(t *testing.T) {
	h := newHarness(t)
	inv, _ := h.registerKey("alice@example.com", "P256")
	for path, method := range map[string]string{"/auth/recover/user/code": "POST", "/auth/registration/code": "PUT"} {
		r := h.do(method, path, map[string]string{"username": inv.User.Username, "orgId": inv.Org.ID})
		mustStatus(t, r, http.StatusNotImplemented)
		if r.errorCode(t) != "mail_not_configured" || !strings.Contains(string(r.Body), "--smtp-url") {
			t.Errorf("%s: %s", path, r.Body)
		}
	}
}

func TestMailedLinksWork(t *testing.T) {
	h := newHarness(t)
	smtp := h.withMail(t)
	ownerInv, owner := h.registerKey("owner@example.com", "P256")
	tok := h.loginKey(ownerInv, owner)

	t.Run("the invitation mail's link registers", func(t *testing.T) {
		body := `{"email":"carol@example.com","kind":"CustomerEmployee"}`
		ua := h.signAction(tok, owner, "POST", "/auth/users", body)
		r := h.signedDo(tok, ua, "POST", "/auth/users", body)
		mustStatus(t, r, http.StatusOK)
		if r.json(t)["registrationEmailed"] != true {
			t.Errorf("registrationEmailed missing: %s", r.Body)
		}
		m := smtp.Next(t)
		link := find(t, linkIn, m.Text)
		if !strings.Contains(m.HTML, `href="`+strings.ReplaceAll(link, "&", "&amp;")+`"`) {
			t.Errorf("the HTML part has no link to %s:\n%s", link, m.HTML)
		}
		h.registerFromLink(t, link)
	})
	t.Run("a resent registration link replaces the old one and works", func(t *testing.T) {
		inv := h.invite("dave@example.com")
		r := h.do("PUT", "/auth/registration/code", map[string]string{"username": "dave@example.com", "orgId": inv.Org.ID})
		mustStatus(t, r, http.StatusOK)
		link := find(t, linkIn, smtp.Next(t).Text)
		old := h.do("POST", "/auth/registration/init", map[string]string{"orgId": inv.Org.ID, "username": inv.User.Username, "registrationCode": inv.Code})
		mustStatus(t, old, http.StatusUnauthorized)
		h.registerFromLink(t, link)
	})
}

// registerFromLink registers a Key credential with the code of an
// invitation link.
func (h *harness) registerFromLink(t *testing.T, link string) {
	t.Helper()
	u, err := url.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	mustStatus(t, h.do("GET", u.RequestURI(), nil, "Accept", "text/html"), http.StatusOK)
	q := u.Query()
	r := h.do("POST", "/auth/registration/init", map[string]string{"orgId": q.Get("org"), "username": q.Get("username"), "registrationCode": q.Get("code")})
	mustStatus(t, r, http.StatusOK)
	var ri regInit
	if err := json.Unmarshal(r.Body, &ri); err != nil {
		t.Fatal(err)
	}
	mustStatus(t, h.register(ri.Temp, keyCredential(webauthntest.NewKeySigner("P256"), ri.Challenge)), http.StatusOK)
}

func TestMailIsRateLimited(t *testing.T) {
	h := newHarness(t)
	smtp := mailertest.Start(t, false)
	h.withOptions(t, Options{Mail: smtp.Mailer(t)}) // not running: nothing needs to go out
	inv, _ := h.registerKey("alice@example.com", "P256")
	for _, username := range []string{"alice@example.com", "nobody@example.com"} {
		var limited response
		for range 4 {
			if r := h.do("POST", "/auth/recover/user/code", map[string]string{"username": username, "orgId": inv.Org.ID}); r.Status != http.StatusOK {
				limited = r
			}
		}
		if limited.Status != http.StatusTooManyRequests || limited.Header.Get("Retry-After") == "" {
			t.Errorf("%s: the fourth request in a row answered %d (Retry-After %q), want 429 with Retry-After",
				username, limited.Status, limited.Header.Get("Retry-After"))
		}
	}
}
