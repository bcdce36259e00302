package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"countersign/webauthn/webauthntest"
)

// Tests here run the real binary, as an operator does: built once per test
// run (static, with a stamped version, as make dist builds it), started as
// a process of its own, stopped with a signal.

const (
	procOrigin   = "http://localhost:8080" // the origin authenticators sign; it need not be the listen address
	procRPID     = "localhost"
	stampVersion = "v0.0.0-test"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// binary builds countersign once for the package's tests.
func binary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "countersign-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "countersign")
		cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-X main.version="+stampVersion, "-o", binPath, ".")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// runBinary runs a sub-command to completion and returns its output.
func runBinary(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(binary(t), args...)
	cmd.Env = cleanEnv()
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// cleanEnv is the environment without COUNTERSIGN_* settings of the
// developer's shell, which would change what the tests start.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "COUNTERSIGN_") {
			env = append(env, kv)
		}
	}
	return env
}

// proc is a running countersign serve.
type proc struct {
	cmd        *exec.Cmd
	url        string
	metricsURL string
	lines      chan string // stderr (the log), line by line
	mu         sync.Mutex
	log        bytes.Buffer
	done       chan struct{}
	exitErr    error
}

// startServer starts countersign serve on a free loopback port with the
// data dir given, and waits until it listens.
func startServer(t *testing.T, dataDir string, extra ...string) *proc {
	t.Helper()
	args := append([]string{"serve", "--listen", "127.0.0.1:0", "--data-dir", dataDir, "--origin", procOrigin, "--rp-id", procRPID,
		"--rate-limit", "0", "--account-rate-limit", "0", "--log-format", "json"}, extra...)
	cmd := exec.Command(binary(t), args...)
	cmd.Env = cleanEnv()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, lines: make(chan string, 4096), done: make(chan struct{})}
	ready := make(chan string, 2)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			if addr, ok := strings.CutPrefix(line, "metrics on "); ok {
				p.metricsURL = strings.TrimSuffix(addr, "/metrics")
			}
			if rest, ok := strings.CutPrefix(line, "countersign listening on "); ok {
				addr, _, _ := strings.Cut(rest, " ")
				ready <- "http://" + addr
			}
		}
		close(ready)
	}()
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			p.mu.Lock()
			p.log.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
			select {
			case p.lines <- sc.Text():
			default: // nobody is waiting for lines: the log buffer keeps them
			}
		}
		p.exitErr = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			p.cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("server log:\n%s", p.logText())
		}
	})
	url, ok := <-ready
	if !ok {
		<-p.done
		t.Fatalf("countersign exited before listening: %v\n%s", p.exitErr, p.logText())
	}
	p.url = url
	return p
}

func (p *proc) logText() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.log.String()
}

// waitLog waits for a log line containing want (the server writes the line
// before it does what the line says).
func (p *proc) waitLog(t *testing.T, want string) {
	t.Helper()
	for {
		select {
		case line := <-p.lines:
			if strings.Contains(line, want) {
				return
			}
		case <-p.done:
			if strings.Contains(p.logText(), want) {
				return
			}
			t.Fatalf("countersign exited without logging %q", want)
		}
	}
}

// wait waits for the process to exit and returns its error.
func (p *proc) wait() error {
	<-p.done
	return p.exitErr
}

// client talks to a server as an SDK does, and remembers every secret it
// sees so a test can check none reached the server's log.
type client struct {
	t       *testing.T
	base    string
	http    *http.Client
	mu      sync.Mutex
	secrets []string
}

func newClient(t *testing.T, base string) *client {
	return &client{t: t, base: base, http: &http.Client{Timeout: time.Minute}}
}

func (c *client) remember(secret string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.secrets = append(c.secrets, secret)
}

// do sends a JSON request; err is a transport error (no answer).
func (c *client) do(method, path string, body any, header ...string) (int, map[string]any, error) {
	var rd io.Reader
	if body != nil {
		raw, ok := body.([]byte)
		if !ok {
			raw, _ = json.Marshal(body)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := c.http.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	var out map[string]any
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		return 0, nil, err
	}
	_ = json.Unmarshal(raw, &out)
	return res.StatusCode, out, nil
}

// must sends a request that must answer want.
func (c *client) must(want int, method, path string, body any, header ...string) map[string]any {
	c.t.Helper()
	status, out, err := c.do(method, path, body, header...)
	if err != nil || status != want {
		c.t.Fatalf("%s %s = %d %v (%v), want %d", method, path, status, out, err, want)
	}
	return out
}

// invitation is the output of invite --json.
type invitation struct {
	OrgID            string `json:"orgId"`
	Username         string `json:"username"`
	RegistrationCode string `json:"registrationCode"`
}

func inviteOwner(t *testing.T, dataDir string) invitation {
	t.Helper()
	out, err := runBinary(t, "invite", "owner", "--json", "--data-dir", dataDir, "--origin", procOrigin)
	if err != nil {
		t.Fatalf("invite: %v\n%s", err, out)
	}
	var inv invitation
	if err := json.Unmarshal([]byte(out[strings.LastIndex(strings.TrimSpace(out), "\n")+1:]), &inv); err != nil {
		t.Fatalf("invite output %q: %v", out, err)
	}
	return inv
}

// registerKey registers the invited user with a Key credential.
func (c *client) registerKey(inv invitation) *webauthntest.KeySigner {
	c.t.Helper()
	c.remember(inv.RegistrationCode)
	ri := c.must(200, "POST", "/auth/registration/init", map[string]string{"orgId": inv.OrgID, "username": inv.Username, "registrationCode": inv.RegistrationCode})
	temp := ri["temporaryAuthenticationToken"].(string)
	c.remember(temp)
	s := webauthntest.NewKeySigner("P256")
	cd, att := s.Attest(ri["challenge"].(string))
	c.must(200, "POST", "/auth/registration", map[string]any{"firstFactorCredential": map[string]any{
		"credentialKind": "Key", "credentialInfo": map[string]string{"credId": s.CredID, "clientData": cd, "attestationData": att},
	}}, "Authorization", "Bearer "+temp)
	return s
}

// registerPasskey registers the invited user with a passkey.
func (c *client) registerPasskey(inv invitation) *webauthntest.Authenticator {
	c.t.Helper()
	c.remember(inv.RegistrationCode)
	ri := c.must(200, "POST", "/auth/registration/init", map[string]string{"orgId": inv.OrgID, "username": inv.Username, "registrationCode": inv.RegistrationCode})
	temp := ri["temporaryAuthenticationToken"].(string)
	c.remember(temp)
	a := webauthntest.NewAuthenticator(procRPID, procOrigin)
	user := ri["user"].(map[string]any)
	id, cd, att := a.Create([]byte(ri["challenge"].(string)), []byte(user["id"].(string)))
	c.must(200, "POST", "/auth/registration", map[string]any{"firstFactorCredential": map[string]any{
		"credentialKind": "Fido2", "credentialInfo": map[string]string{"credId": b64(id), "clientData": b64(cd), "attestationData": b64(att)},
	}}, "Authorization", "Bearer "+temp)
	return a
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// signer is a credential that answers challenges: a Key signer or a
// passkey (one assertion at a time: its sign counter is not shared).
type signer struct {
	mu      sync.Mutex
	key     *webauthntest.KeySigner
	passkey *webauthntest.Authenticator
}

func (s *signer) assertion(challenge string) map[string]any {
	if s.key != nil {
		cd, sig := s.key.Sign(challenge)
		return map[string]any{"kind": "Key", "credentialAssertion": map[string]string{"credId": s.key.CredID, "clientData": cd, "signature": sig}}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	id, cd, ad, sig, uh := s.passkey.Get([]byte(challenge))
	return map[string]any{"kind": "Fido2", "credentialAssertion": map[string]string{
		"credId": b64(id), "clientData": b64(cd), "authenticatorData": b64(ad), "signature": b64(sig), "userHandle": b64(uh),
	}}
}

func (c *client) login(inv invitation, s *signer) string {
	c.t.Helper()
	li := c.must(200, "POST", "/auth/login/init", map[string]string{"orgId": inv.OrgID, "username": inv.Username})
	out := c.must(200, "POST", "/auth/login", map[string]any{"challengeIdentifier": li["challengeIdentifier"], "firstFactor": s.assertion(li["challenge"].(string))})
	tok := out["token"].(string)
	c.remember(tok)
	return tok
}

// signedAttempt is one signed request: its user action and what came back.
type signedAttempt struct {
	actionID string
	status   int   // 0: no answer
	err      error // the transport error of the real request, if any
}

// approve runs User Action Signing for one request and returns the
// user-action token, or "" when the server did not answer with one.
func (c *client) approve(tok string, s *signer, method, path string, body []byte) string {
	auth := []string{"Authorization", "Bearer " + tok}
	status, ch, err := c.do("POST", "/auth/action/init", map[string]string{
		"userActionPayload": string(body), "userActionHttpMethod": method, "userActionHttpPath": path, "userActionServerKind": "Api",
	}, auth...)
	if err != nil || status != 200 {
		return ""
	}
	status, ua, err := c.do("POST", "/auth/action", map[string]any{"challengeIdentifier": ch["challengeIdentifier"], "firstFactor": s.assertion(ch["challenge"].(string))}, auth...)
	if err != nil || status != 200 {
		return ""
	}
	id, _ := ua["userAction"].(string)
	c.remember(id)
	return id
}

// signed approves one request and sends it. ok=false: no approval was
// had, so the real request was not sent.
func (c *client) signed(tok string, s *signer, method, path string, body []byte) (a signedAttempt, ok bool) {
	if a.actionID = c.approve(tok, s, method, path, body); a.actionID == "" {
		return a, false
	}
	a.status, _, a.err = c.do(method, path, body, "Authorization", "Bearer "+tok, "X-DFNS-USERACTION", a.actionID)
	return a, true
}

// checkNoSecretInLog fails t if a secret the client saw is in log.
func (c *client) checkNoSecretInLog(log string) {
	c.t.Helper()
	if !strings.Contains(log, `"msg":"request"`) {
		c.t.Fatalf("the server log has no request line: the check would prove nothing\n%s", log)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range c.secrets {
		if strings.Contains(log, s) {
			c.t.Errorf("a secret the client holds (%.12s…) is in the server log", s)
		}
	}
}

// ctx is a context for store reads in tests.
func ctx() context.Context { return context.Background() }
