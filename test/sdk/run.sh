#!/usr/bin/env bash
# run.sh runs the official @dfns/sdk against countersign: it builds the binary
# once, then for each test/sdk/*.test.mjs in turn starts a fresh server of its
# own, so that every file registers its own organisation owner and no file
# sees another's users, tokens or audit log. Per file: invite a user into an
# empty data dir (the first user is the organisation's owner, holding every
# permission, e.g. Auth:Logs:Read for the audit log), start the server on a
# free loopback port and run that file with node:test and
#   COUNTERSIGN_URL, COUNTERSIGN_ORG_ID, COUNTERSIGN_USERNAME,
#   COUNTERSIGN_REGISTRATION_CODE, COUNTERSIGN_SMTP_PORT
# (lib.mjs's invitationEnv reads them). The server mails to
# 127.0.0.1:COUNTERSIGN_SMTP_PORT in the clear (a local relay): a file that
# reads mail listens there itself (lib.mjs's startSMTP). Each server is
# stopped and its data
# dir removed; the log of the server in use is printed when anything fails.
# Needs "make test-deps" (npm ci in test/sdk) first. Arguments, if any, name
# the test files to run (e.g. machines.test.mjs); default: all of them.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"

BIN="$root/.cache/bin/countersign"
ORDERS="$root/.cache/bin/orders"
USERNAME=sdkuser

log() { printf 'test/sdk: %s\n' "$*" >&2; }

[ -d test/sdk/node_modules/@dfns/sdk ] || {
	log "test/sdk/node_modules is missing: run \"make test-deps\""
	exit 1
}

# The test files to run, by name within test/sdk.
args=("$@")
[ "${#args[@]}" -gt 0 ] || args=(test/sdk/*.test.mjs)
files=()
for f in "${args[@]}"; do
	[ -f "test/sdk/$(basename "$f")" ] || {
		log "no such test file: test/sdk/$(basename "$f")"
		exit 1
	}
	files+=("$(basename "$f")")
done

log "building $BIN and $ORDERS"
go build -o "$BIN" .
go build -o "$ORDERS" ./examples/orders

work="$(mktemp -d)"
pid=""
orders_pid=""
server_log=""

# stop_server stops the running server, if any, and waits for it.
stop_server() {
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		kill "$pid" 2>/dev/null || true
		for _ in $(seq 50); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -9 "$pid" 2>/dev/null || true
	fi
	if [ -n "$pid" ]; then
		wait "$pid" 2>/dev/null || true
	fi
	pid=""
	if [ -n "$orders_pid" ]; then
		kill "$orders_pid" 2>/dev/null || true
		wait "$orders_pid" 2>/dev/null || true
	fi
	orders_pid=""
}

# free_port prints a free loopback port: the kernel picks one, we release
# it and the server takes it.
free_port() {
	node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); })'
}

# start_orders starts examples/orders on a free port for the gateway test
# and writes a configuration file putting it behind countersign at /api/.
start_orders() {
	local config="$1" countersign="$2" issuer="$3" port
	port="$(free_port)"
	"$ORDERS" -listen "127.0.0.1:$port" -countersign "$issuer" -jwks "$countersign/.well-known/jwks.json" >"$work/orders.log" 2>&1 &
	orders_pid=$!
	cat >"$config" <<YAML
upstreams:
  - name: orders
    prefix: /api/
    url: http://127.0.0.1:$port
    routes:
      - {method: POST, path: /api/orders, operation: Orders:Create, summary: "Create an order of {/amount} {/currency} for {/customer}"}
      - {method: GET, path: /api/orders/:id, operation: Orders:Read}
      - {method: GET, path: /api/health, public: true}
YAML
	COUNTERSIGN_ORDERS_URL="http://127.0.0.1:$port"
	export COUNTERSIGN_ORDERS_URL
}

cleanup() {
	local rc=$?
	stop_server
	if [ "$rc" -ne 0 ] && [ -n "$server_log" ] && [ -s "$server_log" ]; then
		log "server log (last 100 lines):"
		tail -n 100 "$server_log" >&2
	fi
	rm -rf "$work"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# invite_field prints one field of the invitation line that "invite --json"
# printed: {orgId, userId, username, registrationCode, registrationUrl}.
invite_field() {
	# shellcheck disable=SC2016 # JavaScript: its ${} is not for the shell
	node -e '
		const [line, key] = process.argv.slice(1);
		const v = JSON.parse(line.trim().split("\n").pop())[key];
		if (typeof v !== "string" || v === "") {
			console.error(`invite --json printed no ${key}: ${line}`);
			process.exit(1);
		}
		process.stdout.write(v);
	' "$1" "$2"
}

# run_file runs one test file against a server of its own.
run_file() {
	local file="$1" name data port url origin invite
	name="$(basename "$file" .test.mjs)"
	data="$work/$name/data"
	server_log="$work/$name/server.log"
	mkdir -p "$data"

	port="$(free_port)"
	url="http://127.0.0.1:$port"
	COUNTERSIGN_SMTP_PORT="$(node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); })')"
	# The browser-facing origin must sit within the RP id (default localhost); the
	# SDK itself sends no Origin and talks to 127.0.0.1 (localhost may resolve to ::1).
	origin="http://localhost:$port"

	# Invite before the server first starts: on an empty store the first invited
	# user becomes the owner (otherwise "serve" creates an owner named "admin" and
	# the test user would hold no permission at all).
	invite="$("$BIN" invite --data-dir "$data" --origin "$origin" --json "$USERNAME")"
	COUNTERSIGN_ORG_ID="$(invite_field "$invite" orgId)"
	COUNTERSIGN_USERNAME="$(invite_field "$invite" username)"
	COUNTERSIGN_REGISTRATION_CODE="$(invite_field "$invite" registrationCode)"

	local config="$work/$name/countersign.yaml"
	: >"$config"
	if [ "$name" = gateway ]; then
		start_orders "$config" "$url" "$origin"
	fi

	log "$name: starting countersign on $url"
	"$BIN" serve --listen "127.0.0.1:$port" --data-dir "$data" --origin "$origin" --config "$config" \
		--smtp-url "smtp://127.0.0.1:$COUNTERSIGN_SMTP_PORT?tls=none" --mail-from "countersign <auth@example.com>" >"$server_log" 2>&1 &
	pid=$!

	# Wait for GET /healthz == 200: at most 100 tries, 0.1 s apart, and give up at
	# once if the server exits.
	# shellcheck disable=SC2016 # JavaScript: its ${} is not for the shell
	node -e '
		const [url, pid] = process.argv.slice(1);
		const alive = () => { try { process.kill(Number(pid), 0); return true; } catch { return false; } };
		(async () => {
			for (let i = 0; i < 100; i++) {
				if (!alive()) { console.error("test/sdk: countersign exited before it was healthy"); process.exit(1); }
				try {
					const r = await fetch(url, { signal: AbortSignal.timeout(1000) });
					if (r.status === 200) process.exit(0);
				} catch {}
				await new Promise((ok) => setTimeout(ok, 100));
			}
			console.error(`test/sdk: GET ${url} never answered 200`);
			process.exit(1);
		})();
	' "$url/healthz" "$pid"

	COUNTERSIGN_URL="$url"
	export COUNTERSIGN_URL COUNTERSIGN_ORG_ID COUNTERSIGN_USERNAME COUNTERSIGN_REGISTRATION_CODE COUNTERSIGN_SMTP_PORT

	log "$name: running $file as $COUNTERSIGN_USERNAME in $COUNTERSIGN_ORG_ID"
	# From inside test/sdk, where the file's imports resolve.
	(cd test/sdk && node --test "$file")
	stop_server
}

for f in "${files[@]}"; do
	run_file "$f"
done
log "all passed: ${files[*]}"
