//go:build e2e

package e2e

import (
	"context"
	"crypto/rand"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"countersign/gateway"
	"countersign/mailer/mailertest"
	"countersign/server"
	"countersign/store/sqlite"
	"countersign/token"
	"countersign/webauthn"
)

// testServer is countersign running in-process for one test, wired as
// main.go's open() and serve() wire it: SQLite in a temp dir, RP id
// "localhost", one origin.
type testServer struct {
	// URL is the origin the browser opens, http://localhost:<port>: the
	// server listens on 127.0.0.1, and WebAuthn needs the localhost name
	// (a secure context whose host is the RP id).
	URL        string
	ceremonies *webauthn.Ceremonies
	clock      *testClock
	// mail is the SMTP server the server's e-mail goes to.
	mail *mailertest.Server
}

// testClock is the server's clock: the real time, moved on by the test.
type testClock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *testClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

// advance moves the server's clock on by d, as time passing would.
func (s *testServer) advance(d time.Duration) {
	s.clock.mu.Lock()
	defer s.clock.mu.Unlock()
	s.clock.offset += d
}

// startServer starts a fresh countersign with an empty store; it stops when
// the test ends.
func startServer(t *testing.T) *testServer {
	t.Helper()
	return startServerWith(t, nil)
}

// startServerWith is startServer with the gateway's upstreams that
// upstreams returns for the server's origin (nil: none).
func startServerWith(t *testing.T, upstreams func(origin string) []gateway.Upstream) *testServer {
	t.Helper()
	clock := &testClock{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	origin := "http://localhost:" + port
	var compiled []gateway.Compiled
	if upstreams != nil {
		if compiled, err = gateway.Compile(upstreams(origin)); err != nil {
			t.Fatalf("upstreams: %v", err)
		}
	}
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(t.Output(), nil))

	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "countersign.db"), sqlite.Options{})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	decoy, err := st.EnsureSecret(ctx, "login-decoy-key", randomKey(t))
	if err != nil {
		t.Fatalf("load decoy key: %v", err)
	}
	seal, err := st.EnsureSecret(ctx, webauthn.SealKeySecret, randomKey(t))
	if err != nil {
		t.Fatalf("load challenge seal key: %v", err)
	}
	cs, err := webauthn.New(st, webauthn.Options{
		RPID: "localhost", RPName: "countersign", Origins: []string{origin}, DecoyKey: decoy, SealKey: seal, Logger: log, Now: clock.now,
	})
	if err != nil {
		t.Fatalf("webauthn.New: %v", err)
	}
	tokens, err := token.New(ctx, st, token.Options{Issuer: origin, LoginTTL: time.Hour, TempTTL: 5 * time.Minute, Now: clock.now})
	if err != nil {
		t.Fatalf("token.New: %v", err)
	}
	smtp := mailertest.Start(t, false)
	mail := smtp.Mailer(t)
	mailCtx, stopMail := context.WithCancel(context.Background())
	mailDone := make(chan struct{})
	go func() { mail.Run(mailCtx); close(mailDone) }()
	t.Cleanup(func() { stopMail(); <-mailDone })
	srv, err := server.New(ctx, st, cs, tokens, server.Options{
		Origins: []string{origin}, SessionTTL: time.Hour, Logger: log, Now: clock.now, Upstreams: compiled, Mail: mail,
	})
	if err != nil {
		t.Fatalf("server.New: %v", err)
	}
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	t.Cleanup(func() {
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := hs.Shutdown(shutdownCtx); err != nil {
			t.Errorf("shut down server: %v", err)
		}
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("serve: %v", err)
		}
		if err := st.Close(); err != nil {
			t.Errorf("close store: %v", err)
		}
	})
	return &testServer{URL: origin, ceremonies: cs, clock: clock, mail: smtp}
}

// invite invites a user as "countersign invite" does and returns the
// registration link it would print.
func (s *testServer) invite(t *testing.T, username string) string {
	t.Helper()
	inv, err := s.ceremonies.Invite(context.Background(), webauthn.InviteRequest{Username: username})
	if err != nil {
		t.Fatalf("invite %q: %v", username, err)
	}
	q := url.Values{"org": {inv.Org.ID}, "username": {inv.User.Username}, "code": {inv.Code}}
	return s.URL + "/register?" + q.Encode()
}

func randomKey(t *testing.T) []byte {
	t.Helper()
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("crypto/rand: %v", err)
	}
	return b
}
