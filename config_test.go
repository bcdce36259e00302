package main

import (
	"flag"
	"io"
	"strings"
	"testing"
	"time"
)

// parseServe parses serve's flags and environment as serve does.
func parseServe(t *testing.T, args ...string) (Config, error) {
	t.Helper()
	var cfg Config
	var origins stringList
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	storeFlags(fs, &cfg)
	serverFlags(fs, &cfg, &origins)
	if _, err := parseFlags(fs, args, false); err != nil {
		return cfg, err
	}
	return cfg, cfg.finish(origins, true)
}

func TestConfiguration(t *testing.T) {
	t.Run("the defaults make make run work", func(t *testing.T) {
		cfg, err := parseServe(t)
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Listen != "localhost:8080" || cfg.Database != "data/countersign.db" || cfg.RPID != "localhost" ||
			strings.Join(cfg.Origins, ",") != "http://localhost:8080" || cfg.LoginTokenTTL != time.Hour || cfg.RateLimit != 20 {
			t.Fatalf("defaults = %+v", cfg)
		}
	})
	t.Run("the environment sets what the command line leaves", func(t *testing.T) {
		t.Setenv("COUNTERSIGN_LISTEN", "127.0.0.1:9000")
		t.Setenv("COUNTERSIGN_ORIGIN", "https://a.example.com,https://b.example.com")
		t.Setenv("COUNTERSIGN_RP_ID", "example.com")
		t.Setenv("COUNTERSIGN_LOGIN_TOKEN_TTL", "15m")
		t.Setenv("COUNTERSIGN_RATE_LIMIT", "5")
		cfg, err := parseServe(t, "--rp-id", "a.example.com")
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Listen != "127.0.0.1:9000" || cfg.RPID != "a.example.com" || cfg.LoginTokenTTL != 15*time.Minute ||
			cfg.RateLimit != 5 || strings.Join(cfg.Origins, ",") != "https://a.example.com,https://b.example.com" {
			t.Fatalf("config = %+v", cfg)
		}
	})
	t.Run("the default origin follows the listen port", func(t *testing.T) {
		cfg, err := parseServe(t, "--listen", "127.0.0.1:9123")
		if err != nil || cfg.Origins[0] != "http://localhost:9123" {
			t.Fatalf("origins = %v, %v", cfg.Origins, err)
		}
	})
	t.Run("bad environment values are all reported at once", func(t *testing.T) {
		t.Setenv("COUNTERSIGN_CHALLENGE_TTL", "soon")
		t.Setenv("COUNTERSIGN_RATE_LIMIT", "many")
		_, err := parseServe(t)
		if err == nil || !strings.Contains(err.Error(), "COUNTERSIGN_CHALLENGE_TTL") || !strings.Contains(err.Error(), "COUNTERSIGN_RATE_LIMIT") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("bad flags are all reported at once", func(t *testing.T) {
		_, err := parseServe(t, "--origin", "ftp://x", "--listen", "nope")
		if err == nil || !strings.Contains(err.Error(), "ftp://x") || !strings.Contains(err.Error(), "--listen") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("a postgres DSN is never printed with its password", func(t *testing.T) {
		cfg := Config{Database: "postgres://u:secret@db:5432/cs"}
		if l := cfg.databaseLabel(); strings.Contains(l, "secret") {
			t.Fatalf("label = %s", l)
		}
	})
}
