package server

import (
	"context"
	"fmt"
	"net/http"
	"testing"

	"countersign/metrics"
	"countersign/store"
)

// The durable commits each operation may cost (issue 12): each is an fsync
// of SQLite's WAL, and the operations are on the critical path of every
// write their users make.
const (
	loginCommits        = 1 // the challenge spent, the counter and the token
	signedActionCommits = 2 // the user action with its challenge and counter; the change with its audit entry
	readCommits         = 0
)

// commitsOf runs op on h and returns how many transactions SQLite committed
// meanwhile: its commit hook counts them on every connection of the store,
// whichever method, statement or connection makes them.
func commitsOf(h *harness, op func()) int64 {
	before := h.st.Commits()
	op()
	return h.st.Commits() - before
}

func withinBudget(t *testing.T, what string, got, budget int64) {
	t.Helper()
	if got > budget {
		t.Errorf("%s committed %d transactions, budget %d", what, got, budget)
	}
}

func TestCommitBudget(t *testing.T) {
	h := newHarness(t)
	inv, signer := h.registerKey("alice", "P256")
	pinv, auth := h.registerFido2("paula")
	tok := h.loginKey(inv, signer)
	uuid := h.credentials(inv.User.ID)[0].ID

	for i := range 3 { // the first and the later ones alike
		withinBudget(t, fmt.Sprintf("key login %d", i), commitsOf(h, func() { h.loginKey(inv, signer) }), loginCommits)
		withinBudget(t, fmt.Sprintf("passkey login %d", i), commitsOf(h, func() { h.loginFido2(pinv, auth) }), loginCommits)
		body := fmt.Sprintf(`{"credentialUuid":%q,"name":"name %d"}`, uuid, i)
		withinBudget(t, fmt.Sprintf("signed action %d", i), commitsOf(h, func() {
			ua := h.signAction(tok, signer, "PUT", "/auth/credentials/name", body)
			mustStatus(t, h.signedDo(tok, ua, "PUT", "/auth/credentials/name", body), http.StatusOK)
		}), signedActionCommits)
		withinBudget(t, fmt.Sprintf("read %d", i), commitsOf(h, func() {
			mustStatus(t, get(h, tok, "/auth/credentials"), http.StatusOK)
		}), readCommits)
	}

	// A personal access token signs with its own key; its last use is
	// recorded in the transactions the action makes anyway, but the init
	// request writes nothing else: there the use is recorded on its own
	// once a minute per purpose (tokenUseResolution), so the first action
	// of a token that has not signed for a minute costs one more commit.
	pat, r := h.createPAT(t, tok, signer, nil)
	mustStatus(t, r, http.StatusOK)
	for i := range 3 {
		body := fmt.Sprintf(`{"name":"pat %d"}`, i)
		budget := int64(signedActionCommits)
		if i == 0 {
			budget++
		}
		withinBudget(t, fmt.Sprintf("signed action by a PAT %d", i), commitsOf(h, func() {
			ua := h.signAction(pat.tok, pat.signer, "PUT", "/auth/pats/"+pat.id, body)
			mustStatus(t, h.signedDo(pat.tok, ua, "PUT", "/auth/pats/"+pat.id, body), http.StatusOK)
		}), budget)
	}
}

// extraCommit is the store with one more commit in every login and action:
// what a change that forgot the budget would do.
type extraCommit struct{ *metrics.Store }

func (e extraCommit) RecordAssertion(ctx context.Context, r store.AssertionRecord) error {
	if err := e.Store.Ping(ctx); err != nil {
		return err
	}
	return e.Store.RecordAssertion(ctx, r)
}

// The budget test fails when an operation commits once more.
func TestCommitBudgetCatchesAnExtraCommit(t *testing.T) {
	h := newHarness(t)
	inv, signer := h.registerKey("alice", "P256")
	h.srv = h.serverOn(t, extraCommit{h.timed}, testSealKey)
	got := commitsOf(h, func() { h.loginKey(inv, signer) })
	if got <= loginCommits {
		t.Fatalf("a login with an extra commit committed %d transactions, which the budget of %d lets through", got, loginCommits)
	}
}
