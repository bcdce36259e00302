// Package sqlite is the SQLite backend of store.Store, on the pure-Go driver
// modernc.org/sqlite (no cgo), with its schema migrated by goose from the SQL
// files embedded under migrations/. The statements themselves are shared
// with the PostgreSQL backend in store/sqlstore; this package opens and
// migrates the file and supplies the dialect (sqlite.go).
//
// Every connection runs with journal_mode=WAL, synchronous=FULL (a write
// that returned survives a crash or kill -9), busy_timeout=10000 and
// foreign_keys=ON, and begins its transactions with BEGIN IMMEDIATE, so
// several processes (the server and a CLI invocation) can share one file:
// writers queue on the lock instead of failing on a read-to-write upgrade.
//
// Within a process every write goes through one writer goroutine
// (writer.go) instead of connections competing for SQLite's write lock in
// its busy handler: the units of work that arrive while a transaction is
// being committed are run together in the next one, each in a savepoint,
// and committed by one fsync (group commit), and none returns before its
// commit is on disk. The WAL is checkpointed beside the writer, not inside
// its commits, and restarted by the writer between two transactions, so it
// stays bounded under steady load; the writer keeps one connection (and
// its page cache) for itself. Statements are prepared once per connection. The store
// counts its commits with SQLite's commit hook (Commits), for the tests
// that hold operations to a budget of them.
//
// Open migrates unless Options.SkipMigrations. When two processes migrate a
// new file at once, the slower one's migration transaction fails on the
// tables the other created and rolls back, and Open succeeds because
// nothing is pending; so a migration must fail rather than repeat when its
// changes are already there (plain CREATE TABLE, ALTER TABLE). A file
// migrated by a newer release opens as is.
//
// Storage decisions, shared with the PostgreSQL dialect:
//
//   - Times are INTEGER unix milliseconds. Writes truncate to the
//     millisecond; reads return time.Time in UTC.
//   - String lists (operations, transports) are JSON arrays in TEXT.
//   - Usernames keep their case in username; username_key holds
//     strings.ToLower(username) and carries the per-org unique index, so
//     "Alice" and "alice" collide and either finds the user.
//   - Single use is one SQL statement: ConsumeChallenge is a DELETE ...
//     RETURNING, CompleteRegistration a conditional DELETE of the code whose
//     affected-row count decides, in one transaction with its inserts, and a
//     sealed challenge is spent by inserting its id into spent_challenge,
//     whose primary key refuses a second (RecordAssertion writes it with the
//     credential's use and the token or user action, in one transaction).
//   - A signed change (CreateCredentialSigned, SetCredentialActive,
//     RenameCredential) is one transaction: a conditional UPDATE sets the
//     user action's used_at (no row affected: store.ErrActionUsed), then the
//     change, then the audit entry. Any error rolls back all three, so a
//     failed change leaves its action unused. User actions are kept once
//     used, until DeleteExpired sweeps them; audit entries are kept forever.
//     The same holds for every other *Signed method (access tokens,
//     service accounts, users, permissions, assignments): their checks
//     (ErrNotFound, ErrImmutable) run inside the transaction, after the
//     action's use, so a refusal rolls the use back too.
//   - An access token is four rows written together: its bearer row in
//     token (same id, kind Pat or ServiceAccount), its Key credential
//     (token_id = the token's id), its access_token metadata and its
//     optional assignment. access_token.id has no foreign key to token:
//     DeleteExpired removes expired bearer rows and keeps the metadata and
//     the key, which the org still lists.
//   - A credential with a token_id is the token's, not its user's: it does
//     not count as the user's last active credential.
//   - Pages (ListUsers, ListPermissions, ListPermissionAssignments) are
//     keyset pages ordered by (created_at, rowid), after the row the
//     caller names (see store/sqlstore's page.go); a Limit <= 0 is no
//     limit.
//   - Permission names are unique per org, archived ones included,
//     compared exactly.
//   - Unique and primary-key violations become store.ErrConflict.
//
// It imports store, store/sqlstore, the driver and goose; nothing of
// countersign's imports it but package main (and tests).
package sqlite
