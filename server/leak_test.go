package server

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
)

// The leak check: every harness of this package logs, at debug level, into
// testLog, and every secret that crosses the router in a test (bearer and
// temporary tokens, session cookies, user-action tokens, registration codes,
// access tokens) or that the server keeps (its signing, cookie and decoy
// keys) is collected in leakSecrets. When the package's tests have passed,
// TestMain fails the run if any of them appears in the log, in any of the
// encodings a log line could carry it.

// lockedBuffer is an io.Writer safe for concurrent handlers.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// secretSet collects secrets by what they are.
type secretSet struct {
	mu sync.Mutex
	m  map[string]string // secret -> what it is
}

// add records a secret. Values too short to be one (an empty header, a
// flag) are ignored: they would match by chance.
func (s *secretSet) add(what, secret string) {
	secret = strings.TrimSpace(secret)
	if len(secret) < 12 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string]string{}
	}
	s.m[secret] = what
}

// addBytes records a binary secret in every text form it could be logged in.
func (s *secretSet) addBytes(what string, b []byte) {
	s.add(what+" (base64)", base64.StdEncoding.EncodeToString(b))
	s.add(what+" (base64url)", base64.RawURLEncoding.EncodeToString(b))
	s.add(what+" (hex)", hex.EncodeToString(b))
}

func (s *secretSet) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.m)
}

// leaks returns what of s appears in log, sorted.
func (s *secretSet) leaks(log string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var found []string
	for secret, what := range s.m {
		if strings.Contains(log, secret) {
			found = append(found, fmt.Sprintf("%s %.16s…", what, secret))
		}
	}
	sort.Strings(found)
	return found
}

var (
	testLog     lockedBuffer
	leakSecrets secretSet
)

func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 {
		code = checkNoSecretLogged()
	}
	os.Exit(code)
}

func checkNoSecretLogged() int {
	log := testLog.String()
	if leaks := leakSecrets.leaks(log); len(leaks) > 0 {
		fmt.Fprintf(os.Stderr, "FAIL: secrets appear in the server log of this test run:\n  %s\n", strings.Join(leaks, "\n  "))
		return 1
	}
	if leakSecrets.len() > 0 && !strings.Contains(log, `"msg":"request"`) {
		fmt.Fprintln(os.Stderr, "FAIL: the leak check saw secrets but no request log line: the check would prove nothing")
		return 1
	}
	return 0
}

// wireSecretFields are the JSON fields of answers that hold a secret.
var wireSecretFields = map[string]string{
	"token": "login token", "temporaryAuthenticationToken": "temporary token", "userAction": "user-action token",
	"accessToken": "access token", "registrationCode": "registration code",
}

// harvest collects the secrets of one request and its answer.
func harvest(req *http.Request, sent []byte, header http.Header, body []byte) {
	if _, tok, ok := strings.Cut(req.Header.Get("Authorization"), " "); ok {
		leakSecrets.add("bearer token", tok)
	}
	leakSecrets.add("user-action token", req.Header.Get(headerUserAction))
	for _, c := range req.Cookies() {
		leakSecrets.add("cookie "+c.Name, c.Value)
	}
	for _, c := range (&http.Response{Header: header}).Cookies() {
		leakSecrets.add("cookie "+c.Name, c.Value)
	}
	for _, b := range [][]byte{sent, body} {
		var v any
		if json.Unmarshal(b, &v) == nil {
			collectJSONSecrets(v)
		}
	}
}

func collectJSONSecrets(v any) {
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			if what, ok := wireSecretFields[k]; ok {
				if s, ok := val.(string); ok {
					leakSecrets.add(what, s)
				}
			}
			collectJSONSecrets(val)
		}
	case []any:
		for _, val := range x {
			collectJSONSecrets(val)
		}
	}
}

// harvestServerSecrets collects the keys a server keeps in its store.
func harvestServerSecrets(st interface {
	EnsureSecret(ctx context.Context, name string, value []byte) ([]byte, error)
}, names ...string) {
	for _, name := range names {
		if v, err := st.EnsureSecret(context.Background(), name, []byte("absent")); err == nil && string(v) != "absent" {
			leakSecrets.addBytes("stored secret "+name, v)
			var ring []map[string][]byte
			if json.Unmarshal(v, &ring) == nil {
				for _, entry := range ring {
					for k, b := range entry {
						leakSecrets.addBytes("stored secret "+name+"."+k, b)
					}
				}
			}
		}
	}
}

func TestLeakCheckFindsASecret(t *testing.T) {
	var s secretSet
	s.add("bearer token", "eyJhbGciOiJFUzI1NiJ9.payload.signature")
	s.add("too short", "abc")
	log := `{"msg":"request","cause":"token eyJhbGciOiJFUzI1NiJ9.payload.signature is bad"}` + "\nabc\n"
	if got := s.leaks(log); len(got) != 1 || !strings.HasPrefix(got[0], "bearer token") {
		t.Fatalf("leaks = %q, want the bearer token only", got)
	}
	if got := s.leaks(`{"msg":"request"}`); len(got) != 0 {
		t.Fatalf("leaks in a clean log = %q", got)
	}
}
