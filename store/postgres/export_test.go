package postgres

import (
	"database/sql"

	"github.com/pressly/goose/v3"
)

// NewProvider exposes the migration provider to the external tests, which
// migrate step by step.
func NewProvider(db *sql.DB) (*goose.Provider, error) { return newProvider(db) }
