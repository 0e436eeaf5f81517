//go:build !js

package signal_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestWasmBuild compiles this package's tests for GOOS=js GOARCH=wasm and
// runs TestWasmClient under node against every backend, so the browser
// build (coder/websocket over the JavaScript WebSocket) is exercised for
// real, not only compiled.
func TestWasmBuild(t *testing.T) {
	t.Parallel()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is required to build the wasm test: %v", err)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node is required to run the wasm test: %v", err)
	}
	goroot := goEnv(t, goBin, "GOROOT")
	wasmExec := filepath.Join(goroot, "lib", "wasm", "go_js_wasm_exec")
	if _, err := os.Stat(wasmExec); err != nil {
		t.Fatalf("go_js_wasm_exec missing from the Go distribution: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "signal_wasm.test")
	build := exec.Command(goBin, "test", "-c", "-o", bin, ".")
	build.Env = append(os.Environ(), "GOOS=js", "GOARCH=wasm")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build wasm tests: %v\n%s", err, out)
	}
	env := append(os.Environ(), "NODE_OPTIONS="+nodeWebSocketFlag(t, node))
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			run := exec.Command(wasmExec, bin, "-test.run", "^TestWasmClient$", "-test.v")
			run.Env = append(env, "SIGNAL_WASM_URL="+b.URL(t))
			out, err := run.CombinedOutput()
			if err != nil || !strings.Contains(string(out), "--- PASS: TestWasmClient") {
				t.Fatalf("wasm TestWasmClient: %v\n%s", err, out)
			}
		})
	}
}

func goEnv(t *testing.T, goBin, name string) string {
	t.Helper()
	out, err := exec.Command(goBin, "env", name).Output()
	if err != nil {
		t.Fatalf("go env %s: %v", name, err)
	}
	return strings.TrimSpace(string(out))
}

// nodeWebSocketFlag turns on node's WebSocket global where it is still
// experimental (node 20 and 21); newer nodes have it by default.
func nodeWebSocketFlag(t *testing.T, node string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLong)
	defer cancel()
	out, err := exec.CommandContext(ctx, node, "-p", "typeof WebSocket").Output()
	if err != nil {
		t.Fatalf("node -p: %v", err)
	}
	if strings.TrimSpace(string(out)) == "function" {
		return ""
	}
	return "--experimental-websocket"
}
