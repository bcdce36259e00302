#!/usr/bin/env bash
# run.sh runs the official @dfns/sdk against a fresh countersign server:
# build the binary, invite a user into an empty data dir (the first user is
# the organisation's owner, holding every permission, e.g. Auth:Logs:Read for
# the audit log), start the server on a free loopback port, then run the
# node:test suite in test/sdk/ with
#   COUNTERSIGN_URL, COUNTERSIGN_ORG_ID, COUNTERSIGN_USERNAME,
#   COUNTERSIGN_REGISTRATION_CODE
# The server is always stopped and its data dir removed; its log is printed
# when anything fails. Needs "make test-deps" (npm ci in test/sdk) first.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"

BIN="$root/.cache/bin/countersign"
USERNAME=sdkuser

log() { printf 'test/sdk: %s\n' "$*" >&2; }

[ -d test/sdk/node_modules/@dfns/sdk ] || {
	log "test/sdk/node_modules is missing: run \"make test-deps\""
	exit 1
}

log "building $BIN"
go build -o "$BIN" .

work="$(mktemp -d)"
data="$work/data"
server_log="$work/server.log"
mkdir -p "$data"
pid=""

cleanup() {
	local rc=$?
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
	if [ "$rc" -ne 0 ] && [ -s "$server_log" ]; then
		log "server log (last 100 lines):"
		tail -n 100 "$server_log" >&2
	fi
	rm -rf "$work"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# A free port: the kernel picks one, we release it and the server takes it.
port="$(node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); })')"
url="http://127.0.0.1:$port"
# The browser-facing origin must sit within the RP id (default localhost); the
# SDK itself sends no Origin and talks to 127.0.0.1 (localhost may resolve to ::1).
origin="http://localhost:$port"

# Invite before the server first starts: on an empty store the first invited
# user becomes the owner (otherwise "serve" creates an owner named "admin" and
# the test user would hold no permission at all).
# The invitation: one JSON line {orgId, userId, username, registrationCode, registrationUrl}.
invite="$("$BIN" invite --data-dir "$data" --origin "$origin" --json "$USERNAME")"
field() {
	# shellcheck disable=SC2016 # JavaScript: its ${} is not for the shell
	node -e '
		const [line, key] = process.argv.slice(1);
		const v = JSON.parse(line.trim().split("\n").pop())[key];
		if (typeof v !== "string" || v === "") {
			console.error(`invite --json printed no ${key}: ${line}`);
			process.exit(1);
		}
		process.stdout.write(v);
	' "$invite" "$1"
}
COUNTERSIGN_ORG_ID="$(field orgId)"
COUNTERSIGN_USERNAME="$(field username)"
COUNTERSIGN_REGISTRATION_CODE="$(field registrationCode)"

log "starting countersign on $url"
"$BIN" serve --listen "127.0.0.1:$port" --data-dir "$data" --origin "$origin" >"$server_log" 2>&1 &
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
export COUNTERSIGN_URL COUNTERSIGN_ORG_ID COUNTERSIGN_USERNAME COUNTERSIGN_REGISTRATION_CODE

log "running the SDK tests as $COUNTERSIGN_USERNAME in $COUNTERSIGN_ORG_ID"
# From inside test/sdk so that every Node version finds its *.test.mjs files
# (Node 20 accepts a directory argument, later versions take globs).
(cd test/sdk && node --test)
