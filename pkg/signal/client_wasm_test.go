//go:build js && wasm

package signal_test

import (
	"encoding/json"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/rooms-dev/rooms/pkg/signal"
)

// TestWasmClient runs the client's wasm build (its binding of the
// JavaScript WebSocket, and fetch for ids) against the server at
// SIGNAL_WASM_URL; the native TestWasmBuild starts the server and runs this
// under node.
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
	// No id: the client fetches a fresh one.
	fresh := dial(t, signal.ClientConfig{URL: url})
	send(t, fresh, signal.Message{Type: signal.TypeAnswer, Dst: a.ID()})
	if m := recv(t, a); m.Type != signal.TypeAnswer || m.Src != fresh.ID() {
		t.Fatalf("a got %+v from the client with a fetched id %q", m, fresh.ID())
	}
	// Close waits for the server to answer the closure (bounded by a 5 s
	// timeout, which only a missed close event would hit); the server then
	// frees the id for another token.
	start := time.Now()
	if err := fresh.Close(); err != nil || time.Since(start) > 2*time.Second {
		t.Fatalf("Close = %v after %v", err, time.Since(start))
	}
	for deadline := time.Now().Add(waitLong); ; time.Sleep(20 * time.Millisecond) {
		_, err := tryDial(t, signal.ClientConfig{URL: url, ID: fresh.ID(), Token: "another"})
		if err == nil {
			break
		}
		if !errors.Is(err, signal.ErrIDTaken) || time.Now().After(deadline) {
			t.Fatalf("claim after Close: %v", err)
		}
	}
}
