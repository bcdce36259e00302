// Command countersign is a self-hosted passkey login and user-action signing
// server, wire-compatible with the Dfns Auth API. main wires configuration,
// the store and the server together and runs a sub-command; it holds no
// logic of its own.
package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"runtime/debug"
	"sync"
	"syscall"
	"time"

	"golang.org/x/net/netutil"

	"countersign/mailer"
	"countersign/metrics"
	"countersign/server"
	"countersign/store"
	"countersign/store/postgres"
	"countersign/store/sqlite"
	"countersign/token"
	"countersign/webauthn"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		// After the first signal a second one ends the process at once.
		<-ctx.Done()
		stop()
	}()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "countersign:", err)
		}
		os.Exit(2)
	}
}

const usage = `usage: countersign [serve] [flags]           run the server (default)
       countersign invite USERNAME [--json]     invite a user, print the registration link
       countersign recover USERNAME [--json]    print a reset link: the user creates a new passkey, every old one stops working
       countersign rotate-session-keys          new console cookie keys; the previous pair still opens cookies
       countersign rotate-signing-key           new token-signing key, published at once, signing once every server has it
                                                (--immediately: at once); the previous one verifies until its tokens expire
       countersign backup FILE                  consistent copy of the SQLite database, while servers run
       countersign restore FILE [--replace]     put a backup in place; refused while the database is in use
       countersign version                      print the version
Run "countersign COMMAND -h" for a command's flags.`

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cmd := "serve"
	if len(args) > 0 && args[0] != "" && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		return serve(ctx, args, stdout, stderr)
	case "invite":
		return invite(ctx, args, stdout, stderr)
	case "recover":
		return recoverUser(ctx, args, stdout, stderr)
	case "rotate-session-keys":
		return rotateSessionKeys(ctx, args, stdout, stderr)
	case "rotate-signing-key":
		return rotateSigningKey(ctx, args, stdout, stderr)
	case "backup":
		return backup(ctx, args, stdout, stderr)
	case "restore":
		return restore(ctx, args, stdout, stderr)
	case "version":
		return printVersion(stdout)
	case "help":
		fmt.Fprintln(stdout, usage)
		return nil
	default:
		return fmt.Errorf("unknown command %q\n%s", cmd, usage)
	}
}

// openStore opens the configured backend: PostgreSQL for a postgres:// DSN
// (several replicas sharing one database), else the embedded SQLite file.
func openStore(ctx context.Context, cfg Config) (store.Store, error) {
	if cfg.isPostgres() {
		return postgres.Open(ctx, cfg.Database, postgres.Options{SkipMigrations: !cfg.Migrate})
	}
	return sqlite.Open(ctx, cfg.Database, sqlite.Options{SkipMigrations: !cfg.Migrate})
}

// app is everything a sub-command may need, opened from one Config.
type app struct {
	store      store.Store
	ceremonies *webauthn.Ceremonies
	tokens     *token.Issuer
}

// open opens the store and what is built on it. With m set, every store
// operation is timed in m.
func open(ctx context.Context, cfg Config, log *slog.Logger, m *metrics.Metrics) (*app, error) {
	var st store.Store
	st, err := openStore(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if m != nil {
		st = metrics.WrapStore(st, m)
	}
	decoy, err := st.EnsureSecret(ctx, "login-decoy-key", randomKey())
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("load decoy key: %w", err)
	}
	seal, err := st.EnsureSecret(ctx, webauthn.SealKeySecret, randomKey())
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("load challenge seal key: %w", err)
	}
	cs, err := webauthn.New(st, webauthn.Options{
		RPID: cfg.RPID, RPName: cfg.RPName, Origins: cfg.Origins, ChallengeTTL: cfg.ChallengeTTL,
		DecoyKey: decoy, SealKey: seal, Logger: log,
	})
	if err != nil {
		st.Close()
		return nil, err
	}
	tokens, err := token.New(ctx, st, token.Options{
		Issuer: cfg.Origins[0], LoginTTL: cfg.LoginTokenTTL, TempTTL: cfg.ChallengeTTL,
	})
	if err != nil {
		st.Close()
		return nil, err
	}
	return &app{store: st, ceremonies: cs, tokens: tokens}, nil
}

// serveGCPercent is the garbage collector's target when GOGC is not set:
// the server's live heap is a few tens of megabytes, and at Go's default
// of 100 collection took about 7 % of a signed action's CPU under load
// (12 % less CPU per action at 200, measured side by side with loadgen).
const serveGCPercent = 200

func serve(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(serveGCPercent)
	}
	var cfg Config
	var origins stringList
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	storeFlags(fs, &cfg)
	serverFlags(fs, &cfg, &origins)
	opsFlags(fs, &cfg.Ops)
	fs.Usage = usageWithEnv(fs)
	if _, err := parseFlags(fs, args, false); err != nil {
		return err
	}
	err := cfg.finish(origins, true)
	if err = errors.Join(err, cfg.Ops.check()); err != nil {
		return fmt.Errorf("configuration:\n%w", err)
	}
	log := cfg.Ops.logger(stderr)
	m := metrics.New()
	a, err := open(ctx, cfg, log, m)
	if err != nil {
		return err
	}
	defer a.store.Close() // closed below after a clean shutdown; Close twice is harmless
	opts := server.Options{
		Origins: cfg.Origins, RateLimit: cfg.RateLimit, AccountRateLimit: cfg.AccountLimit, SessionTTL: cfg.LoginTokenTTL, Logger: log,
		Upstreams: cfg.Gateway, Metrics: m,
	}
	var mail *mailer.Mailer
	mailLine := "no e-mail (--smtp-url)"
	if cfg.SMTPURL != "" {
		if mail, err = mailer.New(mailer.Config{URL: cfg.SMTPURL, From: cfg.MailFrom, Logger: log}); err != nil {
			return err
		}
		opts.Mail, mailLine = mail, "e-mail via "+mail.Host()
	}
	srv, err := server.New(ctx, a.store, a.ceremonies, a.tokens, opts)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return err
	}
	var metricsLn net.Listener
	if cfg.Ops.MetricsListen != "" {
		if metricsLn, err = net.Listen("tcp", cfg.Ops.MetricsListen); err != nil {
			ln.Close()
			return fmt.Errorf("metrics listener: %w", err)
		}
		fmt.Fprintf(stdout, "metrics on http://%s/metrics\n", metricsLn.Addr())
	}
	fmt.Fprintf(stdout, "countersign listening on %s (origin %s, rp id %s, database %s, %s)\n", ln.Addr(), cfg.Origins[0], cfg.RPID, cfg.databaseLabel(), mailLine)
	if err := inviteFirstUser(ctx, a, cfg, stdout); err != nil {
		ln.Close()
		return err
	}

	// Background work stops before the store closes.
	bgCtx, stopBackground := context.WithCancel(context.Background())
	var background sync.WaitGroup
	background.Go(func() { maintain(bgCtx, a, log) })
	if mail != nil {
		background.Go(func() { mail.Run(bgCtx) }) // queued mails wait for the store's writes
	}

	hs := newHTTPServer(cfg.HTTP, srv, log)
	servers := []*http.Server{hs}
	errc := make(chan error, 2)
	go func() { errc <- hs.Serve(netutil.LimitListener(ln, cfg.HTTP.MaxConnections)) }()
	if metricsLn != nil {
		ms := newHTTPServer(cfg.HTTP, metricsMux(m), log)
		servers = append(servers, ms)
		go func() { errc <- ms.Serve(metricsLn) }()
	}

	var serveErr error
	select {
	case serveErr = <-errc:
	case <-ctx.Done():
	}
	err = shutdown(srv, servers, cfg.Ops.ShutdownTimeout, log)
	stopBackground()
	background.Wait()
	if cerr := a.store.Close(); cerr != nil {
		err = errors.Join(err, cerr)
	}
	if serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		err = errors.Join(serveErr, err)
	}
	if err == nil {
		log.Info("stopped")
	}
	return err
}

// shutdown stops a server gracefully: /readyz turns unready, the listeners
// close, and the requests in flight get up to timeout to finish; any still
// running then are cut off, which is reported as an error.
func shutdown(srv *server.Server, servers []*http.Server, timeout time.Duration, log *slog.Logger) error {
	srv.Drain()
	log.Info("shutting down: no new connections, waiting for requests in flight", "timeout", timeout.String())
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var errs []error
	for _, hs := range servers {
		if err := hs.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("requests still running after --shutdown-timeout %s were cut off: %w", timeout, err))
			hs.Close()
		}
	}
	return errors.Join(errs...)
}

// metricsMux serves /metrics only.
func metricsMux(m *metrics.Metrics) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler())
	return mux
}

// newHTTPServer serves h with every limit of l set: no client holds a
// connection longer than the timeouts allow, nor sends a larger header block.
// The connection cap is the listener's (netutil.LimitListener in serve).
func newHTTPServer(l HTTPLimits, h http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: l.ReadHeaderTimeout,
		ReadTimeout:       l.ReadTimeout,
		WriteTimeout:      l.WriteTimeout,
		IdleTimeout:       l.IdleTimeout,
		MaxHeaderBytes:    l.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

// inviteFirstUser invites "admin" on an empty store and prints the link.
func inviteFirstUser(ctx context.Context, a *app, cfg Config, stdout io.Writer) error {
	orgs, err := a.store.ListOrgs(ctx)
	if err != nil {
		return err
	}
	if len(orgs) > 0 {
		return remindUnregisteredOwner(ctx, a, orgs[0], cfg, stdout)
	}
	inv, err := a.ceremonies.Invite(ctx, webauthn.InviteRequest{Username: "admin"})
	if errors.Is(err, store.ErrConflict) {
		// Another replica starting on the same database created the
		// organisation between our look and our invitation.
		if orgs, err = a.store.ListOrgs(ctx); err == nil && len(orgs) > 0 {
			return remindUnregisteredOwner(ctx, a, orgs[0], cfg, stdout)
		}
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\nNo user yet: the owner account %q was created.\nOpen this link within %.0f hours to register its passkey:\n\n  %s\n\nInvite more users from the console (Users), or run: go run . invite USERNAME --data-dir %s\n\n",
		inv.User.Username, time.Until(inv.ExpiresAt).Hours(), registrationURL(cfg.Origins[0], inv), cfg.DataDir)
	return nil
}

// remindUnregisteredOwner tells, at start, how to get a new link while no
// user of the organisation has registered yet (the first link may be lost).
func remindUnregisteredOwner(ctx context.Context, a *app, org store.Org, cfg Config, stdout io.Writer) error {
	users, err := a.store.ListUsers(ctx, store.UserQuery{OrgID: org.ID, Limit: 50})
	if err != nil {
		return err
	}
	for _, u := range users {
		if u.IsRegistered {
			return nil
		}
	}
	if len(users) > 0 {
		fmt.Fprintf(stdout, "\nNobody has registered yet. For a new link (the old one stops working):\n  go run . invite %s --data-dir %s --origin %s\n\n",
			users[0].Username, cfg.DataDir, cfg.Origins[0])
	}
	return nil
}

// maintain runs the periodic work of a server until ctx ends: it re-reads
// the signing keyring every token.ReloadInterval (a key added by a rotation
// elsewhere signs here too), and every few minutes deletes expired
// challenges, codes and tokens and drops the retired signing keys no
// unexpired token needs.
func maintain(ctx context.Context, a *app, log *slog.Logger) {
	reload := time.NewTicker(token.ReloadInterval)
	defer reload.Stop()
	sweep := time.NewTicker(5 * time.Minute)
	defer sweep.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-reload.C:
			if err := a.tokens.Reload(ctx); err != nil && ctx.Err() == nil {
				log.Error("reload signing keys", "cause", err.Error())
			}
		case <-sweep.C:
			if n, err := a.store.DeleteExpired(ctx, time.Now()); err != nil && ctx.Err() == nil {
				log.Error("sweep expired rows", "cause", err.Error())
			} else if n > 0 {
				log.Info("swept expired rows", "rows", n)
			}
			if dropped, err := a.tokens.Prune(ctx); err != nil && ctx.Err() == nil {
				log.Error("prune signing keys", "cause", err.Error())
			} else if len(dropped) > 0 {
				log.Info("dropped retired signing keys: every token they signed has expired", "kids", dropped)
			}
		}
	}
}

type inviteOutput struct {
	OrgID            string `json:"orgId"`
	UserID           string `json:"userId"`
	Username         string `json:"username"`
	RegistrationCode string `json:"registrationCode"`
	RegistrationURL  string `json:"registrationUrl"`
}

func invite(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var asJSON bool
	var orgID string
	a, cfg, username, err := openForCommand(ctx, "invite", "USERNAME", args, stderr, func(fs *flag.FlagSet) {
		fs.BoolVar(&asJSON, "json", false, "print one JSON line instead of text")
		fs.StringVar(&orgID, "org", "", "organisation id (default: the server's organisation, created on first use)")
	})
	if err != nil {
		return err
	}
	defer a.store.Close()
	inv, err := a.ceremonies.Invite(ctx, webauthn.InviteRequest{OrgID: orgID, Username: username})
	renewed := false
	if errors.Is(err, store.ErrConflict) {
		// The user exists: a lost or expired invitation is issued again,
		// replacing the old code, as long as nobody has registered with it.
		inv, err = a.ceremonies.Reinvite(ctx, orgID, username)
		if errors.Is(err, webauthn.ErrRegistered) {
			return fmt.Errorf("%q has already registered; they sign in at %s/login", username, cfg.Origins[0])
		}
		renewed = err == nil
	}
	if err != nil {
		return err
	}
	out := inviteOutput{
		OrgID: inv.Org.ID, UserID: inv.User.ID, Username: inv.User.Username,
		RegistrationCode: inv.Code, RegistrationURL: registrationURL(cfg.Origins[0], inv),
	}
	if asJSON {
		return writeJSONLine(stdout, out)
	}
	role := "user"
	if inv.Owner {
		role = "owner (holds every permission)"
	}
	if renewed {
		fmt.Fprintf(stdout, "%s had not registered yet: here is a new code (the previous one no longer works).\n", out.Username)
	} else {
		fmt.Fprintf(stdout, "Invited %s as %s of organisation %s.\n", out.Username, role, out.OrgID)
	}
	fmt.Fprintf(stdout, "Registration code: %s (valid until %s)\nRegistration link: %s\n",
		out.RegistrationCode, inv.ExpiresAt.Format(time.RFC1123), out.RegistrationURL)
	return nil
}

type recoverOutput struct {
	OrgID     string `json:"orgId"`
	UserID    string `json:"userId"`
	Username  string `json:"username"`
	ResetURL  string `json:"resetUrl"`
	ExpiresAt string `json:"expiresAt"`
}

// recoverUser prints a reset link for a registered person, for the owner
// of a one-person organisation who lost every passkey: whoever runs it
// reads the data directory, and holds every key already. Opening the link
// registers a new passkey and retires every earlier credential and token.
func recoverUser(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var asJSON bool
	var orgID string
	a, cfg, username, err := openForCommand(ctx, "recover", "USERNAME", args, stderr, func(fs *flag.FlagSet) {
		fs.BoolVar(&asJSON, "json", false, "print one JSON line instead of text")
		fs.StringVar(&orgID, "org", "", "organisation id (default: the server's organisation)")
	})
	if err != nil {
		return err
	}
	defer a.store.Close()
	link, err := a.ceremonies.IssueResetByOperator(ctx, orgID, username)
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("no user %q in the organisation", username)
	}
	if errors.Is(err, webauthn.ErrNotRecoverable) {
		return fmt.Errorf("%q is not an active, registered person: invite them again with \"countersign invite %s\"", username, username)
	}
	if err != nil {
		return err
	}
	out := recoverOutput{
		OrgID: link.User.OrgID, UserID: link.User.ID, Username: link.User.Username,
		ResetURL:  cfg.Origins[0] + "/recover?" + url.Values{"reset": {link.Code}}.Encode(),
		ExpiresAt: link.ExpiresAt.UTC().Format(time.RFC3339),
	}
	if asJSON {
		return writeJSONLine(stdout, out)
	}
	fmt.Fprintf(stdout, "Reset link for %s (valid until %s, works once):\n\n  %s\n\n"+
		"Opening it creates a new passkey; every earlier passkey, key, access token and session of %s stops working.\n",
		out.Username, link.ExpiresAt.Format(time.RFC1123), out.ResetURL, out.Username)
	return nil
}

// openForCommand parses the flags of a sub-command that works on a
// server's store with its configuration (the store and server flags, and
// those extra adds) and opens them. arg names the one positional argument
// it takes ("USERNAME"), or is "" when it takes none.
func openForCommand(ctx context.Context, name, arg string, args []string, stderr io.Writer, extra func(*flag.FlagSet)) (*app, Config, string, error) {
	var cfg Config
	var origins stringList
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	storeFlags(fs, &cfg)
	serverFlags(fs, &cfg, &origins)
	if extra != nil {
		extra(fs)
	}
	fs.Usage = usageWithEnv(fs)
	positional, err := parseFlags(fs, args, arg != "")
	if err != nil {
		return nil, cfg, "", err
	}
	switch {
	case arg == "" && len(positional) > 0:
		return nil, cfg, "", fmt.Errorf("%s takes no arguments\n%s", name, usage)
	case arg != "" && len(positional) != 1:
		return nil, cfg, "", fmt.Errorf("%s takes exactly one %s\n%s", name, arg, usage)
	}
	if err := cfg.finish(origins, true); err != nil {
		return nil, cfg, "", fmt.Errorf("configuration:\n%w", err)
	}
	a, err := open(ctx, cfg, slog.New(slog.NewTextHandler(stderr, nil)), nil)
	if err != nil {
		return nil, cfg, "", err
	}
	if arg == "" {
		return a, cfg, "", nil
	}
	return a, cfg, positional[0], nil
}

// writeJSONLine prints v as one JSON line, for scripts (--json).
func writeJSONLine(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

func registrationURL(origin string, inv webauthn.Invited) string {
	q := url.Values{"org": {inv.Org.ID}, "username": {inv.User.Username}, "code": {inv.Code}}
	return origin + "/register?" + q.Encode()
}

func randomKey() []byte {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic("crypto/rand: " + err.Error())
	}
	return b
}

// rotateSessionKeys puts a new key pair first in the session keyring and
// keeps the previous one, so cookies sealed before still open until they
// expire. Servers load the keyring at start: restart them (one by one).
func rotateSessionKeys(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cfg Config
	fs := flag.NewFlagSet("rotate-session-keys", flag.ContinueOnError)
	fs.SetOutput(stderr)
	storeFlags(fs, &cfg)
	fs.Usage = usageWithEnv(fs)
	if _, err := parseFlags(fs, args, false); err != nil {
		return err
	}
	if err := cfg.finish(nil, false); err != nil {
		return fmt.Errorf("configuration:\n%w", err)
	}
	st, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	ring, err := server.RotateSessionKeys(ctx, st)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Session keyring rotated: %d key pairs (the newest seals new cookies). Restart the servers to use it.\n", ring)
	return nil
}
