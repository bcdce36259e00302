package sqlite

import (
	"errors"
	"fmt"

	"github.com/gofrs/flock"
)

// ErrInUse: a restore was refused because a countersign process has the
// database open, or an open was refused because a restore is replacing it.
var ErrInUse = errors.New("database in use")

// Every countersign process that opens an SQLite database (serve, invite,
// backup, ...) holds a shared lock on <database>.lock for as long as it has
// the database open; Restore takes it exclusively, so it never replaces a
// file under a running process, and nobody opens the file while it does.
// The lock is an advisory flock: the kernel drops it when the process
// ends, however it ends, so a crash never leaves the database "in use".
// Tools other than countersign (the sqlite3 shell) do not take it.

func lockPath(path string) string { return path + ".lock" }

// lockShared takes the shared lock of the database at path.
func lockShared(path string) (*flock.Flock, error) {
	l := flock.New(lockPath(path), flock.SetPermissions(0o600))
	ok, err := l.TryRLock()
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", l.Path(), err)
	}
	if !ok {
		return nil, fmt.Errorf("%w: a restore is replacing %s", ErrInUse, path)
	}
	return l, nil
}

// lockExclusive takes the exclusive lock of the database at path.
func lockExclusive(path string) (*flock.Flock, error) {
	l := flock.New(lockPath(path), flock.SetPermissions(0o600))
	ok, err := l.TryLock()
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", l.Path(), err)
	}
	if !ok {
		return nil, fmt.Errorf("%w: a countersign process (serve, invite, backup, ...) has %s open; stop it first", ErrInUse, path)
	}
	return l, nil
}
