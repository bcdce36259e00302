package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"countersign/store"
)

// maxBatch bounds the units of work one transaction commits together.
const maxBatch = 128

// checkpointEvery is how many committed transactions the writer lets pass
// between two checkpoints of the WAL into the database file, which its
// checkpointer runs beside it (PASSIVE: it never blocks the writer or the
// readers) instead of SQLite running one inside a commit.
const checkpointEvery = 256

// errClosed: the store was closed while a write waited for the writer.
var errClosed = fmt.Errorf("%w: the sqlite store is closed", store.ErrUnavailable)

// writer is the one goroutine of a Store that writes. Every unit of work
// that writes is handed to it (Write) instead of each beginning its own
// BEGIN IMMEDIATE transaction: SQLite has one writer at a time, and
// connections competing for its lock sleep in the busy handler (1 to 100
// ms back-offs) while the others queue for the connections those sleepers
// hold. Here they queue in Go instead, and group commit: the units that
// arrive while one transaction is being committed (its fsync) are run
// together in the next one, each in a savepoint of its own so that one
// failing rolls back alone, and committed by one fsync. Write returns only
// once the transaction holding the unit is committed (synchronous=FULL:
// on disk), so no request is answered before its write is durable.
type writer struct {
	db *sql.DB
	// conn is the connection the writer's transactions run on, kept
	// between them: a connection's page cache survives its own commits
	// but not another's, so a writer moving across the pool would read
	// back every page it touches on each transaction (only the writer
	// goroutine uses it; nil until the first transaction or after it
	// broke).
	conn    *sql.Conn
	jobs    chan *job // at most maxBatch waiting; more Writes block sending
	closing chan struct{}
	done    chan struct{}
	once    sync.Once
	// checkpoint wakes the checkpointer (buffered 1: a wake-up while one
	// runs is kept, more are one); checkpointed closes when it stops.
	checkpoint   chan struct{}
	checkpointed chan struct{}
	sinceCheck   int
	// restart is set by the checkpointer once it has copied the WAL into
	// the database: the writer then restarts the WAL between two of its
	// transactions (restartWAL).
	restart chan struct{}

	// batches and units count the transactions committed and the units of
	// work they held (tests and the benchmark read them).
	batches atomic.Int64
	units   atomic.Int64
}

type job struct {
	ctx context.Context
	fn  func(tx *sql.Tx) error
	err chan error // buffered 1: the writer never waits for the caller
}

func newWriter(db *sql.DB) *writer {
	w := &writer{db: db, jobs: make(chan *job, maxBatch), closing: make(chan struct{}), done: make(chan struct{}),
		checkpoint: make(chan struct{}, 1), checkpointed: make(chan struct{}), restart: make(chan struct{}, 1)}
	go w.run()
	go w.checkpointer()
	return w
}

// checkpointer copies the WAL into the database file when the writer asks,
// and once more when the store closes.
func (w *writer) checkpointer() {
	defer close(w.checkpointed)
	for {
		select {
		case <-w.checkpoint:
		case <-w.done:
			_, _ = w.db.Exec(`PRAGMA wal_checkpoint(PASSIVE)`)
			return
		}
		// A failure (another process holds the checkpoint lock) is
		// retried at the next wake-up; the WAL only grows meanwhile.
		if _, err := w.db.Exec(`PRAGMA wal_checkpoint(PASSIVE)`); err == nil {
			select {
			case w.restart <- struct{}{}:
			default:
			}
		}
	}
}

// restartBusy bounds, in milliseconds, how long restartWAL waits for
// readers of older snapshots to finish before giving up until the next
// checkpoint.
const restartBusy = 5

// restartWAL checkpoints the frames committed since the checkpointer's
// pass and, once no reader still reads from the WAL, makes the next
// transaction write it again from its start. A PASSIVE checkpoint alone
// never gets there under steady load: the writer appends while it copies.
// Then the WAL grows without bound (hundreds of megabytes a minute), and
// every commit appends to a growing file, whose fsync also journals the
// file's new size: about twice the cost of overwriting frames in place.
// It runs between two of the writer's transactions, on a connection whose
// busy timeout is a few milliseconds instead of the pool's ten seconds, so
// a long reader (a backup, a large listing) delays it, never the writes.
func (w *writer) restartWAL() {
	ctx := context.Background()
	c, err := w.db.Conn(ctx)
	if err != nil {
		return
	}
	defer c.Close()
	if _, err := c.ExecContext(ctx, fmt.Sprintf(`PRAGMA busy_timeout = %d`, restartBusy)); err != nil {
		_ = c.Raw(func(any) error { return driver.ErrBadConn }) // never back to the pool half-set
		return
	}
	_, _ = c.ExecContext(ctx, `PRAGMA wal_checkpoint(RESTART)`)
	if _, err := c.ExecContext(ctx, fmt.Sprintf(`PRAGMA busy_timeout = %d`, busyTimeout)); err != nil {
		_ = c.Raw(func(any) error { return driver.ErrBadConn })
	}
}

// Write runs fn in a write transaction and returns once that transaction
// is committed, or fn's error (its changes rolled back alone), or the
// transaction's error (nothing of it committed). fn must use only tx and
// must not call Write.
func (w *writer) Write(ctx context.Context, fn func(tx *sql.Tx) error) error {
	j := &job{ctx: ctx, fn: fn, err: make(chan error, 1)}
	select {
	case w.jobs <- j:
	case <-ctx.Done():
		return ctx.Err()
	case <-w.closing:
		return errClosed
	}
	// Once queued, the unit runs or is refused by the writer: wait for the
	// outcome even if ctx ends meanwhile, so a committed write is never
	// reported as failed. A unit still queued when the writer stops never
	// ran.
	select {
	case err := <-j.err:
		return err
	case <-w.done:
		select {
		case err := <-j.err:
			return err
		default:
			return errClosed
		}
	}
}

// close stops the writer once the transaction in progress is done; Writes
// waiting then fail with errClosed.
func (w *writer) close() {
	w.once.Do(func() { close(w.closing) })
	<-w.done
	<-w.checkpointed
}

func (w *writer) run() {
	defer close(w.done)
	defer func() {
		if w.conn != nil {
			w.conn.Close()
		}
	}()
	batch := make([]*job, 0, maxBatch)
	for {
		select {
		case <-w.restart:
			w.restartWAL()
			continue
		default:
		}
		select {
		case j := <-w.jobs:
			batch = append(batch[:0], j)
		case <-w.restart:
			w.restartWAL()
			continue
		case <-w.closing:
			return
		}
		// Everyone already waiting joins this transaction.
	drain:
		for len(batch) < maxBatch {
			select {
			case j := <-w.jobs:
				batch = append(batch, j)
			default:
				break drain
			}
		}
		w.commit(batch)
		clear(batch)
	}
}

// commit runs batch in one transaction and answers each unit.
func (w *writer) commit(batch []*job) {
	live := batch[:0:0]
	for _, j := range batch {
		if err := j.ctx.Err(); err != nil {
			j.err <- err
			continue
		}
		live = append(live, j)
	}
	if len(live) == 0 {
		return
	}
	// The transaction's own context is not any unit's: one caller giving
	// up must not roll back the others.
	tx, err := w.begin()
	if err != nil {
		fail(live, fmt.Errorf("begin: %w", err))
		return
	}
	errs := make([]error, len(live))
	if len(live) == 1 {
		errs[0] = live[0].fn(tx)
		if errs[0] != nil {
			_ = tx.Rollback()
			live[0].err <- errs[0]
			return
		}
	} else if err := runSavepoints(tx, live, errs); err != nil {
		_ = tx.Rollback()
		fail(live, err)
		return
	}
	committed := 0
	for _, e := range errs {
		if e == nil {
			committed++
		}
	}
	if committed == 0 {
		_ = tx.Rollback()
	} else if err := tx.Commit(); err != nil {
		for i := range errs {
			if errs[i] == nil {
				errs[i] = fmt.Errorf("commit: %w", err)
			}
		}
	} else {
		w.batches.Add(1)
		w.units.Add(int64(committed))
		if w.sinceCheck++; w.sinceCheck >= checkpointEvery {
			w.sinceCheck = 0
			select {
			case w.checkpoint <- struct{}{}:
			default:
			}
		}
	}
	for i, j := range live {
		j.err <- errs[i]
	}
}

// begin begins a transaction on the writer's connection, taking one from
// the pool first when it has none, and again once if the one it held
// broke.
func (w *writer) begin() (*sql.Tx, error) {
	ctx := context.Background()
	for attempt := 0; ; attempt++ {
		if w.conn == nil {
			c, err := w.db.Conn(ctx)
			if err != nil {
				return nil, err
			}
			w.conn = c
		}
		tx, err := w.conn.BeginTx(ctx, nil)
		if err == nil || attempt > 0 || !(errors.Is(err, sql.ErrConnDone) || errors.Is(err, driver.ErrBadConn)) {
			return tx, err
		}
		w.conn.Close()
		w.conn = nil
	}
}

// runSavepoints runs each unit in a savepoint of tx, rolling back to it
// when the unit fails; its error is the unit's. A savepoint that cannot be
// taken or undone (SQLite rolled the whole transaction back, as it does on
// some I/O and full-disk errors) fails the whole batch.
func runSavepoints(tx *sql.Tx, units []*job, errs []error) error {
	ctx := context.Background()
	for i, j := range units {
		if _, err := tx.ExecContext(ctx, `SAVEPOINT unit`); err != nil {
			return fmt.Errorf("savepoint: %w", err)
		}
		if errs[i] = j.fn(tx); errs[i] != nil {
			if _, err := tx.ExecContext(ctx, `ROLLBACK TO unit`); err != nil {
				return fmt.Errorf("roll back unit: %w (after %w)", err, errs[i])
			}
		}
		if _, err := tx.ExecContext(ctx, `RELEASE unit`); err != nil {
			return fmt.Errorf("release savepoint: %w", err)
		}
	}
	return nil
}

func fail(units []*job, err error) {
	for _, j := range units {
		j.err <- err
	}
}
