package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"countersign/store"
	"countersign/webauthn"
	"countersign/webauthn/webauthntest"
)

// signedJSON signs body for method+path with signer under tok and sends it.
func (h *harness) signedJSON(t testing.TB, tok string, signer *webauthntest.KeySigner, method, path string, body any) response {
	t.Helper()
	payload := ""
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		payload = string(raw)
	}
	ua, refused := h.trySign(tok, signer, method, path, payload)
	if ua == "" {
		return refused // refused before any signature
	}
	return h.signedDo(tok, ua, method, path, payload)
}

func get(h *harness, tok, path string) response {
	return h.do("GET", path, nil, "Authorization", "Bearer "+tok)
}

// machine is an access token with the signer of its key.
type machine struct {
	id, tok string
	signer  *webauthntest.KeySigner
	body    map[string]any
}

// createPAT creates a PAT for the owner of tok, signed by signer.
func (h *harness) createPAT(t testing.TB, tok string, signer *webauthntest.KeySigner, extra map[string]any) (machine, response) {
	t.Helper()
	key := webauthntest.NewKeySigner("P256")
	body := map[string]any{"name": "ci", "publicKey": key.PublicKeyPEM()}
	for k, v := range extra {
		body[k] = v
	}
	r := h.signedJSON(t, tok, signer, "POST", "/auth/pats", body)
	if r.Status != http.StatusOK {
		return machine{}, r
	}
	m := r.json(t)
	key.CredID = m["credId"].(string)
	return machine{id: m["tokenId"].(string), tok: m["accessToken"].(string), signer: key, body: m}, r
}

// createServiceAccount creates a service account, signed by signer.
func (h *harness) createServiceAccount(t testing.TB, tok string, signer *webauthntest.KeySigner, extra map[string]any) (machine, response) {
	t.Helper()
	key := webauthntest.NewKeySigner("Ed25519")
	body := map[string]any{"name": "robot", "publicKey": key.PublicKeyPEM()}
	for k, v := range extra {
		body[k] = v
	}
	r := h.signedJSON(t, tok, signer, "POST", "/auth/service-accounts", body)
	if r.Status != http.StatusOK {
		return machine{}, r
	}
	m := r.json(t)
	at := m["accessTokens"].([]any)[0].(map[string]any)
	key.CredID = at["credId"].(string)
	return machine{id: m["userInfo"].(map[string]any)["userId"].(string), tok: at["accessToken"].(string), signer: key, body: m}, r
}

// createPermission creates a permission of ops, signed by the owner.
func (h *harness) createPermission(t testing.TB, tok string, signer *webauthntest.KeySigner, name string, ops ...string) string {
	t.Helper()
	r := h.signedJSON(t, tok, signer, "POST", "/permissions", map[string]any{"name": name, "operations": ops})
	mustStatus(t, r, http.StatusOK)
	return r.json(t)["id"].(string)
}

func (h *harness) assign(t testing.TB, tok string, signer *webauthntest.KeySigner, permID, identity string) {
	t.Helper()
	mustStatus(t, h.signedJSON(t, tok, signer, "POST", "/permissions/"+permID+"/assignments", map[string]any{"identityId": identity}), http.StatusOK)
}

// member registers a second, permission-less user of the owner's org.
func (h *harness) member(t testing.TB, name string) (webauthn.Invited, string, *webauthntest.KeySigner) {
	t.Helper()
	inv, signer := h.registerKey(name, "P256")
	return inv, h.loginKey(inv, signer), signer
}

func TestPersonalAccessTokens(t *testing.T) {
	h := newHarness(t)
	owner := h.newActionUser("owner")
	pat, r := h.createPAT(t, owner.tok, owner.first, nil)
	mustStatus(t, r, http.StatusOK)

	t.Run("creation answers the token once with the credId the signer needs", func(t *testing.T) {
		if pat.tok == "" || pat.signer.CredID == "" || pat.body["kind"] != "Pat" || pat.body["linkedUserId"] != owner.inv.User.ID {
			t.Fatalf("created PAT = %v", pat.body)
		}
	})
	t.Run("list and get never return the token", func(t *testing.T) {
		for _, path := range []string{"/auth/pats", "/auth/pats/" + pat.id} {
			r := get(h, owner.tok, path)
			mustStatus(t, r, http.StatusOK)
			if strings.Contains(string(r.Body), "accessToken") || strings.Contains(string(r.Body), pat.tok) {
				t.Fatalf("%s leaks the token: %s", path, r.Body)
			}
		}
	})
	t.Run("the PAT reads and signs with its own key", func(t *testing.T) {
		mustStatus(t, get(h, pat.tok, "/auth/pats/"+pat.id), http.StatusOK)
		r := h.signedJSON(t, pat.tok, pat.signer, "PUT", "/auth/pats/"+pat.id, map[string]any{"name": "renamed by itself"})
		mustStatus(t, r, http.StatusOK)
		if r.json(t)["name"] != "renamed by itself" {
			t.Fatalf("rename answered %s", r.Body)
		}
		v := get(h, owner.tok, "/auth/pats/"+pat.id).json(t)
		if v["lastUsedFor"] != "sign" || v["lastUsedAt"] == nil {
			t.Fatalf("last use = %v %v", v["lastUsedAt"], v["lastUsedFor"])
		}
	})
	t.Run("the PAT cannot sign with its user's key", func(t *testing.T) {
		r := h.do("POST", "/auth/action/init", map[string]string{"userActionPayload": "{}", "userActionHttpMethod": "PUT", "userActionHttpPath": "/auth/pats/" + pat.id + "/activate"}, "Authorization", "Bearer "+pat.tok)
		ch := r.json(t)
		if strings.Contains(string(r.Body), owner.first.CredID) {
			t.Fatal("the PAT is offered its user's credential")
		}
		cd, sig := owner.first.Sign(ch["challenge"].(string))
		mustStatus(t, h.do("POST", "/auth/action", keyAssertion(ch["challengeIdentifier"].(string), owner.first.CredID, cd, sig), "Authorization", "Bearer "+pat.tok), http.StatusUnauthorized)
	})
	t.Run("the user cannot sign or log in with the PAT's key", func(t *testing.T) {
		r := h.do("POST", "/auth/action/init", map[string]string{"userActionPayload": "{}", "userActionHttpMethod": "PUT", "userActionHttpPath": "/auth/pats/" + pat.id + "/activate"}, "Authorization", "Bearer "+owner.tok)
		ch := r.json(t)
		cd, sig := pat.signer.Sign(ch["challenge"].(string))
		mustStatus(t, h.do("POST", "/auth/action", keyAssertion(ch["challengeIdentifier"].(string), pat.signer.CredID, cd, sig), "Authorization", "Bearer "+owner.tok), http.StatusUnauthorized)
		li := h.loginInit(owner.inv.Org.ID, "owner")
		cd, sig = pat.signer.Sign(li.Challenge)
		mustStatus(t, h.do("POST", "/auth/login", keyAssertion(li.ChallengeIdentifier, pat.signer.CredID, cd, sig)), http.StatusUnauthorized)
	})
	t.Run("a PAT cannot create a PAT", func(t *testing.T) {
		_, r := h.createPAT(t, pat.tok, pat.signer, nil)
		mustStatus(t, r, http.StatusForbidden)
	})
	t.Run("a deactivated PAT is refused at once and works again once activated", func(t *testing.T) {
		mustStatus(t, h.signedJSON(t, owner.tok, owner.first, "PUT", "/auth/pats/"+pat.id+"/deactivate", map[string]any{}), http.StatusOK)
		mustStatus(t, get(h, pat.tok, "/auth/pats"), http.StatusUnauthorized)
		mustStatus(t, h.signedJSON(t, owner.tok, owner.first, "PUT", "/auth/pats/"+pat.id+"/activate", map[string]any{}), http.StatusOK)
		mustStatus(t, get(h, pat.tok, "/auth/pats"), http.StatusOK)
	})
	t.Run("an archived PAT is refused and cannot be activated", func(t *testing.T) {
		other, _ := h.createPAT(t, owner.tok, owner.first, map[string]any{"name": "short-lived"})
		mustStatus(t, h.signedJSON(t, owner.tok, owner.first, "DELETE", "/auth/pats/"+other.id, map[string]any{}), http.StatusOK)
		mustStatus(t, get(h, other.tok, "/auth/pats"), http.StatusUnauthorized)
		mustStatus(t, h.signedJSON(t, owner.tok, owner.first, "PUT", "/auth/pats/"+other.id+"/activate", map[string]any{}), http.StatusBadRequest)
	})
	t.Run("another user's PAT is not found", func(t *testing.T) {
		_, bobTok, bobKey := h.member(t, "bob")
		mustStatus(t, get(h, bobTok, "/auth/pats/"+pat.id), http.StatusNotFound)
		mustStatus(t, h.signedJSON(t, bobTok, bobKey, "PUT", "/auth/pats/"+pat.id+"/deactivate", map[string]any{}), http.StatusNotFound)
	})
	t.Run("a PAT expires", func(t *testing.T) {
		short, r := h.createPAT(t, owner.tok, owner.first, map[string]any{"secondsValid": 60})
		mustStatus(t, r, http.StatusOK)
		mustStatus(t, get(h, short.tok, "/auth/pats"), http.StatusOK)
		h.advance(61 * time.Second)
		mustStatus(t, get(h, short.tok, "/auth/pats"), http.StatusUnauthorized)
	})
	t.Run("bad input answers 400 and creates nothing", func(t *testing.T) {
		before := len(get(h, owner.tok, "/auth/pats").json(t)["items"].([]any))
		for _, body := range []map[string]any{
			{"name": "", "publicKey": pat.signer.PublicKeyPEM()},
			{"name": "   ", "publicKey": pat.signer.PublicKeyPEM()},
			{"name": strings.Repeat("x", 101), "publicKey": pat.signer.PublicKeyPEM()},
			{"name": "x", "publicKey": "not a key"},
			{"name": "x", "publicKey": pat.signer.PublicKeyPEM(), "daysValid": 0},
			{"name": "x", "publicKey": pat.signer.PublicKeyPEM(), "daysValid": 731},
			{"name": "x", "publicKey": pat.signer.PublicKeyPEM(), "daysValid": 1, "secondsValid": 1},
		} {
			mustStatus(t, h.signedJSON(t, owner.tok, owner.first, "POST", "/auth/pats", body), http.StatusBadRequest)
		}
		if after := len(get(h, owner.tok, "/auth/pats").json(t)["items"].([]any)); after != before {
			t.Fatalf("PATs went from %d to %d", before, after)
		}
	})
}

func TestNoEscalation(t *testing.T) {
	h := newHarness(t)
	owner := h.newActionUser("owner")
	bob, bobTok, bobKey := h.member(t, "bob")
	t.Run("a user without Auth:Pats:Create cannot create a PAT", func(t *testing.T) {
		_, r := h.createPAT(t, bobTok, bobKey, nil)
		mustStatus(t, r, http.StatusForbidden)
	})
	patsOnly := h.createPermission(t, owner.tok, owner.first, "pat makers", "Auth:Pats:Create")
	h.assign(t, owner.tok, owner.first, patsOnly, bob.User.ID)
	admin := h.assignmentsOf(t, owner.tok, owner.inv.User.ID)[0]
	t.Run("a PAT cannot be given more than its user holds", func(t *testing.T) {
		_, r := h.createPAT(t, bobTok, bobKey, map[string]any{"permissionId": admin})
		mustStatus(t, r, http.StatusForbidden)
	})
	t.Run("a user cannot grant what they lack", func(t *testing.T) {
		assigners := h.createPermission(t, owner.tok, owner.first, "assigners", "Permissions:Assign", "Permissions:Create")
		h.assign(t, owner.tok, owner.first, assigners, bob.User.ID)
		mustStatus(t, h.signedJSON(t, bobTok, bobKey, "POST", "/permissions/"+admin+"/assignments", map[string]any{"identityId": bob.User.ID}), http.StatusForbidden)
		mustStatus(t, h.signedJSON(t, bobTok, bobKey, "POST", "/permissions", map[string]any{"name": "mine", "operations": []string{"Auth:Users:Delete"}}), http.StatusForbidden)
		mustStatus(t, get(h, bobTok, "/auth/users"), http.StatusForbidden)
	})
	t.Run("a PAT holds its user's operations narrowed to its own", func(t *testing.T) {
		readers := h.createPermission(t, owner.tok, owner.first, "user readers", "Auth:Users:Read")
		pat, r := h.createPAT(t, owner.tok, owner.first, map[string]any{"permissionId": readers})
		mustStatus(t, r, http.StatusOK)
		mustStatus(t, get(h, pat.tok, "/auth/users"), http.StatusOK)
		mustStatus(t, get(h, pat.tok, "/permissions"), http.StatusForbidden)
	})
	t.Run("the owner's built-in permission and assignment are immutable", func(t *testing.T) {
		r := h.signedJSON(t, owner.tok, owner.first, "PUT", "/permissions/"+admin, map[string]any{"name": "renamed"})
		mustStatus(t, r, http.StatusBadRequest)
		mustStatus(t, h.signedJSON(t, owner.tok, owner.first, "PUT", "/permissions/"+admin+"/archive", map[string]any{"isArchived": true}), http.StatusBadRequest)
		as := get(h, owner.tok, "/permissions/"+admin+"/assignments").json(t)["items"].([]any)
		aid := as[0].(map[string]any)["id"].(string)
		mustStatus(t, h.signedJSON(t, owner.tok, owner.first, "DELETE", "/permissions/"+admin+"/assignments/"+aid, map[string]any{}), http.StatusBadRequest)
	})
	t.Run("an archived permission grants nothing", func(t *testing.T) {
		readers := h.createPermission(t, owner.tok, owner.first, "log readers", "Auth:Logs:Read")
		h.assign(t, owner.tok, owner.first, readers, bob.User.ID)
		mustStatus(t, get(h, bobTok, "/auth/action/logs"), http.StatusOK)
		mustStatus(t, h.signedJSON(t, owner.tok, owner.first, "PUT", "/permissions/"+readers+"/archive", map[string]any{"isArchived": true}), http.StatusOK)
		mustStatus(t, get(h, bobTok, "/auth/action/logs"), http.StatusForbidden)
	})
	t.Run("a revoked assignment grants nothing", func(t *testing.T) {
		readers := h.createPermission(t, owner.tok, owner.first, "user readers 2", "Auth:Users:Read")
		h.assign(t, owner.tok, owner.first, readers, bob.User.ID)
		mustStatus(t, get(h, bobTok, "/auth/users"), http.StatusOK)
		as := get(h, owner.tok, "/permissions/"+readers+"/assignments").json(t)["items"].([]any)
		aid := as[0].(map[string]any)["id"].(string)
		r := h.signedJSON(t, owner.tok, owner.first, "DELETE", "/permissions/"+readers+"/assignments/"+aid, map[string]any{})
		mustStatus(t, r, http.StatusNoContent)
		if len(r.Body) != 0 {
			t.Fatalf("204 with a body: %s", r.Body)
		}
		mustStatus(t, get(h, bobTok, "/auth/users"), http.StatusForbidden)
	})
}

// assignmentsOf returns the permission ids assigned to a user.
func (h *harness) assignmentsOf(t testing.TB, tok, userID string) []string {
	t.Helper()
	r := get(h, tok, "/auth/users/"+userID)
	mustStatus(t, r, http.StatusOK)
	var ids []string
	for _, a := range r.json(t)["permissionAssignments"].([]any) {
		ids = append(ids, a.(map[string]any)["permissionId"].(string))
	}
	return ids
}

func TestServiceAccounts(t *testing.T) {
	h := newHarness(t)
	owner := h.newActionUser("owner")
	inviters := h.createPermission(t, owner.tok, owner.first, "inviters", "Auth:Users:Create", "Auth:Users:Read", "Permissions:Create")
	sa, r := h.createServiceAccount(t, owner.tok, owner.first, map[string]any{"permissionId": inviters})
	mustStatus(t, r, http.StatusOK)
	t.Run("it signs with its key: invites a user and creates a permission", func(t *testing.T) {
		mustStatus(t, h.signedJSON(t, sa.tok, sa.signer, "POST", "/auth/users", map[string]any{"email": "new@example.com", "kind": "CustomerEmployee"}), http.StatusOK)
		mustStatus(t, h.signedJSON(t, sa.tok, sa.signer, "POST", "/permissions", map[string]any{"name": "made by robot", "operations": []string{"Auth:Users:Read"}}), http.StatusOK)
	})
	t.Run("it cannot sign with its creator's key", func(t *testing.T) {
		r := h.do("POST", "/auth/action/init", map[string]string{"userActionPayload": "{}", "userActionHttpMethod": "POST", "userActionHttpPath": "/permissions"}, "Authorization", "Bearer "+sa.tok)
		ch := r.json(t)
		cd, sig := owner.first.Sign(ch["challenge"].(string))
		mustStatus(t, h.do("POST", "/auth/action", keyAssertion(ch["challengeIdentifier"].(string), owner.first.CredID, cd, sig), "Authorization", "Bearer "+sa.tok), http.StatusUnauthorized)
	})
	t.Run("it cannot create a PAT or log in", func(t *testing.T) {
		_, r := h.createPAT(t, sa.tok, sa.signer, nil)
		mustStatus(t, r, http.StatusForbidden)
		li := h.loginInit(owner.inv.Org.ID, "robot@ServiceAccount")
		cd, sig := sa.signer.Sign(li.Challenge)
		mustStatus(t, h.do("POST", "/auth/login", keyAssertion(li.ChallengeIdentifier, sa.signer.CredID, cd, sig)), http.StatusUnauthorized)
	})
	t.Run("list and get never return its token", func(t *testing.T) {
		for _, path := range []string{"/auth/service-accounts", "/auth/service-accounts/" + sa.id} {
			r := get(h, owner.tok, path)
			mustStatus(t, r, http.StatusOK)
			if strings.Contains(string(r.Body), "accessToken\"") || strings.Contains(string(r.Body), sa.tok) {
				t.Fatalf("%s leaks the token: %s", path, r.Body)
			}
		}
	})
	t.Run("a service account cannot be given more than its creator holds", func(t *testing.T) {
		_, bobTok, bobKey := h.member(t, "bob")
		makers := h.createPermission(t, owner.tok, owner.first, "sa makers", "Auth:ServiceAccounts:Create")
		h.assign(t, owner.tok, owner.first, makers, h.userID(t, owner.tok, "bob"))
		_, r := h.createServiceAccount(t, bobTok, bobKey, map[string]any{"name": "bobbot", "permissionId": inviters})
		mustStatus(t, r, http.StatusForbidden)
	})
	t.Run("deactivating it stops its token at once", func(t *testing.T) {
		mustStatus(t, h.signedJSON(t, owner.tok, owner.first, "PUT", "/auth/service-accounts/"+sa.id+"/deactivate", nil), http.StatusOK)
		mustStatus(t, get(h, sa.tok, "/auth/users"), http.StatusUnauthorized)
		mustStatus(t, h.signedJSON(t, owner.tok, owner.first, "PUT", "/auth/service-accounts/"+sa.id+"/activate", map[string]any{}), http.StatusOK)
		mustStatus(t, get(h, sa.tok, "/auth/users"), http.StatusOK)
	})
	t.Run("archiving it stops its token", func(t *testing.T) {
		mustStatus(t, h.signedJSON(t, owner.tok, owner.first, "DELETE", "/auth/service-accounts/"+sa.id, map[string]any{}), http.StatusOK)
		mustStatus(t, get(h, sa.tok, "/auth/users"), http.StatusUnauthorized)
	})
}

// userID finds a user's id by username through the API.
func (h *harness) userID(t testing.TB, tok, username string) string {
	t.Helper()
	for _, u := range get(h, tok, "/auth/users?limit=500").json(t)["items"].([]any) {
		if m := u.(map[string]any); m["username"] == username {
			return m["userId"].(string)
		}
	}
	t.Fatalf("no user %s", username)
	return ""
}

func TestUsers(t *testing.T) {
	h := newHarness(t)
	owner := h.newActionUser("owner")
	t.Run("an invited user registers with the code in the answer", func(t *testing.T) {
		r := h.signedJSON(t, owner.tok, owner.first, "POST", "/auth/users", map[string]any{"email": "carol@example.com", "kind": "CustomerEmployee"})
		mustStatus(t, r, http.StatusOK)
		m := r.json(t)
		if m["isRegistered"] != false || !strings.Contains(m["registrationUrl"].(string), "/register?") {
			t.Fatalf("created user = %s", r.Body)
		}
		ri := h.do("POST", "/auth/registration/init", map[string]string{"orgId": owner.inv.Org.ID, "username": "carol@example.com", "registrationCode": m["registrationCode"].(string)})
		mustStatus(t, ri, http.StatusOK)
	})
	t.Run("bad input answers 400", func(t *testing.T) {
		for _, body := range []map[string]any{{"email": "not-an-email", "kind": "CustomerEmployee"},
			{"email": `"carol"@example.com`, "kind": "CustomerEmployee"}, // a username no mail would reach as written
			{"email": "x@example.com", "kind": "EndUser"}, {"kind": "CustomerEmployee"}} {
			mustStatus(t, h.signedJSON(t, owner.tok, owner.first, "POST", "/auth/users", body), http.StatusBadRequest)
		}
	})
	t.Run("a duplicate username answers 409", func(t *testing.T) {
		mustStatus(t, h.signedJSON(t, owner.tok, owner.first, "POST", "/auth/users", map[string]any{"email": "carol@example.com", "kind": "CustomerEmployee"}), http.StatusConflict)
	})
	t.Run("the list pages", func(t *testing.T) {
		for i := range 3 {
			mustStatus(t, h.signedJSON(t, owner.tok, owner.first, "POST", "/auth/users", map[string]any{"email": fmt.Sprintf("u%d@example.com", i), "kind": "CustomerEmployee"}), http.StatusOK)
		}
		seen := map[string]bool{}
		next, pages := "", 0
		for {
			path := "/auth/users?limit=2"
			if next != "" {
				path += "&paginationToken=" + next
			}
			m := get(h, owner.tok, path).json(t)
			for _, u := range m["items"].([]any) {
				id := u.(map[string]any)["userId"].(string)
				if seen[id] {
					t.Fatalf("user %s on two pages", id)
				}
				seen[id] = true
			}
			pages++
			n, _ := m["nextPageToken"].(string)
			if n == "" {
				break
			}
			next = n
		}
		// owner, carol and u0-u2: pages of 2, 2 and 1.
		if len(seen) != 5 || pages != 3 {
			t.Fatalf("%d users over %d pages, want 5 over 3", len(seen), pages)
		}
		mustStatus(t, get(h, owner.tok, "/auth/users?limit=0"), http.StatusBadRequest)
		mustStatus(t, get(h, owner.tok, "/auth/users?paginationToken=us-nope"), http.StatusBadRequest)
	})
	t.Run("a deactivated user's tokens and PATs stop at once", func(t *testing.T) {
		dave, daveTok, daveKey := h.member(t, "dave")
		patMakers := h.createPermission(t, owner.tok, owner.first, "pat makers", "Auth:Pats:Create")
		h.assign(t, owner.tok, owner.first, patMakers, dave.User.ID)
		pat, r := h.createPAT(t, daveTok, daveKey, nil)
		mustStatus(t, r, http.StatusOK)
		mustStatus(t, h.signedJSON(t, owner.tok, owner.first, "PUT", "/auth/users/"+dave.User.ID+"/deactivate", map[string]any{}), http.StatusOK)
		mustStatus(t, get(h, daveTok, "/auth/pats"), http.StatusUnauthorized)
		mustStatus(t, get(h, pat.tok, "/auth/pats"), http.StatusUnauthorized)
		li := h.loginInit(owner.inv.Org.ID, "dave")
		cd, sig := daveKey.Sign(li.Challenge)
		mustStatus(t, h.do("POST", "/auth/login", keyAssertion(li.ChallengeIdentifier, daveKey.CredID, cd, sig)), http.StatusUnauthorized)
	})
	t.Run("nobody deactivates themselves", func(t *testing.T) {
		mustStatus(t, h.signedJSON(t, owner.tok, owner.first, "PUT", "/auth/users/"+owner.inv.User.ID+"/deactivate", map[string]any{}), http.StatusBadRequest)
	})
}

func TestOtherOrganisationsAreNotFound(t *testing.T) {
	h := newHarness(t)
	owner := h.newActionUser("owner")
	pat, _ := h.createPAT(t, owner.tok, owner.first, nil)
	admin := h.assignmentsOf(t, owner.tok, owner.inv.User.ID)[0]
	// A second organisation with its own owner.
	inv, err := h.cs.NewInvitation(webauthn.InviteRequest{Username: "eve"})
	if err != nil {
		t.Fatal(err)
	}
	org := store.Org{ID: store.NewID("or"), Name: "other", CreatedAt: h.clock()}
	inv.Invitation.Org, inv.Org = &org, org
	inv.Invitation.User.OrgID, inv.User.OrgID = org.ID, org.ID
	perm := store.Permission{ID: store.NewID("pm"), OrgID: org.ID, Name: webauthn.FullAdminPermission, Operations: webauthn.FullAdminOperations, IsImmutable: true, CreatedAt: h.clock(), UpdatedAt: h.clock()}
	inv.Invitation.Permission = &perm
	inv.Invitation.Assignment = &store.Assignment{ID: store.NewID("as"), OrgID: org.ID, PermissionID: perm.ID, IdentityID: inv.User.ID, CreatedAt: h.clock(), UpdatedAt: h.clock()}
	if err := h.st.Invite(context.Background(), inv.Invitation); err != nil {
		t.Fatal(err)
	}
	ri := h.registrationInit(inv)
	eveKey := webauthntest.NewKeySigner("P256")
	mustStatus(t, h.register(ri.Temp, keyCredential(eveKey, ri.Challenge)), http.StatusOK)
	eveTok := h.loginKey(inv, eveKey)

	for _, path := range []string{"/auth/users/" + owner.inv.User.ID, "/permissions/" + admin, "/permissions/" + admin + "/assignments", "/auth/pats/" + pat.id} {
		t.Run("GET "+path+" of another org is not found", func(t *testing.T) {
			mustStatus(t, get(h, eveTok, path), http.StatusNotFound)
		})
	}
	t.Run("assigning to another org's identity is not found", func(t *testing.T) {
		mine := h.createPermission(t, eveTok, eveKey, "eve's", "Auth:Users:Read")
		mustStatus(t, h.signedJSON(t, eveTok, eveKey, "POST", "/permissions/"+mine+"/assignments", map[string]any{"identityId": owner.inv.User.ID}), http.StatusNotFound)
		mustStatus(t, h.signedJSON(t, eveTok, eveKey, "POST", "/permissions/"+mine+"/assignments", map[string]any{"identityId": pat.id}), http.StatusNotFound)
	})
	t.Run("a summary never names another org's user", func(t *testing.T) {
		r := h.do("POST", "/auth/action/init", map[string]string{"userActionPayload": "{}", "userActionHttpMethod": "PUT", "userActionHttpPath": "/auth/users/" + owner.inv.User.ID + "/deactivate"}, "Authorization", "Bearer "+eveTok)
		if got, _ := r.json(t)["summary"].(string); !strings.HasPrefix(got, "Deactivate the user "+owner.inv.User.ID+":") {
			t.Fatalf("summary = %q", got)
		}
		r = h.do("POST", "/auth/action/init", map[string]string{"userActionPayload": "{}", "userActionHttpMethod": "PUT", "userActionHttpPath": "/auth/users/" + owner.inv.User.ID + "/deactivate"}, "Authorization", "Bearer "+owner.tok)
		if got, _ := r.json(t)["summary"].(string); !strings.HasPrefix(got, `Deactivate the user "owner" (`+owner.inv.User.ID+`):`) {
			t.Fatalf("summary in the same org = %q", got)
		}
	})
	t.Run("deactivating another org's user is not found", func(t *testing.T) {
		mustStatus(t, h.signedJSON(t, eveTok, eveKey, "PUT", "/auth/users/"+owner.inv.User.ID+"/deactivate", map[string]any{}), http.StatusNotFound)
	})
}

// A signed write that fails inside its transaction rolls back the token
// use it carried: the use is recorded after the request all the same.
func TestATokenUseIsRecordedWhenItsSignedWriteFails(t *testing.T) {
	h := newHarness(t)
	owner := h.newActionUser("owner")
	inviters := h.createPermission(t, owner.tok, owner.first, "Inviters", "Auth:Users:Create")
	sa, r := h.createServiceAccount(t, owner.tok, owner.first, map[string]any{"permissionId": inviters})
	mustStatus(t, r, http.StatusOK)
	h.invite("taken@example.com")
	body := `{"email":"taken@example.com","kind":"CustomerEmployee"}`
	ua := h.signAction(sa.tok, sa.signer, "POST", "/auth/users", body) // /auth/action records a use now
	h.advance(2 * time.Minute)
	mustStatus(t, h.signedDo(sa.tok, ua, "POST", "/auth/users", body), http.StatusConflict)
	at, err := h.st.GetAccessToken(t.Context(), sa.body["accessTokens"].([]any)[0].(map[string]any)["tokenId"].(string))
	if err != nil {
		t.Fatal(err)
	}
	if at.LastUsedAt == nil || !at.LastUsedAt.Equal(h.clock()) || at.LastUsedFor != store.UseSign {
		t.Fatalf("last use = %v %q, want the failed request's, %v", at.LastUsedAt, at.LastUsedFor, h.clock())
	}
}
