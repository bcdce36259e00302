package main

import (
	"flag"
	"io"
	"os"
	"path/filepath"
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
	opsFlags(fs, &cfg.Ops)
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

func TestConfigurationFile(t *testing.T) {
	write := func(t *testing.T, body string) string {
		t.Helper()
		p := filepath.Join(t.TempDir(), "countersign.yaml")
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	t.Run("the example file in docs/ loads, with its upstream", func(t *testing.T) {
		cfg, err := parseServe(t, "--config", "docs/countersign.example.yaml")
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Listen != "localhost:8080" || cfg.HTTP.MaxConnections != 1024 || cfg.AccountLimit != 10 || len(cfg.Gateway) != 1 ||
			cfg.Gateway[0].Name != "orders" || len(cfg.Gateway[0].Routes) != 3 || cfg.Gateway[0].MaxBody != 1<<20 {
			t.Fatalf("config = %+v", cfg)
		}
	})
	t.Run("the example file names every flag of serve", func(t *testing.T) {
		raw, err := os.ReadFile("docs/countersign.example.yaml")
		if err != nil {
			t.Fatal(err)
		}
		var cfg Config
		var origins stringList
		fs := flag.NewFlagSet("serve", flag.ContinueOnError)
		storeFlags(fs, &cfg)
		serverFlags(fs, &cfg, &origins)
		opsFlags(fs, &cfg.Ops)
		fs.VisitAll(func(f *flag.Flag) {
			key := strings.ReplaceAll(f.Name, "-", "_")
			if f.Name == "origin" {
				key = "origins"
			}
			if f.Name != "config" && !strings.Contains(string(raw), "\n"+key+":") && !strings.Contains(string(raw), "# "+key+":") {
				t.Errorf("docs/countersign.example.yaml does not document %s (key %s)", f.Name, key)
			}
		})
	})
	t.Run("flags and the environment win over the file", func(t *testing.T) {
		p := write(t, "listen: 127.0.0.1:7000\nrp_name: from the file\nrate_limit: 3\norigins: [http://localhost:7000]\n")
		t.Setenv("COUNTERSIGN_RATE_LIMIT", "9")
		cfg, err := parseServe(t, "--config", p, "--rp-name", "from the flag")
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Listen != "127.0.0.1:7000" || cfg.RPName != "from the flag" || cfg.RateLimit != 9 || cfg.Origins[0] != "http://localhost:7000" {
			t.Fatalf("config = %+v", cfg)
		}
	})
	t.Run("unknown keys and bad values are all reported, with their lines", func(t *testing.T) {
		p := write(t, "listen: nope\nrate_limt: 3\nread_timeout: soon\norigins: [{a: 1}]\nupstreams:\n  - name: x\n    prefx: /x/\n    url: http://h\n    routes: [{method: GET, path: /x/a, operation: X:Read, colour: red}]\n")
		_, err := parseServe(t, "--config", p)
		if err == nil {
			t.Fatal("a bad file was accepted")
		}
		for _, want := range []string{`unknown key "rate_limt"`, "read_timeout", "origins", "line 7: field prefx not found", "colour"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("the error does not report %q:\n%v", want, err)
			}
		}
	})
	t.Run("invite reads the same file, taking what it uses", func(t *testing.T) {
		var cfg Config
		var origins stringList
		fs := flag.NewFlagSet("invite", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		storeFlags(fs, &cfg)
		serverFlags(fs, &cfg, &origins)
		if _, err := parseFlags(fs, []string{"--config", "docs/countersign.example.yaml"}, true); err != nil {
			t.Fatalf("invite with the example file: %v", err)
		}
	})
	t.Run("an empty file configures nothing", func(t *testing.T) {
		if _, err := parseServe(t, "--config", write(t, "")); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("a bad upstream is a start-up error", func(t *testing.T) {
		p := write(t, "upstreams:\n  - name: shop\n    prefix: /shop/\n    url: http://h\n    routes: [{method: POST, path: /shop/x, operation: Auth:Users:Delete}]\n")
		if _, err := parseServe(t, "--config", p); err == nil || !strings.Contains(err.Error(), "Dfns's own namespace") {
			t.Fatalf("err = %v", err)
		}
	})
}
