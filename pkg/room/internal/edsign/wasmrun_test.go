//go:build !js

package edsign

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestWasmBuild compiles this package's tests for GOOS=js GOARCH=wasm and
// runs TestWasmEngine under node, whose WebCrypto has Ed25519 as browsers'
// do: the engine must pass its self-test and agree with Go.
func TestWasmBuild(t *testing.T) {
	t.Parallel()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is required to build the wasm test: %v", err)
	}
	if _, err := exec.LookPath("node"); err != nil {
		t.Fatalf("node is required to run the wasm test: %v", err)
	}
	goroot, err := exec.Command(goBin, "env", "GOROOT").Output()
	if err != nil {
		t.Fatalf("go env GOROOT: %v", err)
	}
	wasmExec := filepath.Join(strings.TrimSpace(string(goroot)), "lib", "wasm", "go_js_wasm_exec")
	bin := filepath.Join(t.TempDir(), "edsign_wasm.test")
	build := exec.Command(goBin, "test", "-c", "-o", bin, ".")
	build.Env = append(os.Environ(), "GOOS=js", "GOARCH=wasm")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build wasm tests: %v\n%s", err, out)
	}
	out, err := exec.Command(wasmExec, bin, "-test.run", "^TestWasmEngine$", "-test.v").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: TestWasmEngine") {
		t.Fatalf("wasm TestWasmEngine: %v\n%s", err, out)
	}
}
