#!/usr/bin/env bash
# test-postgres.sh runs a throwaway PostgreSQL cluster for the store/postgres
# conformance tests, listening on a unix socket only (no TCP port is opened).
#
#   eval "$(bash scripts/test-postgres.sh start)"   # sets COUNTERSIGN_TEST_POSTGRES
#   go test -race ./store/postgres/ -count=1
#   bash scripts/test-postgres.sh stop               # stops it and deletes its files
#
#   start   installs Debian's postgresql when no server binaries are found
#           (apt-get, as root), creates a cluster in $COUNTERSIGN_PG_DIR with a
#           role and a database "countersign", starts it and prints
#           "export COUNTERSIGN_TEST_POSTGRES=<dsn>" on stdout (everything else
#           goes to stderr). Run again, it finds the cluster running and only
#           prints the line again.
#   stop    stops the cluster this script started and removes its directory;
#           nothing to do when none is there.
#   dsn     prints the DSN of the running cluster.
#
# COUNTERSIGN_PG_DIR  where the cluster lives (default $TMPDIR or /tmp, then
#                     countersign-test-postgres); its socket is in it.
# COUNTERSIGN_PG_PORT the port number, which only names the socket file
#                     (default 54329).
# COUNTERSIGN_PG_DURABLE=1 runs the cluster with fsync on (benchmarks); by
#                     default fsync is off, for fast throwaway tests.
#
# Run as root, the server runs as the postgres user (PostgreSQL refuses to run
# as root); run as anyone else, it runs as that user. The cluster is for
# tests only: trust authentication on the socket, and fsync off.
set -euo pipefail

DIR="${COUNTERSIGN_PG_DIR:-${TMPDIR:-/tmp}/countersign-test-postgres}"
PORT="${COUNTERSIGN_PG_PORT:-54329}"
DATA="$DIR/data"
DB=countersign
ROLE=countersign

log() { printf 'test-postgres: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# bindir prints the directory of the newest installed server's binaries.
bindir() {
	local d
	d="$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -n 1)"
	if [ -n "$d" ] && [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then
		printf '%s\n' "$d"
		return
	fi
	if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
		dirname "$(command -v initdb)"
	fi
}

install_postgres() {
	if [ -n "$(bindir)" ]; then
		return
	fi
	[ "$(id -u)" -eq 0 ] || die "PostgreSQL is not installed; run as root to install it (apt-get install postgresql)"
	log "installing postgresql (apt)"
	apt-get update >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql >&2
	[ -n "$(bindir)" ] || die "apt installed postgresql but initdb and pg_ctl are not found"
}

# as_owner runs its arguments as the cluster's owner: postgres when we are
# root, else ourselves.
as_owner() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

dsn() {
	printf 'postgres://%s@/%s?host=%s&port=%s&sslmode=disable\n' "$ROLE" "$DB" "$DIR" "$PORT"
}

running() {
	[ -f "$DATA/PG_VERSION" ] && as_owner "$BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1
}

start() {
	install_postgres
	BIN="$(bindir)"
	if running; then
		log "already running in $DIR"
		printf 'export COUNTERSIGN_TEST_POSTGRES=%q\n' "$(dsn)"
		return
	fi
	if [ ! -f "$DATA/PG_VERSION" ]; then
		# A half-made directory from an interrupted start is redone.
		rm -rf "$DIR"
		mkdir -p "$DIR"
		chmod 0700 "$DIR"
		if [ "$(id -u)" -eq 0 ]; then
			chown postgres: "$DIR"
		fi
		log "creating a cluster in $DATA"
		as_owner "$BIN/initdb" -D "$DATA" -U postgres --auth=trust \
			--encoding=UTF8 --locale=C.UTF-8 >"$DIR/initdb.log" 2>&1 ||
			{ cat "$DIR/initdb.log" >&2; die "initdb failed"; }
	fi
	log "starting PostgreSQL ($("$BIN/postgres" --version)) on $DIR/.s.PGSQL.$PORT"
	# COUNTERSIGN_PG_DURABLE=1 (make bench) keeps fsync on, as a real server
	# runs, so that benchmark numbers include its commits' cost.
	local durability="-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
	if [ "${COUNTERSIGN_PG_DURABLE:-}" = 1 ]; then
		durability="-c fsync=on -c synchronous_commit=on -c full_page_writes=on"
	fi
	# listen_addresses='' : unix socket only. fsync and friends off: the
	# data is thrown away, and the tests must not wait on the disk.
	as_owner "$BIN/pg_ctl" -D "$DATA" -l "$DIR/server.log" -w -t 60 \
		-o "-k $DIR -p $PORT -c listen_addresses='' $durability -c max_connections=200" \
		start >&2 || { cat "$DIR/server.log" >&2; die "pg_ctl start failed"; }
	psql_admin() { as_owner "$BIN/psql" -h "$DIR" -p "$PORT" -U postgres -d postgres -v ON_ERROR_STOP=1 -qAt "$@"; }
	if [ "$(psql_admin -c "SELECT 1 FROM pg_roles WHERE rolname = '$ROLE'")" != 1 ]; then
		psql_admin -c "CREATE ROLE $ROLE LOGIN" >&2
	fi
	if [ "$(psql_admin -c "SELECT 1 FROM pg_database WHERE datname = '$DB'")" != 1 ]; then
		psql_admin -c "CREATE DATABASE $DB OWNER $ROLE" >&2
	fi
	printf 'export COUNTERSIGN_TEST_POSTGRES=%q\n' "$(dsn)"
}

stop() {
	if [ ! -d "$DIR" ]; then
		log "nothing to stop in $DIR"
		return
	fi
	[ -f "$DATA/PG_VERSION" ] || { rm -rf "$DIR"; return; }
	BIN="$(bindir)"
	[ -n "$BIN" ] || die "a cluster is in $DIR but pg_ctl is not found"
	if running; then
		log "stopping the cluster in $DIR"
		as_owner "$BIN/pg_ctl" -D "$DATA" -m fast -w -t 60 stop >&2
	fi
	rm -rf "$DIR"
}

case "${1:-}" in
start) start ;;
stop) stop ;;
dsn)
	BIN="$(bindir)"
	if [ -z "$BIN" ] || ! running; then
		die "no cluster is running in $DIR"
	fi
	dsn
	;;
*)
	printf 'usage: %s start|stop|dsn\n' "$0" >&2
	exit 2
	;;
esac
