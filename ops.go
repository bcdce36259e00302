package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"time"

	"countersign/store/sqlite"
	"countersign/token"
)

// version is stamped by the release build (make dist):
// -ldflags "-X main.version=v1.2.3".
var version = "dev"

// printVersion prints the stamped version, the Go release and the target.
func printVersion(stdout io.Writer) error {
	goVersion := runtime.Version()
	if bi, ok := debug.ReadBuildInfo(); ok {
		goVersion = bi.GoVersion
	}
	fmt.Fprintf(stdout, "countersign %s (%s, %s/%s)\n", version, goVersion, runtime.GOOS, runtime.GOARCH)
	return nil
}

// opsConfig parses the store flags of an operator command that takes one
// FILE argument.
func opsConfig(name string, args []string, stderr io.Writer, extra func(fs *flag.FlagSet)) (Config, string, error) {
	var cfg Config
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	storeFlags(fs, &cfg)
	if extra != nil {
		extra(fs)
	}
	fs.Usage = usageWithEnv(fs)
	positional, err := parseFlags(fs, args, true)
	if err != nil {
		return cfg, "", err
	}
	if len(positional) != 1 {
		return cfg, "", fmt.Errorf("%s takes exactly one FILE\n%s", name, usage)
	}
	if err := cfg.finish(nil, false); err != nil {
		return cfg, "", fmt.Errorf("configuration:\n%w", err)
	}
	if cfg.isPostgres() {
		return cfg, "", fmt.Errorf("%s is for the embedded SQLite database; for PostgreSQL use pg_dump and pg_restore (see the README)", name)
	}
	return cfg, positional[0], nil
}

// backup writes a consistent copy of the SQLite database to FILE while
// servers go on using it.
func backup(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, file, err := opsConfig("backup", args, stderr, nil)
	if err != nil {
		return err
	}
	// Never migrate a database just to copy it: its servers may be of an
	// older release.
	st, err := sqlite.Open(ctx, cfg.Database, sqlite.Options{SkipMigrations: true})
	if err != nil {
		return err
	}
	defer st.Close()
	start := time.Now()
	snap, err := st.Backup(ctx, file)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Backed up %s to %s (%d bytes, schema version %d, %s).\n",
		cfg.Database, snap.Path, snap.Bytes, snap.SchemaVersion, time.Since(start).Round(time.Millisecond))
	return nil
}

// restore puts a backup in place of the SQLite database, refusing while any
// countersign process has the database open.
func restore(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var replace bool
	cfg, file, err := opsConfig("restore", args, stderr, func(fs *flag.FlagSet) {
		fs.BoolVar(&replace, "replace", false, "replace an existing database (it is kept aside first)")
	})
	if err != nil {
		return err
	}
	snap, err := sqlite.Restore(ctx, file, cfg.Database, replace)
	if errors.Is(err, sqlite.ErrInUse) {
		return fmt.Errorf("%w\nStop the servers (and any invite or backup) using %s, then run restore again", err, cfg.Database)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Restored %s from %s (%d bytes, schema version %d).\n", snap.Path, file, snap.Bytes, snap.SchemaVersion)
	if snap.Replaced != "" {
		fmt.Fprintf(stdout, "The database it replaced is kept as %s.\n", snap.Replaced)
	}
	return nil
}

// rotateSigningKey adds a new token-signing key that signs from now on; the
// previous one keeps verifying until every token it signed has expired.
func rotateSigningKey(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var immediately bool
	a, _, _, err := openForCommand(ctx, "rotate-signing-key", "", args, stderr, func(fs *flag.FlagSet) {
		fs.BoolVar(&immediately, "immediately", false,
			"sign with the new key at once instead of after every server has loaded it (servers that have not reload on the first token they do not know)")
	})
	if err != nil {
		return err
	}
	defer a.store.Close()
	rot, err := a.tokens.Rotate(ctx, immediately)
	if err != nil {
		return err
	}
	dropped, err := a.tokens.Prune(ctx)
	if err != nil {
		return err
	}
	retired, err := a.tokens.Retired(ctx)
	if err != nil {
		return err
	}
	if immediately {
		fmt.Fprintf(stdout, "New signing key %s signs from now on; servers pick it up without a restart.\n", rot.KID)
	} else {
		fmt.Fprintf(stdout, "New signing key %s is published now and signs from %s on, once every server has loaded it (they re-read the keys every %s; no restart).\n",
			rot.KID, rot.ActiveAt.Format(time.RFC3339), token.ReloadInterval)
	}
	for _, k := range retired {
		fmt.Fprintf(stdout, "Retired key %s stays published and valid until %s (the last token it may have signed expires then).\n",
			k.KID, k.Until.Format(time.RFC3339))
	}
	if len(dropped) > 0 {
		fmt.Fprintf(stdout, "Dropped %d retired keys whose tokens have all expired: %v\n", len(dropped), dropped)
	}
	return nil
}
