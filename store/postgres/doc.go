// Package postgres is the PostgreSQL backend of store.Store, for several
// replicas sharing one database. It uses pgx (github.com/jackc/pgx/v5)
// through database/sql, and its schema is migrated by goose from the SQL
// files embedded under migrations/, numbered as the SQLite dialect's. The
// statements themselves are shared with the SQLite backend in
// store/sqlstore; this package connects, migrates and supplies the dialect
// (postgres.go).
//
// Open migrates unless Options.SkipMigrations. Migration runs under a
// session-level advisory lock of the schema (see migrationLock), so
// replicas starting together migrate one after the other and the later
// ones find nothing pending. A database migrated by a newer release opens
// as is.
//
// Storage decisions are the SQLite dialect's (see store/sqlite's package
// comment), with these adaptations:
//
//   - Tables and columns have the SQLite names. Times are BIGINT unix
//     milliseconds (UTC), byte strings BYTEA, booleans BOOLEAN, string
//     lists JSON arrays in TEXT. The tables SQLite lists in rowid order
//     (user_account, credential, permission, assignment, audit_entry,
//     access_token) have a seq identity column instead, never written by
//     the store; pages are keyset pages by (created_at, seq) (see
//     store/sqlstore's page.go).
//   - Usernames are folded in Go (username_key), never by a collation, and
//     ids that break ties in an ORDER BY are compared COLLATE "C" (byte
//     order, as SQLite's BINARY), so both dialects sort alike.
//   - Transactions run at READ COMMITTED. Single use is one statement whose
//     affected rows decide: ConsumeChallenge is a DELETE ... RETURNING,
//     CompleteRegistration a conditional DELETE of the code, a signed
//     change's action use a conditional UPDATE of used_at (see
//     useUserAction in store/sqlstore). A statement waiting on a row lock
//     re-evaluates its WHERE on the committed row, so of concurrent
//     callers (any replica) exactly one wins. A check read before a write locks what it reads:
//     SetCredentialActive locks the user's credential rows before counting
//     the active ones, UpdateSecret, UpdatePermissionSigned and
//     DeleteAssignmentSigned lock the row they read.
//   - Unique and primary-key violations (SQLSTATE 23505) become
//     store.ErrConflict.
//
// It imports store, store/sqlstore, pgx and goose; nothing of countersign's
// imports it but package main (and tests).
package postgres
