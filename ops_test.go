package main

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"syscall"
	"testing"
)

func TestReleaseBinaryIsStaticAndStamped(t *testing.T) {
	out, err := runBinary(t, "version")
	if err != nil || !strings.HasPrefix(out, "countersign "+stampVersion+" ") {
		t.Fatalf("version: %q, %v; want the stamped %s", out, err, stampVersion)
	}
	meta, err := exec.Command("go", "version", "-m", binary(t)).CombinedOutput()
	if err != nil {
		t.Fatalf("go version -m: %v\n%s", err, meta)
	}
	if !strings.Contains(string(meta), "CGO_ENABLED=0") {
		t.Fatalf("the release binary is not built with CGO_ENABLED=0 (a static binary):\n%s", meta)
	}
}

func TestMetricsListenerIsSeparate(t *testing.T) {
	data := t.TempDir()
	p := startServer(t, data, "--metrics-listen", "127.0.0.1:0")
	if p.metricsURL == "" {
		t.Fatal("serve did not print the metrics address")
	}
	c := newClient(t, p.url)
	c.must(http.StatusOK, "GET", "/healthz", nil)
	c.must(http.StatusOK, "GET", "/readyz", nil)
	c.must(http.StatusNotFound, "GET", "/metrics", nil) // not on the public listener
	res, err := http.Get(p.metricsURL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	for _, want := range []string{
		`countersign_http_requests_total{method="GET",route="/readyz",status="200"} 1`,
		`countersign_http_requests_total{method="GET",route="unmatched",status="404"} 1`,
		`countersign_store_operation_duration_seconds_count{op="PendingMigrations"}`,
		"go_goroutines",
		"process_resident_memory_bytes",
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	res, err = http.Get(p.metricsURL + "/healthz")
	if err == nil {
		res.Body.Close()
		if res.StatusCode != http.StatusNotFound {
			t.Errorf("the metrics listener serves the API: GET /healthz = %d", res.StatusCode)
		}
	}
}

// kidOf reads the kid of a JWT's header.
func kidOf(t *testing.T, tok string) string {
	t.Helper()
	head, _, _ := strings.Cut(tok, ".")
	raw, err := base64.RawURLEncoding.DecodeString(head)
	if err != nil {
		t.Fatal(err)
	}
	var h struct {
		KID string `json:"kid"`
	}
	if err := json.Unmarshal(raw, &h); err != nil {
		t.Fatal(err)
	}
	return h.KID
}

// TestRotateSigningKeyUnderARunningServer rotates while a server runs: a
// second server started afterwards signs with the new key, and the first,
// never restarted, accepts its tokens as well as its own older ones.
func TestRotateSigningKeyUnderARunningServer(t *testing.T) {
	data := t.TempDir()
	inv := inviteOwner(t, data)
	first := startServer(t, data)
	c1 := newClient(t, first.url)
	s := &signer{key: c1.registerKey(inv)}
	oldTok := c1.login(inv, s)

	out, err := runBinary(t, "rotate-signing-key", "--immediately", "--data-dir", data, "--origin", procOrigin)
	if err != nil || !strings.Contains(out, "New signing key") || !strings.Contains(out, "Retired key "+kidOf(t, oldTok)) {
		t.Fatalf("rotate-signing-key: %v\n%s", err, out)
	}

	second := startServer(t, data)
	c2 := newClient(t, second.url)
	newTok := c2.login(inv, s)
	if kidOf(t, newTok) == kidOf(t, oldTok) {
		t.Fatal("the server started after the rotation signs with the old key")
	}
	for _, tc := range []struct {
		c   *client
		tok string
	}{{c1, oldTok}, {c1, newTok}, {c2, oldTok}, {c2, newTok}} {
		tc.c.must(http.StatusOK, "GET", "/auth/credentials", nil, "Authorization", "Bearer "+tc.tok)
	}
	jwks := c1.must(http.StatusOK, "GET", "/.well-known/jwks.json", nil)
	if keys := jwks["keys"].([]any); len(keys) != 2 {
		t.Fatalf("the first server publishes %d keys after the rotation, want both", len(keys))
	}
	for _, p := range []*proc{first, second} {
		p.cmd.Process.Signal(syscall.SIGTERM)
		if err := p.wait(); err != nil {
			t.Fatal(err)
		}
	}
	c1.checkNoSecretInLog(first.logText())
	c2.checkNoSecretInLog(second.logText())
}
