package postgres_test

import (
	"database/sql"
	"fmt"
	"testing"

	"countersign/store/postgres"
)

// TestMigration3KeepsRowsAndPreviousWrites migrates a schema to 0002 with
// rows written as the previous release writes them, then to the newest
// schema: the rows read back with the new fields at their zero values, and
// the previous release's INSERTs, which name no new column, still work
// (replicas upgrade one by one).
func TestMigration3KeepsRowsAndPreviousWrites(t *testing.T) {
	dsn := freshSchema(t)
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatalf("sql.Open: %v", err)
	}
	defer db.Close()
	p, err := postgres.NewProvider(db)
	if err != nil {
		t.Fatalf("NewProvider: %v", err)
	}
	if _, err := p.UpTo(t.Context(), 2); err != nil {
		t.Fatalf("migrate to 0002: %v", err)
	}
	// The previous release's statements, columns as 0001 and 0002 name them.
	previous := func(n int) {
		t.Helper()
		for _, q := range []string{
			fmt.Sprintf(`INSERT INTO user_account (id, org_id, username, username_key, name, kind, user_handle,
				is_active, is_registered, is_service_account, created_at)
				VALUES ('us-%d', 'or-1', 'u%d', 'u%d', 'U', 'CustomerEmployee', 'uh-%d', TRUE, TRUE, FALSE, 1)`, n, n, n, n),
			fmt.Sprintf(`INSERT INTO credential (id, org_id, user_id, kind, cred_id, name, public_key,
				attestation_type, aaguid, transports, sign_count, user_present, user_verified,
				backup_eligible, backup_state, origin, rp_id, is_active, created_at,
				last_login_at, last_sign_at)
				VALUES ('cr-%d', 'or-1', 'us-%d', 'Fido2', 'cred-%d', 'k', '\x01', 'none', '\x', '[]', 0,
				TRUE, TRUE, FALSE, FALSE, 'o', 'r', TRUE, 1, NULL, NULL)`, n, n, n),
		} {
			if _, err := db.ExecContext(t.Context(), q); err != nil {
				t.Fatalf("previous release's insert %d: %v", n, err)
			}
		}
	}
	if _, err := db.ExecContext(t.Context(), `INSERT INTO org (id, name, created_at) VALUES ('or-1', 'Org', 1)`); err != nil {
		t.Fatalf("insert org: %v", err)
	}
	previous(1)

	s := open(t, dsn)
	previous(2)
	for _, id := range []string{"1", "2"} {
		u, err := s.GetUser(t.Context(), "us-"+id)
		if err != nil {
			t.Fatalf("GetUser us-%s: %v", id, err)
		}
		if u.IsArchived || u.IsSSORequired || u.ExternalID != "" || !u.IsActive {
			t.Errorf("user us-%s: got %+v, want active, unarchived, no SSO, no external id", id, u)
		}
		c, err := s.GetCredential(t.Context(), "cr-"+id)
		if err != nil {
			t.Fatalf("GetCredential cr-%s: %v", id, err)
		}
		if c.TokenID != "" {
			t.Errorf("credential cr-%s: got TokenID %q, want none", id, c.TokenID)
		}
	}
}
