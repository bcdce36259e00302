# countersign: the two commands a newcomer needs are `make run` and `make test`.
GO ?= go

include mk/test-deps.mk

.PHONY: run build generate check-generate lint test test-unit test-e2e test-sdk test-newcomer fuzz clean

## run: start the server on http://localhost:8080 with SQLite under ./data
## (RUN_ARGS="--config FILE" adds settings, e.g. the gateway's upstreams)
run:
	$(GO) run . serve $(RUN_ARGS)

## build: build the binary into bin/
build:
	$(GO) build -o bin/countersign .

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
test: test-deps check-generate lint test-unit test-e2e test-sdk test-newcomer
	$(MAKE) --no-print-directory fuzz FUZZTIME=3s

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

# Every decoder reachable from the network has a fuzz target; `go test`
# runs their seeds, `make fuzz` fuzzes each for FUZZTIME (CI: a few seconds).
FUZZTIME ?= 1m
FUZZ_TARGETS := \
	./webauthn:FuzzParseStrictJSON ./webauthn:FuzzFoldKeyMatchesTheDecoder ./webauthn:FuzzDecodeBase64URL \
	./webauthn:FuzzParsePublicKeyPEM ./webauthn:FuzzVerifyKeyAssertion ./webauthn:FuzzVerifyKeyAttestation \
	./token:FuzzParse ./server:FuzzCheckSignedBody

## fuzz: fuzz every network decoder for FUZZTIME each (default 1m)
fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t##*:}; echo "fuzz $$pkg $$name for $(FUZZTIME)"; \
		$(GO) test $$pkg -run '^$$' -fuzz "^$$name$$" -fuzztime $(FUZZTIME); \
	done

clean:
	rm -rf bin .cache/bin e2e/screenshots
