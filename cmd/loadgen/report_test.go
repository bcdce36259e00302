package main

import (
	"testing"
	"time"
)

func TestCellPercentiles(t *testing.T) {
	var lat []time.Duration
	for i := 100; i >= 1; i-- { // unsorted on purpose
		lat = append(lat, time.Duration(i)*time.Millisecond)
	}
	c := newCell(lat, 2*time.Second, 500*time.Millisecond)
	if c.ops != 100 || c.throughput != 50 {
		t.Errorf("ops %d, throughput %v: want 100 and 50/s", c.ops, c.throughput)
	}
	if c.p50 != 51*time.Millisecond || c.p99 != 100*time.Millisecond {
		t.Errorf("p50 %v, p99 %v: want 51ms and 100ms", c.p50, c.p99)
	}
	if c.cpuPerOp != 5*time.Millisecond {
		t.Errorf("cpu per op %v, want 5ms", c.cpuPerOp)
	}
}

func TestFloorCountsTheSignaturesAnOperationNeeds(t *testing.T) {
	f := floor{verify: 60 * time.Microsecond, sign: 40 * time.Microsecond}
	for scenario, want := range map[string]time.Duration{
		"key-login": 100 * time.Microsecond, "passkey-login": 100 * time.Microsecond,
		"signed-action": 60 * time.Microsecond, "read": 0,
	} {
		if got := f.of(scenario); got != want {
			t.Errorf("%s: floor %v, want %v", scenario, got, want)
		}
	}
}

func TestOptionsRefuseUnboundedRuns(t *testing.T) {
	for _, o := range []options{
		{builds: buildFlag{{"new", "/bin/true"}}, sqlite: true, duration: 2 * time.Minute, rounds: 1, maxOps: 1},
		{builds: buildFlag{{"new", "/bin/true"}}, sqlite: true, duration: time.Second, rounds: 0, maxOps: 1},
		{sqlite: true, duration: time.Second, rounds: 1, maxOps: 1},
	} {
		if err := o.parse("read", "1"); err == nil {
			t.Errorf("%+v: accepted", o)
		}
	}
	o := options{builds: buildFlag{{"new", "/bin/true"}}, sqlite: true, duration: time.Second, rounds: 1, maxOps: 1}
	if err := o.parse("read,nope", "1"); err == nil {
		t.Error("an unknown scenario was accepted")
	}
	if err := o.parse("read", "0"); err == nil {
		t.Error("concurrency 0 was accepted")
	}
}
