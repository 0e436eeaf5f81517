//go:build js && wasm

package signal_test

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/rooms-dev/rooms/pkg/signal"
)

// TestWasmClient runs the client's wasm build (coder/websocket over the
// JavaScript WebSocket) against the server at SIGNAL_WASM_URL; the native
// TestWasmBuild starts the server and runs this under node.
func TestWasmClient(t *testing.T) {
	url := os.Getenv("SIGNAL_WASM_URL")
	if url == "" {
		t.Fatal("SIGNAL_WASM_URL not set; run through the native TestWasmBuild")
	}
	a := dial(t, signal.ClientConfig{URL: url, ID: newID("wasm-a")})
	b := dial(t, signal.ClientConfig{URL: url, ID: newID("wasm-b")})
	send(t, a, signal.Message{Type: signal.TypeOffer, Dst: b.ID(), Payload: json.RawMessage(`{"from":"wasm"}`)})
	if m := recv(t, b); m.Type != signal.TypeOffer || m.Src != a.ID() {
		t.Fatalf("got %+v", m)
	}
	// Same id, same token: the takeover is confirmed by the probe echo.
	heir := dial(t, signal.ClientConfig{URL: url, ID: b.ID(), Token: b.Token()})
	send(t, a, signal.Message{Type: signal.TypeCandidate, Dst: b.ID()})
	if m := recv(t, heir); m.Type != signal.TypeCandidate || m.Src != a.ID() {
		t.Fatalf("heir got %+v", m)
	}
}
