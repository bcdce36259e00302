// Package storetest is the conformance suite every store.Store backend must
// pass: Run gives each behaviour its own subtest on a fresh store.
//
// The suite's clock is fixed (no sleeps, no wall clock): every time it
// stores is a whole millisecond in UTC, so backends may truncate stored
// times to the millisecond (SQLite does) or the microsecond (PostgreSQL's
// timestamptz), and must return them in UTC. One subtest stores times in
// another zone with nanoseconds and checks exactly that.
//
// It imports store and testing only, and is imported by backend tests only.
package storetest
