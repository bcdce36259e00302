# countersign: the two commands a newcomer needs are `make run` and `make test`.
GO ?= go

include mk/test-deps.mk

.PHONY: run build dist generate check-generate lint test test-unit test-e2e test-sdk test-newcomer test-load fuzz bench clean

## run: start the server on http://localhost:8080 with SQLite under ./data
## (RUN_ARGS="--config FILE" adds settings, e.g. the gateway's upstreams)
run:
	$(GO) run . serve $(RUN_ARGS)

## build: build the binary into bin/
build:
	$(GO) build -o bin/countersign .

# The release version: the tag, or the commit, with -dirty for local changes.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
DIST_TARGETS := linux/amd64 linux/arm64 darwin/arm64

## dist: static release binaries with the version stamped, into dist/
# CGO_ENABLED=0: the SQLite driver is pure Go, so the binaries need no libc
# and run on any distribution (and in a scratch container).
dist:
	@mkdir -p dist
	@set -e; for target in $(DIST_TARGETS); do \
		os=$${target%/*}; arch=$${target#*/}; out=dist/countersign-$(VERSION)-$$os-$$arch; \
		echo "building $$out"; \
		CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch $(GO) build -trimpath \
			-ldflags "-s -w -X main.version=$(VERSION)" -o $$out .; \
	done
	@cd dist && sha256sum countersign-$(VERSION)-* > SHA256SUMS-$(VERSION) && cat SHA256SUMS-$(VERSION)

## generate: regenerate templ components
generate:
	$(GO) tool templ generate

## check-generate: fail if the committed *_templ.go differ from their .templ
check-generate: generate
	@drift="$$(git status --porcelain -- '*_templ.go')"; \
	if [ -n "$$drift" ]; then echo "generated templ code is out of date:"; echo "$$drift"; exit 1; fi

## lint: formatting, vet, and the JavaScript module's syntax
lint:
	@out="$$(gofmt -l $$(git ls-files '*.go' | grep -v '_templ.go$$'))"; \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) vet -tags e2e ./e2e/
	node --check static/app.js

## test: everything CI runs: generate check, lint, unit, browser and SDK tests, a short fuzz
test: test-deps check-generate lint test-unit test-e2e test-sdk test-newcomer test-load
	$(MAKE) --no-print-directory fuzz FUZZTIME=10000x

# Unit, handler and conformance tests; the PostgreSQL backend runs the same
# conformance suite against a throwaway local cluster (unix socket only).
test-unit:
	@eval "$$(bash scripts/test-postgres.sh start)" && status=0 && \
	$(GO) test -race -count=1 ./... || status=$$?; \
	bash scripts/test-postgres.sh stop; exit $$status

test-e2e:
	$(GO) test -tags e2e -count=1 ./e2e/

test-sdk:
	bash test/sdk/run.sh

# The README's five commands from nothing to a signed order through the
# gateway, run as written (on free ports).
test-newcomer:
	bash scripts/newcomer-orders.sh

# A few seconds of the load generator against a freshly built server: the
# benchmark's own code keeps working (make bench runs it for real).
test-load: build
	$(GO) run ./cmd/loadgen -server new=bin/countersign -concurrency 2 -duration 500ms -rounds 1

## bench: the in-process benchmarks, then the HTTP load (cmd/loadgen) on
## SQLite and on PostgreSQL with fsync on; BASELINE=path/to/countersign
## measures an older build beside this one, interleaved. Takes long.
BENCH_ARGS ?= -concurrency 1,16,64 -duration 5s -rounds 3
BENCH_PG_DIR ?= $(or $(COUNTERSIGN_PG_DIR),$(TMPDIR),/tmp)/countersign-bench-postgres
bench: build
	$(GO) test -run '^$$' -bench . -benchtime 2s -count 3 ./server/
	@export COUNTERSIGN_PG_DIR="$(BENCH_PG_DIR)" COUNTERSIGN_PG_DURABLE=1 && \
	eval "$$(bash scripts/test-postgres.sh start)" && status=0 && \
	$(GO) run ./cmd/loadgen -server new=bin/countersign $(if $(BASELINE),-server base=$(BASELINE)) \
		-postgres "$$COUNTERSIGN_TEST_POSTGRES" $(BENCH_ARGS) || status=$$?; \
	bash scripts/test-postgres.sh stop; exit $$status

# Every decoder reachable from the network has a fuzz target; `go test`
# runs their seeds, `make fuzz` fuzzes each for FUZZTIME. `make test` gives
# each a count of inputs (10000x, seconds) rather than a duration: Go
# 1.26's fuzz coordinator can report a bare "context deadline exceeded"
# failure when a duration ends while a busy worker is mid-input
# (golang/go#75804, fixed in Go 1.27), and a count has no deadline to race.
FUZZTIME ?= 1m
FUZZ_TARGETS := \
	./webauthn:FuzzParseStrictJSON ./webauthn:FuzzFoldKeyMatchesTheDecoder ./webauthn:FuzzDecodeBase64URL \
	./webauthn:FuzzParsePublicKeyPEM ./webauthn:FuzzVerifyKeyAssertion ./webauthn:FuzzVerifyKeyAttestation \
	./webauthn:FuzzVerifyRecoveryAssertion ./token:FuzzParse ./server:FuzzCheckSignedBody

## fuzz: fuzz every network decoder for FUZZTIME each (default 1m)
fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t##*:}; echo "fuzz $$pkg $$name for $(FUZZTIME)"; \
		$(GO) test $$pkg -run '^$$' -fuzz "^$$name$$" -fuzztime $(FUZZTIME); \
	done

clean:
	rm -rf bin dist .cache/bin e2e/screenshots
