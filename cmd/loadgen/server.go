package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// server is one countersign process the load is sent to: a build (its
// binary) on one database, listening on loopback only.
type server struct {
	name   string // the build's name on the command line
	binary string
	dsn    string // --database: an SQLite file or a postgres:// DSN
	base   string // http://127.0.0.1:<port>
	origin string // http://localhost:<port>
	env    []string
	cmd    *exec.Cmd
	log    *os.File
}

// startServer starts binary on a free loopback port with database dsn,
// every limit off (the load is the point), and waits until it is ready.
func startServer(ctx context.Context, name, binary, dsn, dir string) (*server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	s := &server{
		name: name, binary: binary, dsn: dsn,
		base:   fmt.Sprintf("http://127.0.0.1:%d", port),
		origin: fmt.Sprintf("http://localhost:%d", port),
	}
	// Settings as environment variables: a build that lacks one (an older
	// one) ignores it, where it would refuse an unknown flag.
	s.env = append(os.Environ(),
		"COUNTERSIGN_LISTEN=127.0.0.1:"+strconv.Itoa(port),
		"COUNTERSIGN_DATA_DIR="+dir,
		"COUNTERSIGN_DATABASE="+dsn,
		"COUNTERSIGN_ORIGIN="+s.origin,
		"COUNTERSIGN_RP_ID=localhost",
		"COUNTERSIGN_RATE_LIMIT=0",
		"COUNTERSIGN_ACCOUNT_RATE_LIMIT=0",
		"COUNTERSIGN_LOG_LEVEL=error",
	)
	if s.log, err = os.Create(filepath.Join(dir, "server.log")); err != nil {
		return nil, err
	}
	s.cmd = exec.CommandContext(ctx, binary, "serve")
	s.cmd.Env, s.cmd.Stdout, s.cmd.Stderr = s.env, s.log, s.log
	// The server dies with the load generator, however that ends.
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := s.cmd.Start(); err != nil {
		s.log.Close()
		return nil, fmt.Errorf("start %s: %w", binary, err)
	}
	if err := s.waitReady(ctx); err != nil {
		s.stop()
		return nil, fmt.Errorf("%s (%s): %w; its log is %s", name, binary, err, s.log.Name())
	}
	return s, nil
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// waitReady polls /healthz (which every build has) for at most a minute.
func (s *server) waitReady(ctx context.Context) error {
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		res, err := http.Get(s.base + "/healthz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return errors.New("not ready within a minute")
}

func (s *server) stop() {
	if s.cmd.Process != nil {
		s.cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { s.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			s.cmd.Process.Kill()
			<-done
		}
	}
	s.log.Close()
}

// cpu returns the CPU time (user and system, every thread) the server
// process has used so far, from /proc/<pid>/stat.
func (s *server) cpu() (time.Duration, error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", s.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) is in parentheses and may hold spaces:
	// fields 14 and 15 are counted from after it.
	after := raw[bytes.LastIndexByte(raw, ')')+2:]
	f := strings.Fields(string(after))
	if len(f) < 13 {
		return 0, fmt.Errorf("short /proc stat: %q", raw)
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	return time.Duration(utime+stime) * time.Second / clockTicks, nil
}

// clockTicks is USER_HZ, the unit of /proc's times: 100 on Linux.
const clockTicks = 100

// invited is what `countersign invite --json` prints.
type invited struct {
	OrgID            string `json:"orgId"`
	UserID           string `json:"userId"`
	Username         string `json:"username"`
	RegistrationCode string `json:"registrationCode"`
}

// invite runs the build's own invite command on the server's database.
func (s *server) invite(ctx context.Context, username string) (invited, error) {
	cmd := exec.CommandContext(ctx, s.binary, "invite", username, "--json")
	cmd.Env = s.env
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return invited{}, fmt.Errorf("invite %s: %w: %s", username, err, ee.Stderr)
		}
		return invited{}, fmt.Errorf("invite %s: %w", username, err)
	}
	var inv invited
	if err := json.Unmarshal(bytes.TrimSpace(out), &inv); err != nil {
		return invited{}, fmt.Errorf("invite %s: %w: %s", username, err, out)
	}
	return inv, nil
}
