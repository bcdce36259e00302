// Command loadgen measures countersign over HTTP: it starts each build it
// is given on loopback, on SQLite and (with -postgres) PostgreSQL, and runs
// closed-loop clients against it (Key login, passkey login, signed action,
// read) at each concurrency for a bounded time, builds interleaved cell by
// cell and round by round so that they share the machine's noise. It
// prints throughput, latency percentiles, the server's CPU time per
// operation (from /proc) and that CPU time's ratio to the signatures the
// operation must verify, measured in the same run.
//
//	go run ./cmd/loadgen -server new=bin/countersign -server base=/path/to/old/countersign \
//	    -postgres "$DSN" -concurrency 1,16,64 -duration 5s -rounds 3
//
// It sends traffic to 127.0.0.1 only, to servers it started itself.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

type buildFlag []build

type build struct{ name, binary string }

func (b *buildFlag) String() string { return fmt.Sprint(*b) }
func (b *buildFlag) Set(v string) error {
	name, bin, ok := strings.Cut(v, "=")
	if !ok || name == "" || bin == "" {
		return errors.New("want name=path/to/countersign")
	}
	abs, err := filepath.Abs(bin)
	if err != nil {
		return err
	}
	*b = append(*b, build{name, abs})
	return nil
}

// options are the command line.
type options struct {
	builds      buildFlag
	postgres    string
	sqlite      bool
	scenarios   []string
	concurrency []int
	duration    time.Duration
	rounds      int
	maxOps      int
	workdir     string
}

// scenarios maps a name to the operation one worker repeats.
var scenarios = map[string]func(*client, context.Context) error{
	"key-login":     func(c *client, ctx context.Context) error { _, err := c.loginKey(ctx); return err },
	"passkey-login": (*client).loginPasskey,
	"signed-action": (*client).signedAction,
	"read":          (*client).read,
}

var scenarioOrder = []string{"key-login", "passkey-login", "signed-action", "read"}

func main() {
	var o options
	var scen, conc string
	flag.Var(&o.builds, "server", "name=path of a countersign binary to measure (repeatable; the first is the one compared)")
	flag.StringVar(&o.postgres, "postgres", "", "a PostgreSQL DSN (on this machine) to measure on too; each server gets a schema of its own")
	flag.BoolVar(&o.sqlite, "sqlite", true, "measure on SQLite")
	flag.StringVar(&scen, "scenarios", strings.Join(scenarioOrder, ","), "operations to measure")
	flag.StringVar(&conc, "concurrency", "1,16,64", "closed-loop clients, comma-separated")
	flag.DurationVar(&o.duration, "duration", 5*time.Second, "time each cell runs (at most a minute)")
	flag.IntVar(&o.rounds, "rounds", 3, "times each cell runs, builds interleaved")
	flag.IntVar(&o.maxOps, "max-ops", 200000, "operations a cell stops at, whatever its time")
	flag.StringVar(&o.workdir, "workdir", "", "where the databases and server logs go (default: a new temporary directory)")
	flag.Parse()
	if err := o.parse(scen, conc); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		flag.Usage()
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

func (o *options) parse(scen, conc string) error {
	if len(o.builds) == 0 {
		return errors.New("no -server given")
	}
	for _, s := range strings.Split(scen, ",") {
		if _, ok := scenarios[s]; !ok {
			return fmt.Errorf("unknown scenario %q (have %s)", s, strings.Join(scenarioOrder, ", "))
		}
		o.scenarios = append(o.scenarios, s)
	}
	for _, c := range strings.Split(conc, ",") {
		n, err := strconv.Atoi(c)
		if err != nil || n < 1 || n > 256 {
			return fmt.Errorf("concurrency %q is not 1 to 256", c)
		}
		o.concurrency = append(o.concurrency, n)
	}
	if o.duration <= 0 || o.duration > time.Minute || o.rounds < 1 || o.rounds > 20 || o.maxOps < 1 {
		return errors.New("-duration must be within a minute, -rounds 1 to 20, -max-ops positive")
	}
	if !o.sqlite && o.postgres == "" {
		return errors.New("neither SQLite nor PostgreSQL to measure on")
	}
	return nil
}

func run(ctx context.Context, o options) error {
	if o.workdir == "" {
		dir, err := os.MkdirTemp("", "countersign-load-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		o.workdir = dir
	}
	var dbs []string
	if o.sqlite {
		dbs = append(dbs, "sqlite")
	}
	if o.postgres != "" {
		dbs = append(dbs, "postgres")
	}
	fmt.Printf("countersign load: %d round(s) of %s per cell, builds %s, interleaved\n", o.rounds, o.duration, names(o.builds))
	results := &table{}
	for _, db := range dbs {
		err := runDatabase(ctx, o, db, results)
		// What was measured is printed even when a later cell fails.
		results.print(os.Stdout, o)
		if err != nil {
			return fmt.Errorf("%s: %w", db, err)
		}
	}
	return nil
}

func names(bs []build) string {
	var out []string
	for _, b := range bs {
		out = append(out, b.name+"="+b.binary)
	}
	return strings.Join(out, ", ")
}

// runDatabase starts every build on a fresh database of kind db, sets up
// its clients and runs the cells.
func runDatabase(ctx context.Context, o options, db string, results *table) error {
	maxConc := 0
	for _, c := range o.concurrency {
		maxConc = max(maxConc, c)
	}
	var servers []*server
	defer func() {
		for _, s := range servers {
			s.stop()
		}
	}()
	clients := map[string][]*client{}
	httpc := &http.Client{Timeout: time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: 2 * maxConc, MaxConnsPerHost: 4 * maxConc}}
	for _, b := range o.builds {
		dir := filepath.Join(o.workdir, db+"-"+b.name)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return err
		}
		dsn := filepath.Join(dir, "countersign.db")
		if db == "postgres" {
			var err error
			if dsn, err = freshSchema(ctx, o.postgres, "load_"+b.name); err != nil {
				return err
			}
		}
		s, err := startServer(ctx, b.name, b.binary, dsn, dir)
		if err != nil {
			return err
		}
		servers = append(servers, s)
		fmt.Printf("%s: %s ready at %s; setting up %d clients\n", db, b.name, s.base, maxConc)
		cs, err := setUpClients(ctx, s, httpc, maxConc)
		if err != nil {
			return fmt.Errorf("%s: %w", b.name, err)
		}
		clients[b.name] = cs
	}
	for round := range o.rounds {
		floor := measureFloor()
		results.floors = append(results.floors, floor)
		for _, scen := range o.scenarios {
			for _, conc := range o.concurrency {
				for i := range servers {
					// Alternate which build goes first, round by round.
					s := servers[(i+round)%len(servers)]
					r, err := runCell(ctx, s, clients[s.name][:conc], scenarios[scen], o)
					if err != nil {
						return fmt.Errorf("%s %s at %d: %w", s.name, scen, conc, err)
					}
					fmt.Printf("  round %d %-8s %-13s c=%-3d %s\n", round+1, s.name, scen, conc, r)
					results.add(cellKey{db, scen, conc, s.name}, r)
				}
			}
		}
	}
	return nil
}

// setUpClients registers n clients' users, a few at a time.
func setUpClients(ctx context.Context, s *server, httpc *http.Client, n int) ([]*client, error) {
	cs := make([]*client, n)
	errs := make([]error, n)
	sem := make(chan struct{}, 4)
	var wg sync.WaitGroup
	for i := range n {
		cs[i] = &client{srv: s, http: httpc}
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			errs[i] = cs[i].setUp(ctx, i)
		})
	}
	wg.Wait()
	return cs, errors.Join(errs...)
}

// runCell runs op on every client in a closed loop for o.duration (or
// o.maxOps operations) and measures it.
func runCell(ctx context.Context, s *server, cs []*client, op func(*client, context.Context) error, o options) (cell, error) {
	cpu0, err := s.cpu()
	if err != nil {
		return cell{}, err
	}
	var (
		mu        sync.Mutex
		latencies []time.Duration
		failures  []error
		ops       int
	)
	start := time.Now()
	deadline := start.Add(o.duration)
	var wg sync.WaitGroup
	for _, c := range cs {
		wg.Go(func() {
			var mine []time.Duration
			for time.Now().Before(deadline) && ctx.Err() == nil {
				mu.Lock()
				if ops >= o.maxOps {
					mu.Unlock()
					break
				}
				ops++
				mu.Unlock()
				t0 := time.Now()
				err := op(c, ctx)
				if err != nil {
					mu.Lock()
					failures = append(failures, err)
					mu.Unlock()
					continue
				}
				mine = append(mine, time.Since(t0))
			}
			mu.Lock()
			latencies = append(latencies, mine...)
			mu.Unlock()
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	cpu1, err := s.cpu()
	if err != nil {
		return cell{}, err
	}
	if len(failures) > 0 {
		return cell{}, fmt.Errorf("%d of %d operations failed, the first: %w", len(failures), ops, failures[0])
	}
	return newCell(latencies, elapsed, cpu1-cpu0), nil
}
