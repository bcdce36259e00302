package server

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"countersign/store"
	"countersign/webauthn/webauthntest"
)

func TestActivityPagesNeverSplitAMillisecond(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	at := func(ms int) activityItem { return activityItem{at: t0.Add(time.Duration(ms) * time.Millisecond)} }
	items := []activityItem{at(9), at(8), at(7), at(7), at(7), at(6)}
	page, next := pageOfItems(items, 3)
	if len(page) != 2 || !next.Equal(t0.Add(8*time.Millisecond)) {
		t.Errorf("page of 3 = %d items, next before %v; want 2 items (the 7s go together) and next before 8 ms", len(page), next)
	}
	page, next = pageOfItems(items[:3], 3)
	if len(page) != 3 || !next.IsZero() {
		t.Errorf("a short list is one page: %d, %v", len(page), next)
	}
}

func TestActivityFiltersPagesAndExports(t *testing.T) {
	h := newHarness(t)
	alice := h.signInConsole("alice")
	h.advance(time.Second)
	h.mustStatus(h.signed(alice, "PUT", apiCredentialsName, map[string]string{"credentialUuid": h.credentials(alice.inv.User.ID)[0].ID, "name": "alice key"}), http.StatusOK)
	h.advance(time.Second)
	// A refused sign-in with alice's credential id.
	li := h.loginInit(alice.inv.Org.ID, "alice")
	cd, sig := webauthntest.NewKeySigner("P256").Sign(li.Challenge)
	mustStatus(t, h.do("POST", "/auth/login", keyAssertion(li.ChallengeIdentifier, alice.signer.CredID, cd, sig)), http.StatusUnauthorized)
	h.advance(time.Second)
	bob := h.signInConsole("bob")

	count := func(body, kind string) int { return strings.Count(body, `data-kind="`+kind+`"`) }
	for query, want := range map[string][3]int{ // approvals, sign-ins, refused
		"":                                 {1, 4, 1},
		"?kind=approvals":                  {1, 0, 0},
		"?kind=sign-ins":                   {0, 4, 0},
		"?kind=failed":                     {0, 0, 1},
		"?person=" + alice.inv.User.ID:     {1, 2, 1},
		"?from=2026-03-02":                 {0, 0, 0},
		"?to=2026-02-28":                   {0, 0, 0},
		"?from=2026-03-01&to=2026-03-01":   {1, 4, 1},
		"?from=2026-03-01&tz=-720":         {1, 4, 1}, // 1 Mar in UTC-12 starts at 12:00 UTC
		"?from=2026-03-03&tz=720":          {0, 0, 0}, // 3 Mar in UTC+12 starts at 12:00 UTC on 2 Mar
		"?kind=nonsense&person=not-a-user": {1, 4, 1},
	} {
		body := string(h.page(alice, pathActivity+query).Body)
		got := [3]int{count(body, "approval"), count(body, "sign-in"), count(body, "failed")}
		if got != want {
			t.Errorf("activity%s shows %v (approvals, sign-ins, refused), want %v", query, got, want)
		}
	}

	t.Run("someone without Auth:Logs:Read sees only their own, whatever the query", func(t *testing.T) {
		body := string(h.page(bob, pathActivity+"?person="+alice.inv.User.ID).Body)
		if strings.Contains(body, "alice key") || count(body, "failed") != 0 || count(body, "sign-in") != 2 {
			t.Errorf("bob's activity with person=alice shows alice's entries")
		}
		body = string(h.do("GET", pathActivityExport+"?format=json&person="+alice.inv.User.ID, nil, "Accept", "text/html", "Cookie", bob.cookie).Body)
		if strings.Contains(body, alice.inv.User.ID) {
			t.Errorf("bob's export holds alice's entries: %s", body)
		}
	})

	t.Run("the export holds the filtered entries, signatures included", func(t *testing.T) {
		r := h.do("GET", pathActivityExport+"?format=json&kind=approvals", nil, "Accept", "text/html", "Cookie", alice.cookie)
		mustStatus(t, r, http.StatusOK)
		if cd := r.Header.Get("Content-Disposition"); !strings.HasPrefix(cd, "attachment;") {
			t.Errorf("Content-Disposition = %q", cd)
		}
		var f exportFile
		if err := json.Unmarshal(r.Body, &f); err != nil {
			t.Fatal(err)
		}
		if len(f.Entries) != 1 || f.Entries[0].Signature == "" || f.Entries[0].PublicKey == "" || !strings.Contains(f.Entries[0].Summary, "alice key") {
			t.Errorf("JSON export = %+v", f)
		}
		r = h.do("GET", pathActivityExport+"?format=csv", nil, "Accept", "text/html", "Cookie", alice.cookie)
		mustStatus(t, r, http.StatusOK)
		lines := strings.Split(strings.TrimSpace(string(r.Body)), "\n")
		if len(lines) != 7 || !strings.HasPrefix(lines[0], "Time,Kind,Entry ID") || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/csv") {
			t.Errorf("CSV export = %q", r.Body)
		}
	})

	t.Run("a long log comes a page at a time", func(t *testing.T) {
		for i := range activityPageSize + 5 {
			h.advance(time.Second)
			e := store.SignInEvent{ID: store.NewID("si"), OrgID: alice.inv.Org.ID, UserID: alice.inv.User.ID, Username: "alice",
				Outcome: store.SignInFailed, Via: store.ViaAPI, Reason: "The signature was not accepted", CreatedAt: h.clock()}
			if err := h.st.RecordSignIn(t.Context(), e); err != nil {
				t.Fatal(i, err)
			}
		}
		body := string(h.page(alice, pathActivity+"?kind=failed").Body)
		if n := strings.Count(body, `data-testid="activity-row"`); n != activityPageSize {
			t.Fatalf("the first page shows %d rows, want %d", n, activityPageSize)
		}
		i := strings.Index(body, `data-testid="activity-older"`)
		if i < 0 {
			t.Fatal("no link to older entries")
		}
		href := body[strings.LastIndex(body[:i], `href="`)+6:]
		href = strings.ReplaceAll(href[:strings.Index(href, `"`)], "&amp;", "&")
		body = string(h.page(alice, href).Body)
		if n := strings.Count(body, `data-testid="activity-row"`); n != 6 {
			t.Errorf("the second page (%s) shows %d rows, want the 6 older ones", href, n)
		}
		if strings.Contains(body, `data-testid="activity-older"`) {
			t.Errorf("the last page links to older entries")
		}
	})
}

func TestTheUpstreamOfAForwardedApprovalIsSaid(t *testing.T) {
	for _, tc := range []struct{ upstream, status, want string }{
		{"", "", ""},
		{"orders", "", "forwarded to orders, no answer yet"},
		{"orders", "201", "forwarded to orders, which answered 201"},
		{"orders", "unreachable", "forwarded to orders: unreachable"},
		{"orders", "201, broken off", "forwarded to orders, which answered 201 but broke off midway"},
	} {
		if got := upstreamWords(tc.upstream, tc.status); got != tc.want {
			t.Errorf("upstreamWords(%q, %q) = %q, want %q", tc.upstream, tc.status, got, tc.want)
		}
	}
}

func TestExportedCellsNeverRunAsFormulas(t *testing.T) {
	for in, want := range map[string]string{
		"=HYPERLINK(\"https://evil\")": "'=HYPERLINK(\"https://evil\")",
		"+1":                           "'+1",
		"-1+2":                         "'-1+2",
		"@SUM(A1)":                     "'@SUM(A1)",
		"YubiKey":                      "YubiKey",
		"":                             "",
	} {
		if got := spreadsheetSafe(in); got != want {
			t.Errorf("spreadsheetSafe(%q) = %q, want %q", in, got, want)
		}
	}
}
