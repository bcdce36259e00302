package server

import (
	"countersign/store"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"countersign/webauthn"
	"countersign/webauthn/webauthntest"
)

// summaryCase is one signed route's request and what its summary must say.
type summaryCase struct {
	path        string
	body        any
	want        []string // every one must appear in the summary
	destructive bool
}

// actionSummaryOf asks /auth/action/init what a request would be
// summarised as, as the console does before the passkey prompt.
func (h *harness) actionSummaryOf(t *testing.T, tok, method, path, payload string) (string, bool) {
	t.Helper()
	r := h.do("POST", "/auth/action/init", map[string]string{
		"userActionPayload": payload, "userActionHttpMethod": method, "userActionHttpPath": path,
	}, "Authorization", "Bearer "+tok)
	mustStatus(t, r, http.StatusOK)
	var out struct {
		Summary     string `json:"summary"`
		Destructive bool   `json:"destructive"`
	}
	if err := json.Unmarshal(r.Body, &out); err != nil {
		t.Fatal(err)
	}
	return out.Summary, out.Destructive
}

// TestEverySignedRouteIsSummarised walks the route table: every
// state-changing route that takes a user action must have a summary that
// names what it changes, so a new route without one fails here.
func TestEverySignedRouteIsSummarised(t *testing.T) {
	h := newHarness(t)
	owner := h.newActionUser("owner")
	bob, _, _ := h.member(t, "bob@example.com")
	carol := h.invite("carol@example.com") // invited, not registered
	auditors := h.createPermission(t, owner.tok, owner.first, "Auditors", "Auth:Logs:Read")
	r := h.signedJSON(t, owner.tok, owner.first, "POST", "/permissions/"+auditors+"/assignments", map[string]any{"identityId": bob.User.ID})
	mustStatus(t, r, http.StatusOK)
	assignment := r.json(t)["id"].(string)
	pat, r := h.createPAT(t, owner.tok, owner.first, map[string]any{"name": "deploy bot"})
	mustStatus(t, r, http.StatusOK)
	sa, r := h.createServiceAccount(t, owner.tok, owner.first, map[string]any{"name": "admin-bot"})
	mustStatus(t, r, http.StatusOK)
	ownerGrants, err := h.st.ListAssignments(t.Context(), owner.inv.User.ID)
	if err != nil || len(ownerGrants) != 1 {
		t.Fatalf("owner assignments = %v, %v", ownerGrants, err)
	}
	admin := ownerGrants[0].PermissionID
	newKey := webauthntest.NewKeySigner("P256")
	fp := fingerprintOf(t, newKey.PublicKeyPEM())
	attested := keyCredential(newKey, "challenge")
	attested["credentialName"] = "CI key"
	attested["challengeIdentifier"] = "ch-x"
	full := len(webauthn.FullAdminOperations)
	fullWords := fmt.Sprintf("full administration, all %d operations", full)

	h.loginKey(owner.inv, owner.first) // a second session of the owner's
	sessions, err := h.st.ListActiveTokens(t.Context(), owner.inv.User.ID, store.TokenLogin, h.clock())
	if err != nil {
		t.Fatal(err)
	}
	_, current, err := h.tokens.Verify(t.Context(), owner.tok, store.TokenLogin)
	if err != nil {
		t.Fatal(err)
	}
	other := sessions[0].ID
	if other == current.ID {
		other = sessions[1].ID
	}

	cases := map[string]summaryCase{
		"PUT /auth/sessions/revoke": {"/auth/sessions/revoke", map[string][]string{"tokenIds": {other, "to-unknown"}},
			[]string{"Sign out 1 other session of yours (Unknown browser, signed in 1 Mar 2026, 12:00 UTC)", "they end at once"}, true},
		"POST /auth/credentials": {"/auth/credentials", attested,
			[]string{`Add the key "CI key" for scripts`, "signing key EC P-256 " + fp, "sign in and approve actions as you"}, false},
		"PUT /auth/credentials/activate": {"/auth/credentials/activate", map[string]string{"credentialUuid": owner.secondUUID},
			[]string{`Activate the key "second key" (` + owner.secondUUID + ")"}, false},
		"PUT /auth/credentials/deactivate": {"/auth/credentials/deactivate", map[string]string{"credentialUuid": owner.secondUUID},
			[]string{`Deactivate the key "second key" (` + owner.secondUUID + ")", "can no longer sign in"}, true},
		"PUT /auth/credentials/name": {"/auth/credentials/name", map[string]string{"credentialUuid": owner.secondUUID, "name": "Laptop"},
			[]string{`Rename the key "second key" (` + owner.secondUUID + `) to "Laptop"`}, false},
		"POST /auth/pats": {"/auth/pats", map[string]any{"name": "nightly", "publicKey": newKey.PublicKeyPEM(), "daysValid": 30},
			[]string{`Create the personal access token "nightly"`, "valid for 30 days (until 31 Mar 2026)",
				"holding all of your rights, as they change (now " + fullWords + ")", fp}, false},
		"PUT /auth/pats/:tokenId": {"/auth/pats/" + pat.id, map[string]string{"name": "deploy"},
			[]string{`Rename the personal access token "deploy bot" (` + pat.id + `) to "deploy"`}, false},
		"PUT /auth/pats/:tokenId/activate": {"/auth/pats/" + pat.id + "/activate", map[string]any{},
			[]string{`Activate the personal access token "deploy bot" (` + pat.id + ")"}, false},
		"PUT /auth/pats/:tokenId/deactivate": {"/auth/pats/" + pat.id + "/deactivate", map[string]any{},
			[]string{`Deactivate the personal access token "deploy bot" (` + pat.id + ")", "stop working at once"}, true},
		"DELETE /auth/pats/:tokenId": {"/auth/pats/" + pat.id, map[string]any{},
			[]string{`Archive the personal access token "deploy bot" (` + pat.id + ")", "cannot be activated again"}, true},
		"POST /auth/service-accounts": {"/auth/service-accounts", map[string]any{"name": "admin-bot 2", "publicKey": newKey.PublicKeyPEM(), "permissionId": admin, "daysValid": 730},
			[]string{`Create the service account "admin-bot 2" with the permission "DfnsFullAdminAccess" (` + admin + "), allowing " + fullWords,
				"valid for 730 days (until 29 Feb 2028)", fp}, false},
		"PUT /auth/service-accounts/:serviceAccountId": {"/auth/service-accounts/" + sa.id, map[string]string{"name": "robot 2"},
			[]string{`Rename the service account "admin-bot" (` + sa.id + `) to "robot 2"`}, false},
		"PUT /auth/service-accounts/:serviceAccountId/activate": {"/auth/service-accounts/" + sa.id + "/activate", map[string]any{},
			[]string{`Activate the service account "admin-bot" (` + sa.id + ")"}, false},
		"PUT /auth/service-accounts/:serviceAccountId/deactivate": {"/auth/service-accounts/" + sa.id + "/deactivate", map[string]any{},
			[]string{`Deactivate the service account "admin-bot" (` + sa.id + ")", "stops working at once"}, true},
		"DELETE /auth/service-accounts/:serviceAccountId": {"/auth/service-accounts/" + sa.id, map[string]any{},
			[]string{`Archive the service account "admin-bot" (` + sa.id + ")"}, true},
		"POST /auth/users": {"/auth/users", map[string]string{"email": "dave@example.com", "kind": "CustomerEmployee"},
			[]string{"Invite dave@example.com as a user", "valid for 24 hours", "no permission until one is assigned"}, false},
		"POST /auth/credentials/code": {"/auth/credentials/code", map[string]string{"expiration": "2026-03-01T12:01:00Z"},
			[]string{"Make a one-time code", "adds a passkey or key to your account from another device"}, false},
		"POST /auth/users/:userId/recovery": {"/auth/users/" + bob.User.ID + "/recovery", map[string]any{},
			[]string{`Issue a reset link for the user "bob@example.com" (` + bob.User.ID + ")", "retires every credential, token and session"}, true},
		"POST /auth/users/:userId/invitation": {"/auth/users/" + carol.User.ID + "/invitation", map[string]any{},
			[]string{`Issue a new invitation link for the user "carol@example.com" (` + carol.User.ID + ")", "previous link stops working", "valid for 24 hours"}, false},
		"PUT /auth/users/:userId": {"/auth/users/" + bob.User.ID, map[string]bool{"isSSORequired": true},
			[]string{`Require single sign-on for the user "bob@example.com" (` + bob.User.ID + ")"}, false},
		"PUT /auth/users/:userId/activate": {"/auth/users/" + bob.User.ID + "/activate", map[string]any{},
			[]string{`Activate the user "bob@example.com" (` + bob.User.ID + ")"}, false},
		"PUT /auth/users/:userId/deactivate": {"/auth/users/" + bob.User.ID + "/deactivate", map[string]any{},
			[]string{`Deactivate the user "bob@example.com" (` + bob.User.ID + ")", "signed out at once"}, true},
		"DELETE /auth/users/:userId": {"/auth/users/" + carol.User.ID, map[string]any{},
			[]string{`Cancel the invitation of "carol@example.com" (` + carol.User.ID + ")", "the link stops working"}, true},
		"POST /permissions": {"/permissions", map[string]any{"name": "Readers", "operations": []string{"Auth:Users:Read", "Auth:Logs:Read"}},
			[]string{`Create the permission "Readers" allowing 2 operations: Auth:Users:Read, Auth:Logs:Read`}, false},
		"PUT /permissions/:permissionId": {"/permissions/" + auditors, map[string]any{"name": "Log readers", "operations": webauthn.FullAdminOperations},
			[]string{`Update the permission "Auditors" (` + auditors + `): rename it "Log readers", and make it allow ` + fullWords,
				"changes what the 1 identity holding it may do"}, false},
		"PUT /permissions/:permissionId/archive": {"/permissions/" + auditors + "/archive", map[string]bool{"isArchived": true},
			[]string{`Archive the permission "Auditors" (` + auditors + "): the 1 identity holding it loses its operations"}, true},
		"POST /permissions/:permissionId/assignments": {"/permissions/" + auditors + "/assignments", map[string]string{"identityId": pat.id},
			[]string{`Grant the permission "Auditors" (` + auditors + "), allowing 1 operation: Auth:Logs:Read, to the personal access token " +
				`"deploy bot" (` + pat.id + ") of owner"}, false},
		"DELETE /permissions/:permissionId/assignments/:assignmentId": {"/permissions/" + auditors + "/assignments/" + assignment, map[string]any{},
			[]string{`Revoke the permission "Auditors" (` + auditors + `) from the user "bob@example.com" (` + bob.User.ID + "): they lose 1 operation: Auth:Logs:Read"}, true},
	}

	// The delegated flows are for service accounts only.
	delegates := h.createPermission(t, owner.tok, owner.first, "Delegation", "Auth:Register:Delegated", "Auth:Login:Delegated", "Auth:Recover:Delegated")
	backend, r := h.createServiceAccount(t, owner.tok, owner.first, map[string]any{"name": "app-backend", "permissionId": delegates})
	mustStatus(t, r, http.StatusOK)
	byServiceAccount := map[string]summaryCase{
		"POST /auth/registration/delegated": {"/auth/registration/delegated", map[string]string{"email": "eve@example.com", "kind": "EndUser", "externalId": "app-7"},
			[]string{`Create the end user eve@example.com (external id "app-7")`, "their own device completes"}, false},
		"POST /auth/login/delegated": {"/auth/login/delegated", map[string]string{"username": "eve@example.com"},
			[]string{"Sign in as the end user eve@example.com", "still needs their own signature"}, false},
		"POST /auth/recover/user/delegated": {"/auth/recover/user/delegated", map[string]string{"username": "eve@example.com", "credentialId": "rk-1"},
			[]string{"Start the recovery of the end user eve@example.com with their recovery key rk-1", "replaces every earlier credential and token"}, true},
	}
	for k, v := range byServiceAccount {
		cases[k] = v
	}

	seen := map[string]bool{}
	for _, rt := range h.srv.echo.Routes() {
		key := rt.Method + " " + rt.Path
		if !isMutating(rt.Method) || unsignedMutations[key] || rt.Name == echoNotFoundName(rt) || seen[key] {
			continue
		}
		seen[key] = true
		t.Run(key+" is summarised in words", func(t *testing.T) {
			if _, _, ok := summaryRouteFor(rt.Method, rt.Path); !ok {
				t.Fatalf("%s has no entry in summaryRoutes: add one that names what it changes", key)
			}
			tc, ok := cases[key]
			if !ok {
				t.Fatalf("%s has no case in this test: add one", key)
			}
			raw, err := json.Marshal(tc.body)
			if err != nil {
				t.Fatal(err)
			}
			tok := owner.tok
			if _, ok := byServiceAccount[key]; ok {
				tok = backend.tok
			}
			got, gotDestructive := h.actionSummaryOf(t, tok, rt.Method, tc.path, string(raw))
			for _, want := range tc.want {
				if !strings.Contains(got, want) {
					t.Errorf("summary = %q\nwant it to contain %q", got, want)
				}
			}
			if gotDestructive != tc.destructive {
				t.Errorf("destructive = %t, want %t (summary %q)", gotDestructive, tc.destructive, got)
			}
		})
	}
	for _, r := range summaryRoutes {
		if !seen[r.pattern] {
			t.Errorf("summaryRoutes has %q, which is no signed route", r.pattern)
		}
	}
}

func TestTheAuditEntryKeepsTheSentenceTheApprovalShowed(t *testing.T) {
	h := newHarness(t)
	u := h.newActionUser("alice")
	body := `{"credentialUuid":"` + u.secondUUID + `","name":"Laptop"}`
	shown, _ := h.actionSummaryOf(t, u.tok, "PUT", "/auth/credentials/name", body)
	mustStatus(t, h.signedDo(u.tok, h.signAction(u.tok, u.first, "PUT", "/auth/credentials/name", body), "PUT", "/auth/credentials/name", body), http.StatusOK)
	entries, err := h.st.ListAuditEntries(t.Context(), store.AuditQuery{OrgID: u.inv.Org.ID, Start: time.Unix(0, 0), End: h.clock().Add(time.Hour), Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	last := entries[len(entries)-1]
	if last.Summary != shown {
		t.Errorf("audit summary = %q, the approval showed %q", last.Summary, shown)
	}
}

func TestKeyFingerprintIsTheSHA256OfTheDERKey(t *testing.T) {
	k := webauthntest.NewKeySigner("P256")
	fp, alg := keyFingerprint(k.PublicKeyPEM())
	if want := fingerprintOf(t, k.PublicKeyPEM()); fp != want || alg != "EC P-256" {
		t.Errorf("keyFingerprint = %q %q, want %q EC P-256", fp, alg, want)
	}
	for _, kind := range []string{"Ed25519", "RSA"} {
		if _, alg := keyFingerprint(webauthntest.NewKeySigner(kind).PublicKeyPEM()); !strings.HasPrefix(alg, kind) {
			t.Errorf("%s key is called %q", kind, alg)
		}
	}
	if fp, _ := keyFingerprint("not a key"); fp != "" {
		t.Errorf("fingerprint of garbage = %q", fp)
	}
	if got := keyWords("not a key"); !strings.Contains(got, "could not be read") {
		t.Errorf("keyWords of garbage = %q", got)
	}
}

// fingerprintOf computes the expected fingerprint independently of
// keyFingerprint: SHA-256 over the re-marshalled SPKI.
func fingerprintOf(t *testing.T, pemKey string) string {
	t.Helper()
	block, _ := pem.Decode([]byte(pemKey))
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(der)
	return "SHA256:" + base64.RawStdEncoding.EncodeToString(sum[:])
}

func isMutating(method string) bool {
	return method == http.MethodPost || method == http.MethodPut || method == http.MethodDelete || method == http.MethodPatch
}

// A key the token routes accept is named by the same fingerprint however
// its PEM is written: with line breaks, with literal `\n` escapes (the Dfns
// pattern), or on one line.
func TestKeyWordsReadEveryPEMTheTokenRoutesAccept(t *testing.T) {
	pemKey := webauthntest.NewKeySigner("P256").PublicKeyPEM()
	want := keyWords(pemKey)
	if !strings.HasPrefix(want, "signing key EC P-256 SHA256:") {
		t.Fatalf("keyWords = %q", want)
	}
	lines := strings.Split(strings.TrimSpace(pemKey), "\n")
	for name, variant := range map[string]string{
		"escaped":  strings.ReplaceAll(pemKey, "\n", `\n`),
		"one line": lines[0] + strings.Join(lines[1:len(lines)-1], "") + lines[len(lines)-1],
	} {
		if _, err := webauthn.ParsePublicKeyPEM(variant); err != nil {
			t.Fatalf("%s: the token routes would refuse it: %v", name, err)
		}
		if got := keyWords(variant); got != want {
			t.Errorf("%s: keyWords = %q, want %q", name, got, want)
		}
	}
}

// TestTheAuditEntryKeepsTheApprovedSentenceWhenStateChangesMeanwhile:
// what the audit log says a person approved is what they read, not the
// request described again when the change runs. Here a second holder is
// given the permission between the approval and its use.
func TestTheAuditEntryKeepsTheApprovedSentenceWhenStateChangesMeanwhile(t *testing.T) {
	h := newHarness(t)
	owner := h.newActionUser("owner")
	readers := h.createPermission(t, owner.tok, owner.first, "readers", "Auth:Users:Read")
	bob, _, _ := h.member(t, "bob")
	h.assign(t, owner.tok, owner.first, readers, bob.User.ID)

	path, body := "/permissions/"+readers+"/archive", `{"isArchived":true}`
	shown, _ := h.actionSummaryOf(t, owner.tok, "PUT", path, body)
	ua := h.signAction(owner.tok, owner.first, "PUT", path, body)
	carol, _, _ := h.member(t, "carol")
	h.assign(t, owner.tok, owner.first, readers, carol.User.ID)
	now, _ := h.actionSummaryOf(t, owner.tok, "PUT", path, body)
	if now == shown {
		t.Fatalf("the sentence %q does not depend on the holders: the test proves nothing", shown)
	}
	mustStatus(t, h.signedDo(owner.tok, ua, "PUT", path, body), http.StatusOK)

	entries, err := h.st.ListAuditEntries(t.Context(), store.AuditQuery{OrgID: owner.inv.Org.ID, Start: time.Unix(0, 0), End: h.clock().Add(time.Hour), Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	last := entries[len(entries)-1]
	if last.ActionID != ua || last.Summary != shown {
		t.Errorf("audit entry of %s says %q; the approval of %s showed %q", last.ActionID, last.Summary, ua, shown)
	}
}
