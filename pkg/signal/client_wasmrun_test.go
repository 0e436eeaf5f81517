//go:build !js

package signal_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"

	"github.com/coder/websocket"
	"github.com/rooms-dev/rooms/internal/testenv"
	"github.com/rooms-dev/rooms/pkg/signal"
)

// TestWasmBuild compiles this package's tests for GOOS=js GOARCH=wasm and
// runs TestWasmClient under node against every backend, so the browser
// build (its binding of the JavaScript WebSocket, and fetch) is exercised
// for real, not only compiled; then the TestWasmBrowser tests of that
// binding's error paths against the probe server.
func TestWasmBuild(t *testing.T) {
	t.Parallel()
	wasmExec, bin, err := testenv.BuildWasmTests(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	node, _ := exec.LookPath("node") // BuildWasmTests made sure there is one
	nodeOptions := "NODE_OPTIONS=" + nodeWebSocketFlag(t, node)
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			out, err := testenv.RunWasmTests(wasmExec, bin, "^TestWasmClient$", "TestWasmClient", nodeOptions, "SIGNAL_WASM_URL="+b.URL(t))
			if err != nil {
				t.Fatalf("wasm TestWasmClient: %v\n%s", err, out)
			}
			if testing.Verbose() {
				t.Logf("wasm TestWasmClient:\n%s", out)
			}
		})
	}
	t.Run("browser-binding", func(t *testing.T) {
		out, err := testenv.RunWasmTests(wasmExec, bin, "^TestWasmBrowser", "TestWasmBrowserServerCloses", nodeOptions, "SIGNAL_WASM_PROBE_URL="+startProbeServer(t))
		if err != nil {
			t.Fatalf("wasm TestWasmBrowser: %v\n%s", err, out)
		}
		if testing.Verbose() {
			t.Logf("wasm TestWasmBrowser:\n%s", out)
		}
	})
}

// startProbeServer serves the endpoints the TestWasmBrowser tests poke the
// browser binding with, and returns its http:// URL.
func startProbeServer(t *testing.T) string {
	stop := make(chan struct{})
	mux := http.NewServeMux()
	mux.HandleFunc("/refuse", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "go away", http.StatusForbidden)
	})
	mux.HandleFunc("/hang", func(w http.ResponseWriter, r *http.Request) {
		select { // never answers
		case <-r.Context().Done():
		case <-stop:
		}
	})
	mux.HandleFunc("/id", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "probe-id 1\n") })
	mux.HandleFunc("/bad-id", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "a--b") })
	mux.HandleFunc("/missing", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no such key", http.StatusNotFound)
	})
	mux.HandleFunc("/hello-then-close", probeSocket(t, func(ctx context.Context, c *websocket.Conn) error {
		if err := c.Write(ctx, websocket.MessageText, []byte("hello")); err != nil {
			return err
		}
		return c.Close(4000, "bye")
	}))
	mux.HandleFunc("/too-big", probeSocket(t, func(ctx context.Context, c *websocket.Conn) error {
		big := bytes.Repeat([]byte("x"), signal.MaxFrameSize+1)
		if err := c.Write(ctx, websocket.MessageText, big); err != nil {
			return err
		}
		_ = c.Write(ctx, websocket.MessageText, []byte("after"))
		_, _, err := c.Read(ctx) // until the client drops the socket
		return ignoreClosure(err)
	}))
	mux.HandleFunc("/echo", probeSocket(t, func(ctx context.Context, c *websocket.Conn) error {
		for {
			typ, data, err := c.Read(ctx)
			if err != nil {
				return ignoreClosure(err)
			}
			if err := c.Write(ctx, typ, data); err != nil {
				return ignoreClosure(err)
			}
		}
	}))
	srv := httptest.NewServer(mux)
	t.Cleanup(func() {
		close(stop)
		srv.Close()
	})
	return srv.URL
}

// probeSocket accepts a WebSocket and runs serve on it, reporting its error.
func probeSocket(t *testing.T, serve func(context.Context, *websocket.Conn) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
		if err != nil {
			t.Errorf("probe server accept %s: %v", r.URL.Path, err)
			return
		}
		defer c.CloseNow()
		ctx, cancel := context.WithTimeout(r.Context(), waitLong)
		defer cancel()
		if err := serve(ctx, c); err != nil {
			t.Errorf("probe server %s: %v", r.URL.Path, err)
		}
	}
}

// ignoreClosure drops the error a socket gives when the client closed it.
func ignoreClosure(err error) error {
	if websocket.CloseStatus(err) != -1 || errors.Is(err, io.EOF) {
		return nil
	}
	return err
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
