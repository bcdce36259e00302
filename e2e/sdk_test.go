//go:build e2e

package e2e

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// sdkDir holds the Node scripts that use the official @dfns packages,
// relative to e2e/.
const sdkDir = "../test/sdk"

// sdkNode runs the scripts of test/sdk with Node and the @dfns packages
// installed there.
type sdkNode struct {
	node string
	dir  string
}

// sdkRunner finds Node and test/sdk/node_modules. Either missing fails the
// test, never skips it: make test-deps installs both.
func sdkRunner(t *testing.T) sdkNode {
	t.Helper()
	const hint = `run "make test-deps" (scripts/install-test-deps.sh)`
	node := os.Getenv("PLAYWRIGHT_NODEJS_PATH")
	if node == "" {
		var err error
		if node, err = exec.LookPath("node"); err != nil {
			t.Fatalf("node is not installed: %v: %s", err, hint)
		}
	}
	dir, err := filepath.Abs(sdkDir)
	if err != nil {
		t.Fatalf("locate %s: %v", sdkDir, err)
	}
	for _, pkg := range []string{"@dfns/sdk", "@dfns/sdk-keysigner"} {
		if _, err := os.Stat(filepath.Join(dir, "node_modules", pkg, "package.json")); err != nil {
			t.Fatalf("%s is not installed in test/sdk/node_modules: %v: %s", pkg, err, hint)
		}
	}
	return sdkNode{node: node, dir: dir}
}

// output runs a script of test/sdk with env added and returns its stdout;
// a failure carries its stderr.
func (n sdkNode) output(t *testing.T, script string, env ...string) ([]byte, error) {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), n.node, script)
	cmd.Dir = n.dir
	cmd.Env = append(os.Environ(), env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("node %s: %w: %s", script, err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

// run is output that fails the test when the script fails.
func (n sdkNode) run(t *testing.T, script string, env ...string) []byte {
	t.Helper()
	out, err := n.output(t, script, env...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
