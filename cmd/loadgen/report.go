package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"fmt"
	"io"
	"net/url"
	"runtime"
	"slices"
	"sort"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
	"golang.org/x/sys/unix"
)

// cell is one run of one operation at one concurrency on one server.
type cell struct {
	ops        int
	throughput float64       // operations per second
	p50, p99   time.Duration // of one whole operation, every request of it
	cpuPerOp   time.Duration // the server's CPU time per operation
}

func newCell(lat []time.Duration, elapsed, cpu time.Duration) cell {
	slices.Sort(lat)
	c := cell{ops: len(lat)}
	if len(lat) == 0 {
		return c
	}
	c.throughput = float64(len(lat)) / elapsed.Seconds()
	c.p50 = lat[len(lat)*50/100]
	c.p99 = lat[min(len(lat)-1, len(lat)*99/100)]
	c.cpuPerOp = cpu / time.Duration(len(lat))
	return c
}

func (c cell) String() string {
	return fmt.Sprintf("%7.0f ops/s  p50 %7.2f ms  p99 %7.2f ms  cpu %6.0f µs/op  (%d ops)",
		c.throughput, ms(c.p50), ms(c.p99), us(c.cpuPerOp), c.ops)
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// floor is the crypto an operation cannot avoid, measured in this run.
type floor struct {
	verify, sign time.Duration // one ECDSA P-256 verification, one signature
}

// measureFloor times ECDSA P-256 in this process, as the server does it,
// in CPU time of the thread that runs it (CLOCK_THREAD_CPUTIME_ID), the
// same measure as the server's CPU time: other processes on the machine
// delay it but do not add to it.
func measureFloor() floor {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	digest := sha256.Sum256([]byte(`{"type":"key.get","challenge":"abc"}`))
	sig, err := ecdsa.SignASN1(rand.Reader, key, digest[:])
	if err != nil {
		panic(err)
	}
	const n = 2000
	v := threadCPU(n, func() { ecdsa.VerifyASN1(&key.PublicKey, digest[:], sig) })
	s := threadCPU(n, func() { ecdsa.SignASN1(rand.Reader, key, digest[:]) })
	return floor{verify: v, sign: s}
}

// threadCPU returns the CPU time one call of f takes, over n calls on one
// locked OS thread.
func threadCPU(n int, f func()) time.Duration {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	f() // warm
	var t0, t1 unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &t0); err != nil {
		panic(err)
	}
	for range n {
		f()
	}
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &t1); err != nil {
		panic(err)
	}
	return time.Duration(t1.Nano()-t0.Nano()) / time.Duration(n)
}

// serverCrypto is the signature work the server must do per operation:
// verifying the assertion and, for a login, signing the token. A bearer
// token needs no verification once this process has verified it (the
// verified-token cache), so a read has none.
var serverCrypto = map[string]struct{ verifies, signs int }{
	"key-login":     {1, 1},
	"passkey-login": {1, 1},
	"signed-action": {1, 0},
	"read":          {0, 0},
}

func (f floor) of(scenario string) time.Duration {
	c := serverCrypto[scenario]
	return time.Duration(c.verifies)*f.verify + time.Duration(c.signs)*f.sign
}

type cellKey struct {
	db, scenario string
	conc         int
	build        string
}

// table collects every round's cells.
type table struct {
	cells  map[cellKey][]cell
	order  []cellKey
	floors []floor
}

func (t *table) add(k cellKey, c cell) {
	if t.cells == nil {
		t.cells = map[cellKey][]cell{}
	}
	if _, ok := t.cells[k]; !ok {
		t.order = append(t.order, k)
	}
	t.cells[k] = append(t.cells[k], c)
}

// medianFloor is the median of the rounds' floors.
func (t *table) medianFloor() floor {
	var v, s []time.Duration
	for _, f := range t.floors {
		v, s = append(v, f.verify), append(s, f.sign)
	}
	return floor{verify: median(v), sign: median(s)}
}

func median[T int64 | float64 | time.Duration](xs []T) T {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

func spread[T int64 | float64 | time.Duration](xs []T, f func(T) float64, format string) string {
	lo, hi := slices.Min(xs), slices.Max(xs)
	return fmt.Sprintf(format+"–"+format, f(lo), f(hi))
}

// print writes the medians (and ranges over the rounds) of every cell, and
// for each cell the first build's ratios to every other.
func (t *table) print(w io.Writer, o options) {
	fl := t.medianFloor()
	fmt.Fprintf(w, "\nCrypto floor (this run, median of %d): ECDSA P-256 verify %.1f µs, sign %.1f µs\n", len(t.floors), us(fl.verify), us(fl.sign))
	fmt.Fprintf(w, "Medians of %d rounds, [min–max] over the rounds.\n\n", o.rounds)
	fmt.Fprintf(w, "%-8s %-13s %4s %-8s %22s %9s %22s %11s %8s\n", "db", "operation", "c", "build", "ops/s [range]", "p50 ms", "p99 ms [range]", "cpu µs/op", "×floor")
	groups := map[cellKey][]cellKey{} // by cell without build
	var gorder []cellKey
	for _, k := range t.order {
		g := k
		g.build = ""
		if _, ok := groups[g]; !ok {
			gorder = append(gorder, g)
		}
		groups[g] = append(groups[g], k)
	}
	sort.SliceStable(gorder, func(i, j int) bool {
		a, b := gorder[i], gorder[j]
		if a.db != b.db {
			return a.db > b.db // sqlite first
		}
		if a.scenario != b.scenario {
			return slices.Index(scenarioOrder, a.scenario) < slices.Index(scenarioOrder, b.scenario)
		}
		return a.conc < b.conc
	})
	for _, g := range gorder {
		stats := map[string][3]float64{} // build: throughput, p99, cpu medians
		for _, b := range o.builds {
			k := g
			k.build = b.name
			cs := t.cells[k]
			if len(cs) == 0 {
				continue
			}
			var tp []float64
			var p50, p99, cpu []time.Duration
			for _, c := range cs {
				tp, p50, p99, cpu = append(tp, c.throughput), append(p50, c.p50), append(p99, c.p99), append(cpu, c.cpuPerOp)
			}
			ratio := "-"
			if f := fl.of(g.scenario); f > 0 {
				ratio = fmt.Sprintf("%.1f", float64(median(cpu))/float64(f))
			}
			fmt.Fprintf(w, "%-8s %-13s %4d %-8s %8.0f [%s] %9.2f %8.2f [%s] %11.0f %8s\n", g.db, g.scenario, g.conc, b.name,
				median(tp), spread(tp, func(x float64) float64 { return x }, "%.0f"), ms(median(p50)),
				ms(median(p99)), spread(p99, ms, "%.1f"), us(median(cpu)), ratio)
			stats[b.name] = [3]float64{median(tp), float64(median(p99)), float64(median(cpu))}
		}
		if len(o.builds) > 1 {
			first := stats[o.builds[0].name]
			for _, b := range o.builds[1:] {
				other, ok := stats[b.name]
				if !ok || other[0] == 0 || first[1] == 0 || first[2] == 0 {
					continue
				}
				fmt.Fprintf(w, "%-8s %-13s %4d %-8s throughput ×%.2f, p99 ÷%.2f, cpu/op ÷%.2f (%s against %s)\n", "", "", g.conc, "ratio",
					first[0]/other[0], other[1]/first[1], other[2]/first[2], o.builds[0].name, b.name)
			}
		}
	}
}

// freshSchema creates a new schema in the database dsn names and returns
// the DSN that selects it.
func freshSchema(ctx context.Context, dsn, prefix string) (string, error) {
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return "", err
	}
	defer db.Close()
	name := fmt.Sprintf("%s_%d", strings.ToLower(prefix), time.Now().UnixNano())
	name = strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' {
			return r
		}
		return '_'
	}, name)
	if _, err := db.ExecContext(ctx, `CREATE SCHEMA `+name); err != nil {
		return "", fmt.Errorf("create schema %s: %w", name, err)
	}
	u, err := url.Parse(dsn)
	if err != nil || u.Scheme == "" {
		return "", fmt.Errorf("the PostgreSQL DSN must be a postgres:// URL")
	}
	q := u.Query()
	q.Set("search_path", name)
	u.RawQuery = q.Encode()
	return u.String(), nil
}
