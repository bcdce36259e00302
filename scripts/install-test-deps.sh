#!/usr/bin/env bash
# install-test-deps.sh installs what the browser (e2e) and SDK tests need, from
# the package registries only: Debian's chromium, the Playwright driver
# (npm playwright-core, run by playwright-go), axe-core (npm, which the
# browser tests inject into pages to check accessibility) and the test/sdk
# npm project.
#
# Idempotent and fast when everything is already there: each step checks first.
# Everything it writes lives under the gitignored .cache/ and node_modules/.
#
# Layout it produces (PLAYWRIGHT_DRIVER_PATH points at driver/):
#   .cache/playwright/package.json, package-lock.json   copies of scripts/playwright/
#   .cache/playwright/node_modules/playwright-core/     the driver code
#   .cache/playwright/node_modules/axe-core/axe.min.js  COUNTERSIGN_AXE
#   .cache/playwright/driver/package -> ../node_modules/playwright-core
#   .cache/playwright/driver/node    -> $(command -v node)
# playwright-go runs "$PLAYWRIGHT_NODEJS_PATH (or driver/node) driver/package/cli.js"
# and only checks that "cli.js --version" prints its pinned version; with
# RunOptions{SkipInstallBrowsers: true} it then downloads nothing.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

CHROMIUM="${COUNTERSIGN_CHROMIUM:-/usr/bin/chromium}"
PW_SRC="$root/scripts/playwright"
PW_DIR="$root/.cache/playwright"
DRIVER_DIR="$PW_DIR/driver"
SDK_DIR="$root/test/sdk"
PLAYWRIGHT_GO=github.com/playwright-community/playwright-go

log() { printf 'install-test-deps: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

as_root() {
	if [ "$(id -u)" -eq 0 ]; then
		"$@"
	elif command -v sudo >/dev/null 2>&1; then
		sudo "$@"
	else
		die "need root to run: $*"
	fi
}

install_chromium() {
	if [ -x "$CHROMIUM" ]; then
		return
	fi
	[ "$CHROMIUM" = /usr/bin/chromium ] || die "COUNTERSIGN_CHROMIUM=$CHROMIUM is not an executable"
	log "installing chromium (apt)"
	as_root apt-get update
	as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y chromium
	[ -x "$CHROMIUM" ] || die "apt installed chromium but $CHROMIUM is missing"
}

# lock_is_registry_only fails when a lock file records a tarball URL that is not
# the npm registry (a git or http dependency would bypass the registry).
lock_is_registry_only() {
	local lock="$1" bad
	bad="$(grep -Eo '"resolved": *"[^"]*"' "$lock" | grep -Ev '"https://registry\.npmjs\.org/' || true)"
	[ -z "$bad" ] || die "$lock resolves outside the npm registry: $bad"
}

# npm_ci DIR runs "npm ci" in DIR unless its node_modules was installed from
# the same package-lock.json (a stamp holds the lock file's hash).
npm_ci() {
	local dir="$1" stamp sum
	stamp="$dir/node_modules/.countersign-lock.sha256"
	lock_is_registry_only "$dir/package-lock.json"
	sum="$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)"
	if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$sum" ]; then
		return
	fi
	log "npm ci in ${dir#"$root"/}"
	(cd "$dir" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
	printf '%s\n' "$sum" >"$stamp"
}

# pinned_driver_version prints the Playwright version that the playwright-go in
# go.mod expects (playwrightCliVersion in its run.go).
pinned_driver_version() {
	local dir
	dir="$(go list -m -f '{{.Dir}}' "$PLAYWRIGHT_GO" 2>/dev/null || true)"
	if [ -z "$dir" ]; then
		go mod download "$PLAYWRIGHT_GO"
		dir="$(go list -m -f '{{.Dir}}' "$PLAYWRIGHT_GO")"
	fi
	sed -n 's/^const playwrightCliVersion = "\(.*\)"$/\1/p' "$dir/run.go"
}

install_playwright_driver() {
	local want have node
	want="$(pinned_driver_version)"
	[ -n "$want" ] || die "cannot read playwrightCliVersion from $PLAYWRIGHT_GO"
	have="$(node -p 'require(process.argv[1]).dependencies["playwright-core"]' "$PW_SRC/package.json")"
	[ "$want" = "$have" ] || die "playwright-go wants driver $want but scripts/playwright/package.json pins playwright-core $have: update it and its lock file"

	mkdir -p "$PW_DIR" "$DRIVER_DIR"
	cp "$PW_SRC/package.json" "$PW_SRC/package-lock.json" "$PW_DIR/"
	npm_ci "$PW_DIR"

	node="$(command -v node)"
	ln -sfn ../node_modules/playwright-core "$DRIVER_DIR/package"
	ln -sfn "$node" "$DRIVER_DIR/node"
	"$node" "$DRIVER_DIR/package/cli.js" --version | grep -qF "$want" ||
		die "$DRIVER_DIR/package/cli.js --version does not report $want"
	[ -f "$PW_DIR/node_modules/axe-core/axe.min.js" ] || die "npm ci installed no axe-core in ${PW_DIR#"$root"/}"
}

command -v node >/dev/null 2>&1 || die "node is not installed"
command -v npm >/dev/null 2>&1 || die "npm is not installed"
command -v go >/dev/null 2>&1 || die "go is not installed"

install_chromium
install_playwright_driver
npm_ci "$SDK_DIR"
log "ok: chromium $("$CHROMIUM" --version 2>/dev/null | tr -d '\n'), playwright driver in ${DRIVER_DIR#"$root"/}"
