package main

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
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
	Migrate       bool
}

// stringList is a repeatable flag.
type stringList []string

func (l *stringList) String() string { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error {
	*l = append(*l, v)
	return nil
}

// env returns COUNTERSIGN_<NAME> or def.
func env(name, def string) string {
	if v, ok := os.LookupEnv("COUNTERSIGN_" + name); ok {
		return v
	}
	return def
}

// storeFlags registers the flags that locate the store, shared by every
// sub-command.
func storeFlags(fs *flag.FlagSet, c *Config) {
	fs.StringVar(&c.DataDir, "data-dir", env("DATA_DIR", "./data"), "directory for the embedded SQLite database (env COUNTERSIGN_DATA_DIR)")
	fs.StringVar(&c.Database, "database", env("DATABASE", ""), "SQLite file, or a postgres:// DSN for PostgreSQL (default: countersign.db in the data dir) (env COUNTERSIGN_DATABASE)")
	fs.BoolVar(&c.Migrate, "migrate", env("MIGRATE", "true") != "false", "apply database migrations at start (env COUNTERSIGN_MIGRATE)")
}

// serverFlags registers the flags of serve (and the origin that invite
// prints links with).
func serverFlags(fs *flag.FlagSet, c *Config, origins *stringList) {
	fs.StringVar(&c.Listen, "listen", env("LISTEN", "localhost:8080"), "address to listen on (env COUNTERSIGN_LISTEN)")
	fs.StringVar(&c.RPID, "rp-id", env("RP_ID", "localhost"), "WebAuthn relying party id (env COUNTERSIGN_RP_ID)")
	fs.StringVar(&c.RPName, "rp-name", env("RP_NAME", "countersign"), "relying party name shown by authenticators (env COUNTERSIGN_RP_NAME)")
	fs.Var(origins, "origin", "allowed origin, repeatable; the first is the public URL (default http://localhost:<listen port>) (env COUNTERSIGN_ORIGIN, comma-separated)")
	fs.DurationVar(&c.LoginTokenTTL, "login-token-ttl", envDuration("LOGIN_TOKEN_TTL", time.Hour), "lifetime of login tokens (env COUNTERSIGN_LOGIN_TOKEN_TTL)")
	fs.DurationVar(&c.ChallengeTTL, "challenge-ttl", envDuration("CHALLENGE_TTL", 5*time.Minute), "lifetime of challenges (env COUNTERSIGN_CHALLENGE_TTL)")
	fs.Float64Var(&c.RateLimit, "rate-limit", 20, "requests per second per IP on login and registration, 0 = off (env COUNTERSIGN_RATE_LIMIT)")
}

func envDuration(name string, def time.Duration) time.Duration {
	if v := env(name, ""); v != "" {
		if d, err := time.ParseDuration(v); err == nil {
			return d
		}
	}
	return def
}

// finish fills derived defaults and validates everything at once.
func (c *Config) finish(origins stringList) error {
	if c.Database == "" {
		c.Database = filepath.Join(c.DataDir, "countersign.db")
	}
	if len(origins) == 0 {
		if v := env("ORIGIN", ""); v != "" {
			origins = strings.Split(v, ",")
		}
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
	if c.LoginTokenTTL <= 0 || c.ChallengeTTL <= 0 {
		errs = append(errs, errors.New("lifetimes must be positive"))
	}
	if c.RateLimit < 0 {
		errs = append(errs, errors.New("--rate-limit must not be negative"))
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
