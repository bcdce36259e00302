#!/usr/bin/env bash
# newcomer-orders.sh runs the README's "a signed order in five commands" as
# a newcomer would, in a fresh directory, with the example configuration's
# ports swapped for free ones so it never collides with anything running:
#   1. examples/orders, the upstream
#   2. countersign invite alice --json  (before the first start: alice owns the org)
#   3. countersign serve --config docs/countersign.example.yaml
#   4. examples/orders/client register alice.json
#   5. examples/orders/client order 12.50 EUR ACME
# and checks that the order was recorded by the upstream as alice's.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
work="$(mktemp -d)"
pids=()
cleanup() {
	local rc=$?
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
	if [ "$rc" -ne 0 ]; then
		for f in "$work"/*.log; do [ -f "$f" ] && { echo "--- $f"; tail -n 30 "$f"; }; done >&2
	fi
	rm -rf "$work"
	exit "$rc"
}
trap cleanup EXIT

free_port() { node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); })'; }
# wait_for waits for GET url to answer 200, at most 10 s.
wait_for() {
	node -e '
		(async () => {
			for (let i = 0; i < 100; i++) {
				try { if ((await fetch(process.argv[1])).status === 200) process.exit(0); } catch {}
				await new Promise((ok) => setTimeout(ok, 100));
			}
			console.error(`newcomer: ${process.argv[1]} never answered`);
			process.exit(1);
		})();
	' "$1"
}

go build -o "$work/countersign" .
go build -o "$work/orders" ./examples/orders
go build -o "$work/client" ./examples/orders/client
cs_port="$(free_port)"
up_port="$(free_port)"
sed -e "s/localhost:8080/localhost:$cs_port/g" -e "s/127.0.0.1:9000/127.0.0.1:$up_port/g" docs/countersign.example.yaml >"$work/countersign.yaml"

cd "$work"
./orders -listen "127.0.0.1:$up_port" -countersign "http://localhost:$cs_port" >orders.log 2>&1 &
pids+=($!)
./countersign invite alice --json --config countersign.yaml >alice.json
./countersign serve --config countersign.yaml >countersign.log 2>&1 &
pids+=($!)
wait_for "http://localhost:$cs_port/healthz"
wait_for "http://127.0.0.1:$up_port/api/health"
./client register alice.json
./client order 12.50 EUR ACME | tee order.out
grep -q '"createdBy": "alice"' order.out
grep -q 'approving: Create an order of 12.5 EUR for ACME' order.out
echo "newcomer: a signed order through the gateway in five commands"
