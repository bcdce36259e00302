package sqlite

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// Snapshot describes a database file written by Backup or put in place by
// Restore.
type Snapshot struct {
	Path          string
	Bytes         int64
	SchemaVersion int64  // the newest migration it has
	Replaced      string // Restore: where the database it replaced was kept, if any
}

// Backup writes a consistent copy of the database to dst while other
// connections, in this process or others, go on reading and writing.
// VACUUM INTO copies one read transaction's snapshot (in WAL mode writers
// are not blocked) into a new, compacted file; it is written next to dst,
// checked, synced and then renamed over dst, so dst is always either the
// previous file or a complete new one. The file is readable by its owner
// only: it holds the server's signing and cookie keys.
func (s *Store) Backup(ctx context.Context, dst string) (Snapshot, error) {
	tmp, err := reserveTemp(dst)
	if err != nil {
		return Snapshot{}, fmt.Errorf("backup: %w", err)
	}
	defer os.Remove(tmp) // a no-op once renamed
	if _, err := s.db.ExecContext(ctx, `VACUUM INTO ?`, tmp); err != nil {
		return Snapshot{}, fmt.Errorf("backup: vacuum into %s: %w", tmp, err)
	}
	snap, err := inspect(ctx, tmp)
	if err != nil {
		return Snapshot{}, fmt.Errorf("backup: the copy does not check out: %w", err)
	}
	if err := syncAndRename(tmp, dst); err != nil {
		return Snapshot{}, fmt.Errorf("backup: %w", err)
	}
	snap.Path = dst
	return snap, nil
}

// Restore puts the backup file src in place of the database at path. It
// holds the database's exclusive lock throughout, so it refuses (ErrInUse)
// while any countersign process has the database open, and nothing opens it
// meanwhile. src must be an intact countersign database no newer than this
// binary's schema. An existing database is replaced only when replace is
// set, and is first copied aside (<path>.before-restore-<time>, its WAL
// included) so a mistaken restore can be undone.
func Restore(ctx context.Context, src, path string, replace bool) (Snapshot, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return Snapshot{}, fmt.Errorf("restore: %w", err)
	}
	lock, err := lockExclusive(path)
	if err != nil {
		return Snapshot{}, fmt.Errorf("restore: %w", err)
	}
	defer lock.Close()

	tmp, err := reserveTemp(path)
	if err != nil {
		return Snapshot{}, fmt.Errorf("restore: %w", err)
	}
	defer os.Remove(tmp)
	if err := copyFile(src, tmp); err != nil {
		return Snapshot{}, fmt.Errorf("restore: %w", err)
	}
	snap, err := inspect(ctx, tmp)
	if err != nil {
		return Snapshot{}, fmt.Errorf("restore: %s is not a usable backup: %w", src, err)
	}
	versions, err := MigrationVersions()
	if err != nil {
		return Snapshot{}, err
	}
	if newest := slices.Max(versions); snap.SchemaVersion > newest {
		return Snapshot{}, fmt.Errorf("restore: %s has schema version %d, newer than this binary's %d: restore it with the release that made it", src, snap.SchemaVersion, newest)
	}

	if _, err := os.Stat(path); err == nil {
		if !replace {
			return Snapshot{}, fmt.Errorf("restore: %s exists; pass --replace to replace it (it is kept aside first)", path)
		}
		aside := fmt.Sprintf("%s.before-restore-%s", path, time.Now().UTC().Format("20060102T150405Z"))
		if err := vacuumInto(ctx, path, aside); err != nil {
			return Snapshot{}, fmt.Errorf("restore: keep the current database aside: %w", err)
		}
		snap.Replaced = aside
	} else if !errors.Is(err, os.ErrNotExist) {
		return Snapshot{}, fmt.Errorf("restore: %w", err)
	}
	// A WAL left by the replaced database would be replayed into the
	// restored one and corrupt it.
	for _, suffix := range []string{"-wal", "-shm"} {
		if err := os.Remove(path + suffix); err != nil && !errors.Is(err, os.ErrNotExist) {
			return Snapshot{}, fmt.Errorf("restore: %w", err)
		}
	}
	if err := syncAndRename(tmp, path); err != nil {
		return Snapshot{}, fmt.Errorf("restore: %w", err)
	}
	snap.Path = path
	return snap, nil
}

// reserveTemp creates an empty file, readable by its owner only, beside
// path, for VACUUM INTO (which accepts an empty file) or a copy.
func reserveTemp(path string) (string, error) {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	tmp := fmt.Sprintf("%s.tmp-%s", path, hex.EncodeToString(b[:]))
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return "", err
	}
	return tmp, f.Close()
}

// vacuumInto copies the database at src, with what its WAL holds, to a new
// file dst.
func vacuumInto(ctx context.Context, src, dst string) error {
	db, err := sql.Open("sqlite", src+"?_pragma=busy_timeout(10000)")
	if err != nil {
		return err
	}
	defer db.Close()
	f, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	f.Close()
	if _, err := db.ExecContext(ctx, `VACUUM INTO ?`, dst); err != nil {
		os.Remove(dst)
		return err
	}
	return nil
}

// inspect checks that path is an intact countersign database and reads its
// size and schema version. It opens the file with a connection of its own
// and closes it, so no WAL is left beside it.
func inspect(ctx context.Context, path string) (Snapshot, error) {
	db, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		return Snapshot{}, err
	}
	defer db.Close()
	var check string
	if err := db.QueryRowContext(ctx, `PRAGMA integrity_check`).Scan(&check); err != nil {
		return Snapshot{}, fmt.Errorf("integrity check: %w", err)
	}
	if check != "ok" {
		return Snapshot{}, fmt.Errorf("integrity check: %s", check)
	}
	var version sql.NullInt64
	if err := db.QueryRowContext(ctx, `SELECT MAX(version_id) FROM goose_db_version WHERE is_applied`).Scan(&version); err != nil {
		return Snapshot{}, fmt.Errorf("no countersign schema: %w", err)
	}
	var orgTable int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'org'`).Scan(&orgTable); err != nil || orgTable != 1 {
		return Snapshot{}, fmt.Errorf("no countersign schema (no org table): %v", err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		return Snapshot{}, err
	}
	return Snapshot{Bytes: fi.Size(), SchemaVersion: version.Int64}, nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// syncAndRename makes tmp durable, renames it to dst and syncs the
// directory, so that after a crash dst is the old file or the new one.
func syncAndRename(tmp, dst string) error {
	f, err := os.OpenFile(tmp, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, dst); err != nil {
		return err
	}
	dir, err := os.Open(filepath.Dir(dst))
	if err != nil {
		return err
	}
	defer dir.Close()
	return dir.Sync()
}
