package main

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/netutil"

	"countersign/server"
	"countersign/store/sqlite"
)

// limitedServer serves the real countersign handler behind newHTTPServer
// with limits l, on a loopback listener capped at l.MaxConnections, and
// returns its address.
func limitedServer(t *testing.T, l HTTPLimits) string {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	cfg := Config{DataDir: dir, Database: filepath.Join(dir, "cs.db"), RPID: "localhost", RPName: "t",
		Origins: []string{"http://localhost:8080"}, LoginTokenTTL: time.Hour, ChallengeTTL: time.Minute, Migrate: true, HTTP: l}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	a, err := open(ctx, cfg, log, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.store.Close() })
	srv, err := server.New(ctx, a.store, a.ceremonies, a.tokens, server.Options{Origins: cfg.Origins, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := newHTTPServer(l, srv, log)
	go hs.Serve(netutil.LimitListener(ln, l.MaxConnections))
	t.Cleanup(func() { hs.Close() })
	return ln.Addr().String()
}

// shortLimits are the defaults with timeouts short enough for a test.
func shortLimits() HTTPLimits {
	return HTTPLimits{
		ReadHeaderTimeout: 300 * time.Millisecond, ReadTimeout: 400 * time.Millisecond, WriteTimeout: time.Second,
		IdleTimeout: 300 * time.Millisecond, MaxHeaderBytes: 4 << 10, MaxConnections: 8,
	}
}

// closedByServer reads conn until the server closes it and returns what
// was read. It returns only once the server has hung up.
func closedByServer(t *testing.T, conn net.Conn) string {
	t.Helper()
	var got strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := conn.Read(buf)
		got.Write(buf[:n])
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return got.String()
		}
	}
}

func TestSlowAndIdleClientsAreCutOff(t *testing.T) {
	addr := limitedServer(t, shortLimits())

	t.Run("a body trickled byte by byte is cut off", func(t *testing.T) {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		const size = 100_000
		if _, err := io.WriteString(conn, "POST /auth/login/init HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"+
			"Content-Length: 100000\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		done := make(chan string)
		go func() { done <- closedByServer(t, conn) }()
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for sent := 0; ; sent++ {
			select {
			case answer := <-done:
				if sent >= size {
					t.Fatalf("the server waited for all %d bytes", size)
				}
				if answer != "" && !strings.Contains(answer, " 408 ") && !strings.Contains(answer, " 400 ") {
					t.Fatalf("answer to a trickled body: %q", answer)
				}
				return
			case <-tick.C:
				if _, err := conn.Write([]byte{' '}); err != nil {
					<-done
					return // the server hung up
				}
			}
		}
	})

	t.Run("a connection that never sends a request is closed", func(t *testing.T) {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if got := closedByServer(t, conn); got != "" && !strings.Contains(got, " 408 ") {
			t.Fatalf("answer to a silent connection: %q", got)
		}
	})

	t.Run("an idle keep-alive connection is closed after its answer", func(t *testing.T) {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if _, err := io.WriteString(conn, "GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		res, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil || res.StatusCode != http.StatusOK {
			t.Fatalf("healthz: %v %v", res, err)
		}
		res.Body.Close()
		closedByServer(t, conn)
	})

	t.Run("a header block over the limit is refused", func(t *testing.T) {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if _, err := io.WriteString(conn, "GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Junk: "+strings.Repeat("a", 64<<10)+"\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		res, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil || res.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
			t.Fatalf("oversized headers: %v %v", res, err)
		}
	})
}

func TestConnectionCap(t *testing.T) {
	l := shortLimits()
	l.MaxConnections = 1
	l.ReadHeaderTimeout, l.ReadTimeout, l.IdleTimeout = time.Minute, time.Minute, time.Minute
	addr := limitedServer(t, l)
	first, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	// The first connection is accepted and holds the only slot: it has
	// sent half a request.
	if _, err := io.WriteString(first, "GET /healthz HTTP/1.1\r\n"); err != nil {
		t.Fatal(err)
	}
	second, err := net.Dial("tcp", addr) // the kernel's backlog takes it
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	if _, err := io.WriteString(second, "GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	second.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if n, err := second.Read(make([]byte, 1)); n != 0 || err == nil {
		t.Fatalf("a connection past the cap was served while the first held the slot (read %d, %v)", n, err)
	}
	first.Close()
	second.SetReadDeadline(time.Time{})
	res, err := http.ReadResponse(bufio.NewReader(second), nil)
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("once the slot is free the waiting connection is served: %v %v", res, err)
	}
}

func TestRotateSessionKeysCommand(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	for i := 0; i < 2; i++ {
		var out strings.Builder
		if err := run(ctx, []string{"rotate-session-keys", "--data-dir", dir}, &out, io.Discard); err != nil {
			t.Fatalf("rotate-session-keys: %v", err)
		}
		if !strings.Contains(out.String(), "2 key pairs") {
			t.Fatalf("output: %s", out.String())
		}
	}
	st, err := sqlite.Open(ctx, filepath.Join(dir, "countersign.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ring, err := st.EnsureSecret(ctx, server.SessionKeyringSecret, nil)
	if err != nil || strings.Count(string(ring), `"hash"`) != 2 {
		t.Fatalf("keyring after two rotations: %s, %v", ring, err)
	}
}
