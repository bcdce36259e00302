package sqlstore

import (
	"context"
	"database/sql"
	"sync"
)

// maxStatements bounds the statements kept prepared (and the rebound
// texts kept): the store's queries are a fixed set, but a few are built
// from optional filters, so the set is bounded by the code, not by input.
// Past the bound a statement is sent as text.
const maxStatements = 512

// statements keeps every statement of the store prepared on the pool
// (database/sql prepares it again, once, on each connection that runs it)
// and, for dialects that number placeholders, the rebound text of each
// query. SQLite parses a statement's text each time it is run otherwise,
// which was a seventh of a signed action's time. A nil *statements
// prepares nothing and rebinds every time.
type statements struct {
	pool    *sql.DB
	prepare bool
	mu      sync.RWMutex
	byQuery map[string]*sql.Stmt
	texts   map[string]string
}

func newStatements(pool *sql.DB, prepare bool) *statements {
	return &statements{pool: pool, prepare: prepare, byQuery: map[string]*sql.Stmt{}, texts: map[string]string{}}
}

// get returns the prepared statement of query, preparing it on first use;
// nil when the dialect does not prepare, the bound is reached or the
// statement does not prepare (it is then sent as text, which reports its
// error).
func (p *statements) get(ctx context.Context, d *Dialect, query string) *sql.Stmt {
	if p == nil || !p.prepare {
		return nil
	}
	p.mu.RLock()
	st, ok := p.byQuery[query]
	n := len(p.byQuery)
	p.mu.RUnlock()
	if ok || n >= maxStatements {
		return st
	}
	st, err := p.pool.PrepareContext(ctx, d.rebind(query))
	if err != nil {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if prev, ok := p.byQuery[query]; ok {
		st.Close()
		return prev
	}
	p.byQuery[query] = st
	return st
}

// rebind returns query rebound for d, from the kept texts when it was
// rebound before.
func (p *statements) rebind(d *Dialect, query string) string {
	if p == nil || !d.NumberedPlaceholders {
		return d.rebind(query)
	}
	p.mu.RLock()
	text, ok := p.texts[query]
	n := len(p.texts)
	p.mu.RUnlock()
	if ok {
		return text
	}
	text = d.rebind(query)
	if n < maxStatements {
		p.mu.Lock()
		p.texts[query] = text
		p.mu.Unlock()
	}
	return text
}
