package server

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"countersign/store"
)

func TestAPendingInvitationIsIssuedAgain(t *testing.T) {
	h := newHarness(t)
	owner := h.newActionUser("owner")
	carol := h.invite("carol@example.com")

	r := h.signedJSON(t, owner.tok, owner.first, "POST", "/auth/users/"+carol.User.ID+"/invitation", map[string]any{})
	mustStatus(t, r, http.StatusOK)
	m := r.json(t)
	link, _ := m["registrationUrl"].(string)
	u, err := url.Parse(link)
	if err != nil || u.Query().Get("code") == "" || u.Query().Get("code") == carol.Code || m["registrationCodeExpiresAt"] == "" {
		t.Fatalf("new invitation = %v", m)
	}

	t.Run("the old link stops working", func(t *testing.T) {
		r := h.do("POST", "/auth/registration/init", map[string]string{"orgId": carol.Org.ID, "username": carol.User.Username, "registrationCode": carol.Code})
		mustStatus(t, r, http.StatusUnauthorized)
	})
	t.Run("the new link works", func(t *testing.T) {
		r := h.do("POST", "/auth/registration/init", map[string]string{"orgId": carol.Org.ID, "username": carol.User.Username, "registrationCode": u.Query().Get("code")})
		mustStatus(t, r, http.StatusOK)
	})
	t.Run("a registered user has no invitation to issue, and nothing is written", func(t *testing.T) {
		before := len(h.orgAudit(t, owner.inv.Org.ID))
		r := h.signedJSON(t, owner.tok, owner.first, "POST", "/auth/users/"+owner.inv.User.ID+"/invitation", map[string]any{})
		mustStatus(t, r, http.StatusBadRequest)
		if code := r.errorCode(t); code != "not_invited" {
			t.Errorf("code = %q, want not_invited", code)
		}
		if after := len(h.orgAudit(t, owner.inv.Org.ID)); after != before {
			t.Errorf("audit entries %d -> %d after a refused request", before, after)
		}
	})
	t.Run("someone without Auth:Users:Create is refused", func(t *testing.T) {
		_, tok, signer := h.member(t, "mallory@example.com")
		r := h.signedJSON(t, tok, signer, "POST", "/auth/users/"+carol.User.ID+"/invitation", map[string]any{})
		if r.Status != http.StatusForbidden {
			t.Errorf("status = %d, want 403; body %s", r.Status, r.Body)
		}
	})
}

// orgAudit lists an organisation's whole audit log, oldest first.
func (h *harness) orgAudit(t *testing.T, orgID string) []store.AuditEntry {
	t.Helper()
	es, err := h.st.ListAuditEntries(t.Context(), store.AuditQuery{OrgID: orgID, Start: time.Unix(0, 0), End: h.clock().Add(time.Hour), Limit: 10000})
	if err != nil {
		t.Fatal(err)
	}
	return es
}
