// Package sqlstore holds the SQL of store.Store once for both database
// backends, store/sqlite and store/postgres: every method's statements,
// transactions, scans and error mapping. A backend opens its *sql.DB,
// migrates it, and wraps it with New and its Dialect; its Store embeds the
// *Store returned here and adds Close.
//
// Statements are written once with ? placeholders and rebound to $1, $2, ...
// for a dialect that numbers them (see Dialect.NumberedPlaceholders); no
// statement has a ? inside a string literal or a quoted identifier.
// Booleans are passed as Go bools and written as TRUE and FALSE, which
// SQLite (INTEGER 0 and 1) and PostgreSQL (BOOLEAN) both read and scan back.
// The rest of what differs is in the Dialect: the insertion-order column
// (rowid or seq), the byte-order collation of ids, the row locks a check
// takes before its write, the "no limit" LIMIT argument, how a unique
// violation is recognised and how a write transaction begins.
//
// The storage decisions themselves (times, lists, usernames, single use,
// signed changes, pages) are described in store/sqlite's package comment,
// with PostgreSQL's adaptations in store/postgres's.
//
// It imports only store and the standard library: no driver, no migration
// library. Nothing but the two backends imports it.
package sqlstore
