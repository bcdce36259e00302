package server

import (
	"net/http"
	"testing"

	"countersign/webauthn"
	"countersign/webauthn/webauthntest"
)

// assignmentID returns the id of permID's assignment to identity.
func (h *harness) assignmentID(t testing.TB, tok, permID, identity string) string {
	t.Helper()
	r := get(h, tok, "/permissions/"+permID+"/assignments")
	mustStatus(t, r, http.StatusOK)
	for _, it := range r.json(t)["items"].([]any) {
		a := it.(map[string]any)
		if a["identityId"] == identity {
			return a["id"].(string)
		}
	}
	t.Fatalf("no assignment of %s to %s", permID, identity)
	return ""
}

func (h *harness) revoke(t testing.TB, tok string, signer *webauthntest.KeySigner, permID, assignmentID string) response {
	t.Helper()
	return h.signedJSON(t, tok, signer, "DELETE", "/permissions/"+permID+"/assignments/"+assignmentID, map[string]any{})
}

// A scoped PAT never falls back to its user's operations (finding 1).
func TestScopedPATHoldsNothingOnceItsAssignmentsAreGone(t *testing.T) {
	for _, how := range []string{"revoked by the PAT itself", "revoked by its user", "revoked by a holder of Permissions:Revoke", "its permission archived"} {
		t.Run(how, func(t *testing.T) {
			h := newHarness(t)
			owner := h.newActionUser("owner")
			readers := h.createPermission(t, owner.tok, owner.first, "user readers", "Auth:Users:Read", "Permissions:Revoke", "Permissions:Assignments:Read")
			pat, r := h.createPAT(t, owner.tok, owner.first, map[string]any{"permissionId": readers})
			mustStatus(t, r, http.StatusOK)
			if pat.body["scope"] != "AssignedOnly" {
				t.Fatalf("a PAT created with a permission has scope %v", pat.body["scope"])
			}
			mustStatus(t, get(h, pat.tok, "/auth/users"), http.StatusOK)
			mustStatus(t, get(h, pat.tok, "/auth/service-accounts"), http.StatusForbidden)

			aid := h.assignmentID(t, owner.tok, readers, pat.id)
			switch how {
			case "revoked by the PAT itself":
				mustStatus(t, h.revoke(t, pat.tok, pat.signer, readers, aid), http.StatusNoContent)
			case "revoked by its user":
				mustStatus(t, h.revoke(t, owner.tok, owner.first, readers, aid), http.StatusNoContent)
			case "revoked by a holder of Permissions:Revoke":
				bob, bobTok, bobKey := h.member(t, "bob")
				revokers := h.createPermission(t, owner.tok, owner.first, "revokers", "Permissions:Revoke", "Auth:Users:Read", "Permissions:Assignments:Read")
				h.assign(t, owner.tok, owner.first, revokers, bob.User.ID)
				mustStatus(t, h.revoke(t, bobTok, bobKey, readers, aid), http.StatusNoContent)
			case "its permission archived":
				mustStatus(t, h.signedJSON(t, owner.tok, owner.first, "PUT", "/permissions/"+readers+"/archive", map[string]any{"isArchived": true}), http.StatusOK)
			}
			// Before the fix it held every operation of the owner here.
			for _, path := range []string{"/auth/users", "/auth/service-accounts", "/permissions", "/auth/action/logs"} {
				mustStatus(t, get(h, pat.tok, path), http.StatusForbidden)
			}
			_, r = h.createPAT(t, pat.tok, pat.signer, nil)
			mustStatus(t, r, http.StatusForbidden)
		})
	}
}

func TestUnscopedPATHoldsItsUsersOperations(t *testing.T) {
	h := newHarness(t)
	owner := h.newActionUser("owner")
	pat, r := h.createPAT(t, owner.tok, owner.first, nil)
	mustStatus(t, r, http.StatusOK)
	if pat.body["scope"] != "AllUserOperations" {
		t.Fatalf("a PAT created without a permission has scope %v", pat.body["scope"])
	}
	mustStatus(t, get(h, pat.tok, "/auth/users"), http.StatusOK)
	readers := h.createPermission(t, owner.tok, owner.first, "readers", "Auth:Users:Read")
	t.Run("assigning a permission to it is refused: it would not narrow it", func(t *testing.T) {
		r := h.signedJSON(t, owner.tok, owner.first, "POST", "/permissions/"+readers+"/assignments", map[string]any{"identityId": pat.id})
		mustStatus(t, r, http.StatusBadRequest)
		if r.errorCode(t) != "pat_not_scoped" {
			t.Fatalf("code = %s", r.errorCode(t))
		}
		mustStatus(t, get(h, pat.tok, "/permissions"), http.StatusOK)
	})
}

// Authority over others (finding 2).
func TestNobodyChangesSomeoneStronger(t *testing.T) {
	h := newHarness(t)
	owner := h.newActionUser("owner")
	ownerID := owner.inv.User.ID
	admin := h.assignmentsOf(t, owner.tok, ownerID)[0]
	bob, bobTok, bobKey := h.member(t, "bob")
	grant := func(name string, ops ...string) {
		t.Helper()
		h.assign(t, owner.tok, owner.first, h.createPermission(t, owner.tok, owner.first, name, ops...), bob.User.ID)
	}

	t.Run("a user holding only Auth:Users:Delete cannot archive the owner", func(t *testing.T) {
		grant("deleters", "Auth:Users:Delete")
		r := h.signedJSON(t, bobTok, bobKey, "DELETE", "/auth/users/"+ownerID, map[string]any{})
		mustStatus(t, r, http.StatusForbidden)
		if r.errorCode(t) != "insufficient_authority" {
			t.Fatalf("code = %s", r.errorCode(t))
		}
		if u := h.user(ownerID); !u.IsActive || u.IsArchived {
			t.Fatalf("the owner was changed: %+v", u)
		}
	})
	t.Run("nor deactivate, update or re-activate them", func(t *testing.T) {
		grant("managers", "Auth:Users:Deactivate", "Auth:Users:Update", "Auth:Users:Activate")
		for _, req := range []struct{ method, path string }{
			{"PUT", "/auth/users/" + ownerID + "/deactivate"}, {"PUT", "/auth/users/" + ownerID + "/activate"},
		} {
			mustStatus(t, h.signedJSON(t, bobTok, bobKey, req.method, req.path, map[string]any{}), http.StatusForbidden)
		}
		mustStatus(t, h.signedJSON(t, bobTok, bobKey, "PUT", "/auth/users/"+ownerID, map[string]any{"isSSORequired": true}), http.StatusForbidden)
		if u := h.user(ownerID); !u.IsActive || u.IsSSORequired {
			t.Fatalf("the owner was changed: %+v", u)
		}
	})
	t.Run("a holder of Permissions:Revoke cannot strip a stronger administrator", func(t *testing.T) {
		carol, _, _ := h.member(t, "carol")
		h.assign(t, owner.tok, owner.first, admin, carol.User.ID)
		grant("revokers", "Permissions:Revoke", "Permissions:Assignments:Read")
		aid := h.assignmentID(t, owner.tok, admin, carol.User.ID)
		mustStatus(t, h.revoke(t, bobTok, bobKey, admin, aid), http.StatusForbidden)
		if len(h.assignmentsOf(t, owner.tok, carol.User.ID)) != 1 {
			t.Fatal("carol lost full administration")
		}
	})
	t.Run("a holder of Permissions:Update cannot shrink a permission a stronger identity depends on", func(t *testing.T) {
		dave, daveTok, _ := h.member(t, "dave")
		ops := []string{"Auth:Users:Read", "Auth:Logs:Read", "Permissions:Read"}
		shared := h.createPermission(t, owner.tok, owner.first, "auditors", ops...)
		h.assign(t, owner.tok, owner.first, shared, dave.User.ID)
		grant("updaters", "Permissions:Update", "Auth:Users:Read", "Permissions:Read")
		// Dave holds Auth:Logs:Read, which bob does not: bob may not take
		// anything from him, even what bob holds himself.
		r := h.signedJSON(t, bobTok, bobKey, "PUT", "/permissions/"+shared, map[string]any{"operations": []string{"Auth:Users:Read"}})
		mustStatus(t, r, http.StatusForbidden)
		mustStatus(t, get(h, daveTok, "/auth/action/logs"), http.StatusOK)
		grant("archivers", "Permissions:Archive")
		mustStatus(t, h.signedJSON(t, bobTok, bobKey, "PUT", "/permissions/"+shared+"/archive", map[string]any{"isArchived": true}), http.StatusForbidden)
		mustStatus(t, get(h, daveTok, "/permissions"), http.StatusOK)
	})
	t.Run("a change that takes nothing from a stronger holder is allowed", func(t *testing.T) {
		shared := h.createPermission(t, owner.tok, owner.first, "readers of users", "Auth:Users:Read")
		h.assign(t, owner.tok, owner.first, shared, ownerID) // the owner holds it twice over
		mustStatus(t, h.signedJSON(t, bobTok, bobKey, "PUT", "/permissions/"+shared, map[string]any{"name": "renamed"}), http.StatusOK)
		mustStatus(t, h.signedJSON(t, bobTok, bobKey, "PUT", "/permissions/"+shared+"/archive", map[string]any{"isArchived": true}), http.StatusOK)
	})
	t.Run("an administrator may change a weaker user", func(t *testing.T) {
		weak, _, _ := h.member(t, "erin")
		mustStatus(t, h.signedJSON(t, owner.tok, owner.first, "PUT", "/auth/users/"+weak.User.ID+"/deactivate", map[string]any{}), http.StatusOK)
	})
}

func TestServiceAccountsStrongerThanTheCallerAreProtected(t *testing.T) {
	h := newHarness(t)
	owner := h.newActionUser("owner")
	admin := h.assignmentsOf(t, owner.tok, owner.inv.User.ID)[0]
	sa, r := h.createServiceAccount(t, owner.tok, owner.first, map[string]any{"permissionId": admin})
	mustStatus(t, r, http.StatusOK)
	bob, bobTok, bobKey := h.member(t, "bob")
	h.assign(t, owner.tok, owner.first, h.createPermission(t, owner.tok, owner.first, "sa managers",
		"Auth:ServiceAccounts:Deactivate", "Auth:ServiceAccounts:Delete", "Auth:ServiceAccounts:Update", "Auth:ServiceAccounts:Read"), bob.User.ID)
	for _, req := range []struct {
		method, path string
		body         map[string]any
	}{
		{"PUT", "/auth/service-accounts/" + sa.id + "/deactivate", map[string]any{}},
		{"DELETE", "/auth/service-accounts/" + sa.id, map[string]any{}},
		{"PUT", "/auth/service-accounts/" + sa.id, map[string]any{"name": "hijacked"}},
	} {
		mustStatus(t, h.signedJSON(t, bobTok, bobKey, req.method, req.path, req.body), http.StatusForbidden)
	}
	mustStatus(t, get(h, sa.tok, "/auth/users"), http.StatusOK)
}

func TestTheLastAdministratorStays(t *testing.T) {
	h := newHarness(t)
	owner := h.newActionUser("owner")
	ownerID := owner.inv.User.ID
	admin := h.assignmentsOf(t, owner.tok, ownerID)[0]
	carol, carolTok, carolKey := h.member(t, "carol")
	h.assign(t, owner.tok, owner.first, admin, carol.User.ID)

	// With a second administrator, one of them may go.
	mustStatus(t, h.signedJSON(t, carolTok, carolKey, "PUT", "/auth/users/"+ownerID+"/deactivate", map[string]any{}), http.StatusOK)

	// Dave holds every operation through a permission of his own, so he
	// has authority over carol, but she is now the last administrator.
	dave, daveTok, daveKey := h.member(t, "dave")
	all := h.createPermission(t, carolTok, carolKey, "everything", webauthn.FullAdminOperations...)
	h.assign(t, carolTok, carolKey, all, dave.User.ID)
	for _, req := range []struct{ method, path string }{
		{"PUT", "/auth/users/" + carol.User.ID + "/deactivate"}, {"DELETE", "/auth/users/" + carol.User.ID},
	} {
		r := h.signedJSON(t, daveTok, daveKey, req.method, req.path, map[string]any{})
		mustStatus(t, r, http.StatusBadRequest)
		if r.errorCode(t) != "last_admin" {
			t.Fatalf("%s %s: code %s", req.method, req.path, r.errorCode(t))
		}
	}
	r := h.revoke(t, daveTok, daveKey, admin, h.assignmentID(t, carolTok, admin, carol.User.ID))
	mustStatus(t, r, http.StatusBadRequest)
	if u := h.user(carol.User.ID); !u.IsActive || len(h.assignmentsOf(t, carolTok, carol.User.ID)) != 1 {
		t.Fatalf("the last administrator was changed: %+v", u)
	}
}

// A PAT manages only itself; only people manage PATs (finding 2).
func TestAPATManagesOnlyItself(t *testing.T) {
	h := newHarness(t)
	owner := h.newActionUser("owner")
	pat, _ := h.createPAT(t, owner.tok, owner.first, nil)
	other, _ := h.createPAT(t, owner.tok, owner.first, map[string]any{"name": "other"})
	mustStatus(t, h.signedJSON(t, owner.tok, owner.first, "PUT", "/auth/pats/"+other.id+"/deactivate", map[string]any{}), http.StatusOK)

	list := get(h, pat.tok, "/auth/pats")
	mustStatus(t, list, http.StatusOK)
	items := list.json(t)["items"].([]any)
	if len(items) != 1 || items[0].(map[string]any)["tokenId"] != pat.id {
		t.Fatalf("a PAT lists %v, want only itself", items)
	}
	mustStatus(t, get(h, pat.tok, "/auth/pats/"+other.id), http.StatusNotFound)
	for _, req := range []struct {
		method, path string
		body         map[string]any
	}{
		{"PUT", "/auth/pats/" + other.id + "/activate", map[string]any{}},
		{"PUT", "/auth/pats/" + other.id, map[string]any{"name": "renamed"}},
		{"DELETE", "/auth/pats/" + other.id, map[string]any{}},
	} {
		mustStatus(t, h.signedJSON(t, pat.tok, pat.signer, req.method, req.path, req.body), http.StatusNotFound)
	}
	if at, _ := h.st.GetAccessToken(t.Context(), other.id); at.IsActive || at.IsArchived || at.Name != "other" {
		t.Fatalf("the other PAT was changed: %+v", at)
	}
	mustStatus(t, h.signedJSON(t, pat.tok, pat.signer, "PUT", "/auth/pats/"+pat.id, map[string]any{"name": "itself"}), http.StatusOK)
}
