# test-deps.mk: the browser and SDK test dependencies. Included by the Makefile.
#
#   make test-deps   installs chromium (apt), the Playwright driver and the
#                    test/sdk npm project (npm); fast when already installed.
#
# The variables below are exported to every recipe, so "go test -tags e2e ./e2e/"
# and test/sdk/run.sh find the driver and the browser. Override any of them on
# the command line or in the environment.

TEST_DEPS_ROOT := $(abspath $(dir $(lastword $(MAKEFILE_LIST)))..)

# Where scripts/install-test-deps.sh puts the driver that playwright-go runs.
PLAYWRIGHT_DRIVER_PATH ?= $(TEST_DEPS_ROOT)/.cache/playwright/driver
# The system node runs the driver (the install script also links driver/node).
PLAYWRIGHT_NODEJS_PATH ?= $(shell command -v node)
# Debian's chromium; Playwright never downloads a browser here.
COUNTERSIGN_CHROMIUM ?= /usr/bin/chromium
# axe-core, injected into pages by the accessibility tests.
COUNTERSIGN_AXE ?= $(TEST_DEPS_ROOT)/.cache/playwright/node_modules/axe-core/axe.min.js

export PLAYWRIGHT_DRIVER_PATH PLAYWRIGHT_NODEJS_PATH COUNTERSIGN_CHROMIUM COUNTERSIGN_AXE

.PHONY: test-deps
test-deps:
	bash $(TEST_DEPS_ROOT)/scripts/install-test-deps.sh
