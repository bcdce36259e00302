// Package store is countersign's persistence contract: the domain types, the
// Store interface every backend implements, and the sentinel errors.
//
// It imports nothing of countersign's. Backends live in sub-packages
// (store/sqlite) and must pass the conformance suite in store/storetest.
package store
