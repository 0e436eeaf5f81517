//go:build js && wasm

package edsign

import "testing"

// TestWasmEngine runs in a JS runtime (node under go_js_wasm_exec, see
// TestWasmBuild): the engine must pass its self-test there, and then Sign
// and Verify, done by WebCrypto, still agree with Go everywhere.
func TestWasmEngine(t *testing.T) {
	if !WaitUsable() {
		t.Fatal("WebCrypto's Ed25519 failed the self-test (or is missing) in this runtime")
	}
	checkAgreesWithGo(t)
}
