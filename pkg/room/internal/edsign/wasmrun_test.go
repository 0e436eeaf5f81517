//go:build !js

package edsign

import (
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
	if out, err := testenv.RunWasmTests(wasmExec, bin, "^TestWasmEngine$", "TestWasmEngine"); err != nil {
		t.Fatalf("wasm TestWasmEngine: %v\n%s", err, out)
	}
}
