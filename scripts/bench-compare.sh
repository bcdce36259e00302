#!/usr/bin/env bash
# bench-compare.sh runs the in-process benchmarks of this tree and of an
# older one side by side, interleaved round by round, so that both see the
# same machine:
#
#   git worktree add /tmp/base <commit>
#   bash scripts/bench-compare.sh /tmp/base [rounds] [benchtime]
#
# It prints every round's lines, each prefixed with the tree it came from.
# Compare each benchmark with BenchmarkECDSAP256Verify and ...Sign of the
# same round: they are its crypto floor.
set -euo pipefail

BASE="${1:?usage: bench-compare.sh BASE_TREE [rounds] [benchtime]}"
ROUNDS="${2:-3}"
BENCHTIME="${3:-2s}"
HERE="$(cd "$(dirname "$0")/.." && pwd)"
OUT="$(mktemp -d)"
trap 'rm -rf "$OUT"' EXIT

PATTERN='^(BenchmarkDurableCommit|BenchmarkLoginKey|BenchmarkLoginFido2|BenchmarkSignedActionKey|BenchmarkECDSAP256Verify|BenchmarkECDSAP256Sign)$'
(cd "$HERE" && go test -c -o "$OUT/new.test" ./server/)
(cd "$BASE" && go test -c -o "$OUT/base.test" ./server/)

for round in $(seq "$ROUNDS"); do
	# Alternate which tree goes first.
	if [ $((round % 2)) -eq 1 ]; then order="new base"; else order="base new"; fi
	for tree in $order; do
		dir="$HERE/server"
		[ "$tree" = base ] && dir="$BASE/server"
		(cd "$dir" && "$OUT/$tree.test" -test.run '^$' -test.bench "$PATTERN" -test.benchtime "$BENCHTIME") |
			grep '^Benchmark' | sed "s/^/round $round $tree /"
	done
done
