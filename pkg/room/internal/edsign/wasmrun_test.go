//go:build !js

package edsign

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/rooms-dev/rooms/internal/testenv"
)

// TestWasmBuild compiles this package's tests for GOOS=js GOARCH=wasm and
// runs TestWasmEngine under node, whose WebCrypto has Ed25519 as browsers'
// do: the engine must pass its self-test and agree with Go.
func TestWasmBuild(t *testing.T) {
	t.Parallel()
	wasmExec, bin, err := testenv.BuildWasmTests(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(wasmExec, bin, "-test.run", "^TestWasmEngine$", "-test.v").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: TestWasmEngine") {
		t.Fatalf("wasm TestWasmEngine: %v\n%s", err, out)
	}
}
