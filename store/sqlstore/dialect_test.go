package sqlstore

import "testing"

func TestRebind(t *testing.T) {
	numbered := &Dialect{NumberedPlaceholders: true}
	plain := &Dialect{}
	for _, tc := range []struct{ in, want string }{
		{`SELECT 1`, `SELECT 1`},
		{`SELECT a FROM t WHERE id = ?`, `SELECT a FROM t WHERE id = $1`},
		{`INSERT INTO t (a, b, c) VALUES (?, ?, ?)`, `INSERT INTO t (a, b, c) VALUES ($1, $2, $3)`},
		{`UPDATE t SET a = COALESCE(?, a) WHERE id = ? AND b = '' AND c = ?`,
			`UPDATE t SET a = COALESCE($1, a) WHERE id = $2 AND b = '' AND c = $3`},
		{`SELECT '?', "a?b", ? FROM t WHERE x = 'it''s ?' AND y = ?`,
			`SELECT '?', "a?b", $1 FROM t WHERE x = 'it''s ?' AND y = $2`},
		{`ORDER BY id COLLATE "C" LIMIT ?`, `ORDER BY id COLLATE "C" LIMIT $1`},
	} {
		if got := numbered.rebind(tc.in); got != tc.want {
			t.Errorf("numbered rebind(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if got := plain.rebind(tc.in); got != tc.in {
			t.Errorf("plain rebind(%q) = %q, want it unchanged", tc.in, got)
		}
	}
}

func TestLockClauses(t *testing.T) {
	locking := &Dialect{RowLocks: true}
	if got := locking.forUpdate(); got != ` FOR UPDATE` {
		t.Errorf("forUpdate = %q", got)
	}
	if got := locking.forNoKeyUpdate(); got != ` FOR NO KEY UPDATE` {
		t.Errorf("forNoKeyUpdate = %q", got)
	}
	none := &Dialect{}
	if none.forUpdate() != "" || none.forNoKeyUpdate() != "" {
		t.Errorf("a dialect without row locks got a lock clause")
	}
}
