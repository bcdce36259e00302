// Package e2e holds the browser tests: playwright-go drives Debian's Chromium
// (headless) against servers started in-process on 127.0.0.1, opened as
// http://localhost:<port>/ because WebAuthn needs the localhost secure context.
// CDP virtual authenticators stand in for passkeys and security keys.
//
// The tests carry the build tag e2e and need the Playwright driver and the
// browser that "make test-deps" installs; run them through make, or export the
// variables of mk/test-deps.mk and run
//
//	go test -tags e2e ./e2e/ -count=1
//
// Without the driver TestMain fails instead of skipping: make always installs it.
// TestPATFromConsoleWorksWithSDK also runs test/sdk/use-pat.mjs with Node and
// the @dfns packages "make test-deps" installs in test/sdk/node_modules; it
// fails, never skips, when they are missing.
//
// The console tests approve every change as a person would: the approve
// dialog must show the request before the passkey prompt (approve,
// expectApproval), and the signature comes from the virtual authenticator.
//
// One browser is shared by the package (TestMain). Each test starts its own
// countersign in-process (startServer: SQLite in a temp dir, wired like
// main.go) and invites users with the ceremonies, as "countersign invite"
// does. Each person in a test is a browserUser: a fresh context and page
// (newPage) with its own virtual authenticator (addVirtualAuthenticator);
// its methods own the selectors (data-testid) and wait Playwright-style,
// never sleep. Failure screenshots go to e2e/screenshots/; TestScreenshots
// refreshes docs/screenshots/ when COUNTERSIGN_SCREENSHOTS=1.
// Nothing imports this package, and it imports only the server side it tests.
package e2e
