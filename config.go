package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/mail"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"countersign/gateway"
	"countersign/mailer"
)

// Config is every setting of countersign, from flags and COUNTERSIGN_* env.
type Config struct {
	Listen        string
	DataDir       string
	Database      string
	RPID          string
	RPName        string
	Origins       []string
	LoginTokenTTL time.Duration
	ChallengeTTL  time.Duration
	RateLimit     float64
	AccountLimit  float64
	Migrate       bool
	HTTP          HTTPLimits
	Ops           Ops
	// Upstreams are the gateway's services, from the configuration file;
	// finish compiles them into Gateway.
	Upstreams []gateway.Upstream
	Gateway   []gateway.Compiled
	// SMTPURL and MailFrom name the SMTP server and the sender of
	// invitations, registration codes, recovery codes and reset links;
	// without them countersign sends no e-mail.
	SMTPURL  string
	MailFrom string
}

// Ops are serve's operating settings: logs, metrics and shutdown.
type Ops struct {
	LogFormat       string // text or json
	LogLevel        string // debug, info, warn or error
	MetricsListen   string // address of the Prometheus listener; "" = off
	ShutdownTimeout time.Duration
}

// HTTPLimits bound what one client can hold of the server: time to send a
// request and read the answer, idle keep-alive time, header size, and how
// many connections are open at once.
type HTTPLimits struct {
	ReadHeaderTimeout time.Duration
	ReadTimeout       time.Duration
	WriteTimeout      time.Duration
	IdleTimeout       time.Duration
	MaxHeaderBytes    int
	MaxConnections    int
}

// stringList is a repeatable flag.
type stringList []string

func (l *stringList) String() string { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error {
	*l = append(*l, v)
	return nil
}

// envName is the environment variable of a flag: --rp-id is COUNTERSIGN_RP_ID.
func envName(flagName string) string {
	return "COUNTERSIGN_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// applyEnv sets every flag not given on the command line from its
// COUNTERSIGN_* variable, through the flag's own parser, so a bad value in
// the environment is reported like a bad flag. A repeatable flag takes a
// comma-separated list.
func applyEnv(fs *flag.FlagSet) error {
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		v, ok := os.LookupEnv(envName(f.Name))
		if given[f.Name] || !ok {
			return
		}
		values := []string{v}
		if _, repeatable := f.Value.(*stringList); repeatable {
			values = strings.Split(v, ",")
		}
		for _, one := range values {
			if err := fs.Set(f.Name, one); err != nil {
				errs = append(errs, fmt.Errorf("%s=%q: %w", envName(f.Name), v, err))
			}
		}
	})
	return errors.Join(errs...)
}

// parseFlags parses the command line, then the environment.
func parseFlags(fs *flag.FlagSet, args []string, interspersed bool) ([]string, error) {
	var positional []string
	var err error
	if interspersed {
		positional, err = parseInterspersed(fs, args)
	} else {
		err = fs.Parse(args)
		positional = fs.Args()
	}
	if err != nil {
		return nil, err
	}
	if err := applyEnv(fs); err != nil {
		return nil, fmt.Errorf("configuration:\n%w", err)
	}
	if f, ok := fs.Lookup("config").Value.(*configFile); ok {
		if err := f.applyFile(fs); err != nil {
			return nil, fmt.Errorf("configuration:\n%w", err)
		}
	}
	return positional, nil
}

// storeFlags registers the flags that locate the store, shared by every
// sub-command.
func storeFlags(fs *flag.FlagSet, c *Config) {
	fs.Var(&configFile{upstreams: &c.Upstreams}, "config", "YAML file with any of these settings (flags and environment win) and the gateway's upstreams")
	fs.StringVar(&c.DataDir, "data-dir", "./data", "directory for the embedded SQLite database")
	fs.StringVar(&c.Database, "database", "", "SQLite file, or a postgres:// DSN for PostgreSQL (default: countersign.db in the data dir)")
	fs.BoolVar(&c.Migrate, "migrate", true, "apply database migrations at start")
}

// serverFlags registers the flags of serve (and the origin that invite
// prints links with). Each flag also reads COUNTERSIGN_<FLAG> (applyEnv).
func serverFlags(fs *flag.FlagSet, c *Config, origins *stringList) {
	fs.StringVar(&c.Listen, "listen", "localhost:8080", "address to listen on")
	fs.StringVar(&c.RPID, "rp-id", "localhost", "WebAuthn relying party id")
	fs.StringVar(&c.RPName, "rp-name", "countersign", "relying party name shown by authenticators")
	fs.Var(origins, "origin", "allowed origin, repeatable; the first is the public URL (default http://localhost:<listen port>)")
	fs.DurationVar(&c.LoginTokenTTL, "login-token-ttl", time.Hour, "lifetime of login tokens and console sessions")
	fs.DurationVar(&c.ChallengeTTL, "challenge-ttl", 5*time.Minute, "lifetime of challenges")
	fs.Float64Var(&c.RateLimit, "rate-limit", 20, "requests per second per IP on login and registration, 0 = off")
	fs.Float64Var(&c.AccountLimit, "account-rate-limit", 10, "requests per second per account (login and registration by username) and per signed-in identity (action and credential challenges), 0 = off")
	fs.DurationVar(&c.HTTP.ReadHeaderTimeout, "read-header-timeout", 10*time.Second, "time a client has to send a request's headers")
	fs.DurationVar(&c.HTTP.ReadTimeout, "read-timeout", 30*time.Second, "time a client has to send a whole request, body included")
	fs.DurationVar(&c.HTTP.WriteTimeout, "write-timeout", 60*time.Second, "time from the end of a request's headers to the end of its answer")
	fs.DurationVar(&c.HTTP.IdleTimeout, "idle-timeout", 2*time.Minute, "how long an idle keep-alive connection stays open")
	fs.IntVar(&c.HTTP.MaxHeaderBytes, "max-header-bytes", 64<<10, "largest request header block accepted, in bytes")
	fs.IntVar(&c.HTTP.MaxConnections, "max-connections", 1024, "most client connections open at once; more wait to be accepted")
	fs.StringVar(&c.SMTPURL, "smtp-url", "", "SMTP server for e-mail: smtp://[user:password@]host[:port] (STARTTLS), smtps://… (TLS), smtp://host?tls=none (a local relay); empty = no e-mail")
	fs.StringVar(&c.MailFrom, "mail-from", "", "sender of countersign's e-mail, e.g. \"countersign <auth@example.com>\" (needed with --smtp-url)")
}

// opsFlags registers serve's operating flags.
func opsFlags(fs *flag.FlagSet, o *Ops) {
	fs.StringVar(&o.LogFormat, "log-format", "text", "log format: text or json")
	fs.StringVar(&o.LogLevel, "log-level", "info", "least level logged: debug, info, warn or error")
	fs.StringVar(&o.MetricsListen, "metrics-listen", "", "address of the Prometheus /metrics listener, e.g. 127.0.0.1:9090 (default off)")
	fs.DurationVar(&o.ShutdownTimeout, "shutdown-timeout", 30*time.Second, "on SIGTERM or SIGINT, how long requests in flight may take to finish")
}

// check validates the operating settings.
func (o Ops) check() error {
	var errs []error
	if o.LogFormat != "text" && o.LogFormat != "json" {
		errs = append(errs, fmt.Errorf("--log-format %q: want text or json", o.LogFormat))
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(o.LogLevel)); err != nil {
		errs = append(errs, fmt.Errorf("--log-level %q: want debug, info, warn or error", o.LogLevel))
	}
	if o.MetricsListen != "" {
		if _, _, err := net.SplitHostPort(o.MetricsListen); err != nil {
			errs = append(errs, fmt.Errorf("--metrics-listen %q: %w", o.MetricsListen, err))
		}
	}
	if o.ShutdownTimeout <= 0 {
		errs = append(errs, errors.New("--shutdown-timeout must be positive"))
	}
	return errors.Join(errs...)
}

// logger is the process's logger on w, in the configured format and level.
func (o Ops) logger(w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(o.LogLevel)) // checked by check
	opts := &slog.HandlerOptions{Level: level}
	if o.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// finish fills derived defaults and validates everything at once. server
// says whether serverFlags were registered (serve and invite): only then are
// lifetimes and limits part of the configuration.
func (c *Config) finish(origins stringList, server bool) error {
	if c.Database == "" {
		c.Database = filepath.Join(c.DataDir, "countersign.db")
	}
	if len(origins) == 0 {
		origins = stringList{defaultOrigin(c.Listen)}
	}
	c.Origins = nil
	for _, o := range origins {
		c.Origins = append(c.Origins, strings.TrimRight(strings.TrimSpace(o), "/"))
	}
	var errs []error
	if c.Listen != "" {
		if _, _, err := net.SplitHostPort(c.Listen); err != nil {
			errs = append(errs, fmt.Errorf("--listen %q: %w", c.Listen, err))
		}
	}
	for _, o := range c.Origins {
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("--origin %q is not an http(s) origin", o))
		}
	}
	if server {
		if c.LoginTokenTTL <= 0 || c.ChallengeTTL <= 0 {
			errs = append(errs, errors.New("lifetimes must be positive"))
		}
		if c.RateLimit < 0 || c.AccountLimit < 0 {
			errs = append(errs, errors.New("--rate-limit and --account-rate-limit must not be negative"))
		}
		errs = append(errs, c.HTTP.check())
		compiled, err := gateway.Compile(c.Upstreams)
		errs = append(errs, err)
		c.Gateway = compiled
		errs = append(errs, c.checkMail())
	}
	return errors.Join(errs...)
}

// checkMail: an SMTP URL that parses, and a sender with it.
func (c *Config) checkMail() error {
	if c.SMTPURL == "" {
		if c.MailFrom != "" {
			return errors.New("--mail-from is set but --smtp-url is not: set both to send e-mail")
		}
		return nil
	}
	var errs []error
	if err := mailer.CheckURL(c.SMTPURL); err != nil {
		errs = append(errs, fmt.Errorf("--smtp-url: %w", err))
	}
	if a, err := mail.ParseAddress(c.MailFrom); err != nil || a.Address == "" {
		errs = append(errs, fmt.Errorf("--mail-from %q must be an e-mail address (with --smtp-url)", c.MailFrom))
	}
	return errors.Join(errs...)
}

// check validates the limits of serve; sub-commands that do not serve skip it.
func (l HTTPLimits) check() error {
	var errs []error
	for name, d := range map[string]time.Duration{
		"--read-header-timeout": l.ReadHeaderTimeout, "--read-timeout": l.ReadTimeout,
		"--write-timeout": l.WriteTimeout, "--idle-timeout": l.IdleTimeout,
	} {
		if d <= 0 {
			errs = append(errs, fmt.Errorf("%s must be positive (an unbounded wait lets a slow client hold a connection forever)", name))
		}
	}
	if l.MaxHeaderBytes < 1<<10 || l.MaxHeaderBytes > 1<<20 {
		errs = append(errs, errors.New("--max-header-bytes must be 1024 to 1048576"))
	}
	if l.MaxConnections < 1 {
		errs = append(errs, errors.New("--max-connections must be at least 1"))
	}
	return errors.Join(errs...)
}

// isPostgres tells a PostgreSQL DSN from an SQLite file name.
func (c *Config) isPostgres() bool {
	return strings.HasPrefix(c.Database, "postgres://") || strings.HasPrefix(c.Database, "postgresql://")
}

// databaseLabel names the database for logs without leaking a password.
func (c *Config) databaseLabel() string {
	if !c.isPostgres() {
		return c.Database
	}
	u, err := url.Parse(c.Database)
	if err != nil {
		return "PostgreSQL"
	}
	return "PostgreSQL " + u.Redacted()
}

// defaultOrigin is http://localhost:<port of listen>.
func defaultOrigin(listen string) string {
	_, port, err := net.SplitHostPort(listen)
	if err != nil || port == "" || port == "0" {
		port = "8080"
	}
	return "http://localhost:" + port
}

// parseInterspersed parses flags that may stand before or after the
// positional arguments (`invite alice --json`).
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return positional, nil
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
}

// usageWithEnv prints the flags with the environment variable of each.
func usageWithEnv(fs *flag.FlagSet) func() {
	return func() {
		out := fs.Output()
		fmt.Fprintf(out, "usage of countersign %s (each flag also reads its COUNTERSIGN_* variable):\n", fs.Name())
		fs.VisitAll(func(f *flag.Flag) {
			fmt.Fprintf(out, "  --%s (%s)\n    \t%s", f.Name, envName(f.Name), f.Usage)
			if f.DefValue != "" && f.DefValue != "[]" {
				fmt.Fprintf(out, " (default %s)", f.DefValue)
			}
			fmt.Fprintln(out)
		})
	}
}
