//go:build js && wasm

package signal

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"
)

// The TestWasmBrowser tests check the browser WebSocket binding and fetch
// against the endpoints of the probe server the native TestWasmBuild starts
// (see probeServer in client_wasmrun_test.go) at SIGNAL_WASM_PROBE_URL.

const probeWait = 10 * time.Second

// probeURL returns the probe server's endpoint at path, with scheme ws or
// http.
func probeURL(t *testing.T, scheme, path string) string {
	t.Helper()
	base := os.Getenv("SIGNAL_WASM_PROBE_URL") // http://127.0.0.1:port
	if base == "" {
		t.Fatal("SIGNAL_WASM_PROBE_URL not set; run through the native TestWasmBuild")
	}
	return scheme + strings.TrimPrefix(base, "http") + path
}

func probeDial(t *testing.T, path string) *browserSocket {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), probeWait)
	defer cancel()
	s, err := dialSocket(ctx, probeURL(t, "ws", path), nil)
	if err != nil {
		t.Fatalf("dial %s: %v", path, err)
	}
	t.Cleanup(s.closeNow)
	return s.(*browserSocket)
}

func probeRead(t *testing.T, s socket) ([]byte, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), probeWait)
	defer cancel()
	data, err := s.read(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("read: nothing within %v", probeWait)
	}
	return data, err
}

func TestWasmBrowserBadURL(t *testing.T) {
	_, err := dialSocket(context.Background(), "not a url", nil)
	if err == nil || !strings.Contains(err.Error(), "SyntaxError") {
		t.Fatalf("dial of a bad URL = %v, want the browser's SyntaxError", err)
	}
}

func TestWasmBrowserHandshakeRefused(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), probeWait)
	defer cancel()
	_, err := dialSocket(ctx, probeURL(t, "ws", "/refuse"), nil)
	var ce *closeError
	if !errors.As(err, &ce) || ce.code != closeAbnormal {
		t.Fatalf("dial refused by the server = %v, want a 1006 closeError", err)
	}
	if !strings.Contains(err.Error(), "websocket connection failed") {
		t.Fatalf("error %q does not say the connection failed", err)
	}
}

// The server sends "hello" then closes with 4000 "bye": the message is read
// first, then the close, and the handlers are released.
func TestWasmBrowserServerCloses(t *testing.T) {
	s := probeDial(t, "/hello-then-close")
	if data, err := probeRead(t, s); err != nil || string(data) != "hello" {
		t.Fatalf("first read = %q, %v; want hello", data, err)
	}
	_, err := probeRead(t, s)
	var ce *closeError
	if !errors.As(err, &ce) || ce.code != 4000 || ce.reason != "bye" || !ce.clean {
		t.Fatalf("read after the server's close = %v, want a clean closeError 4000 \"bye\"", err)
	}
	if want := `websocket closed with status 4000 (application code): "bye"`; err.Error() != want {
		t.Fatalf("error %q, want %q", err, want)
	}
	if err := s.write(context.Background(), []byte("late")); !errors.As(err, &ce) {
		t.Fatalf("write after the close = %v, want the closeError", err)
	}
	if s.handlers != nil || !s.ws.Get("onclose").IsNull() {
		t.Fatal("event handlers not released after the close event")
	}
}

// A message over MaxFrameSize fails the read and drops the socket; the
// message after it is never delivered.
func TestWasmBrowserMessageTooBig(t *testing.T) {
	s := probeDial(t, "/too-big")
	_, err := probeRead(t, s)
	if err == nil || !strings.Contains(err.Error(), "limit") {
		t.Fatalf("read of an oversized message = %v, want the limit error", err)
	}
	_, err = probeRead(t, s)
	var ce *closeError
	if !errors.As(err, &ce) {
		t.Fatalf("read after the oversized message = %v, want the socket closed", err)
	}
}

func TestWasmBrowserEcho(t *testing.T) {
	s := probeDial(t, "/echo")
	msg := `{"type":"OFFER","payload":"é✓"}`
	if err := s.write(context.Background(), []byte(msg)); err != nil {
		t.Fatal(err)
	}
	if data, err := probeRead(t, s); err != nil || string(data) != msg {
		t.Fatalf("echo = %q, %v; want %q", data, err, msg)
	}
	if err := s.close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if _, err := s.read(context.Background()); !errors.Is(err, errSocketShut) {
		t.Fatalf("read after close = %v, want errSocketShut", err)
	}
	if err := s.write(context.Background(), []byte("x")); !errors.Is(err, errSocketShut) {
		t.Fatalf("write after close = %v, want errSocketShut", err)
	}
}

// As in Client.Close: close is called while another goroutine reads, and
// that reader drops the socket as soon as its read fails. close must still
// see the server's answer rather than time out.
func TestWasmBrowserCloseWhileReading(t *testing.T) {
	s := probeDial(t, "/echo")
	readErr := make(chan error, 1)
	go func() {
		_, err := s.read(context.Background())
		s.closeNow()
		readErr <- err
	}()
	if err := s.close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if err := <-readErr; !errors.Is(err, errSocketShut) {
		t.Fatalf("read during close = %v, want errSocketShut", err)
	}
	if s.handlers != nil {
		t.Fatal("event handlers not released after close")
	}
}

func TestWasmBrowserCancel(t *testing.T) {
	t.Run("dial", func(t *testing.T) {
		// The server never answers the handshake.
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		_, err := dialSocket(ctx, probeURL(t, "ws", "/hang"), nil)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("dial = %v, want DeadlineExceeded", err)
		}
	})
	t.Run("read", func(t *testing.T) {
		s := probeDial(t, "/echo")
		ctx, cancel := context.WithCancel(context.Background())
		go cancel()
		if _, err := s.read(ctx); !errors.Is(err, context.Canceled) {
			t.Fatalf("read = %v, want Canceled", err)
		}
		// A cancelled read leaves the socket usable.
		if err := s.write(context.Background(), []byte("still here")); err != nil {
			t.Fatal(err)
		}
		if data, err := probeRead(t, s); err != nil || string(data) != "still here" {
			t.Fatalf("echo after a cancelled read = %q, %v", data, err)
		}
	})
	t.Run("write", func(t *testing.T) {
		s := probeDial(t, "/echo")
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := s.write(ctx, []byte("x")); !errors.Is(err, context.Canceled) {
			t.Fatalf("write = %v, want Canceled", err)
		}
	})
	t.Run("fetch", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		_, err := fetchID(ctx, nil, probeURL(t, "http", "/hang"))
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("fetchID = %v, want DeadlineExceeded", err)
		}
	})
}

func TestWasmBrowserFetchID(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), probeWait)
	defer cancel()
	if id, err := fetchID(ctx, nil, probeURL(t, "http", "/id")); err != nil || id != "probe-id 1" {
		t.Fatalf("fetchID = %q, %v; want probe-id 1", id, err)
	}
	_, err := fetchID(ctx, nil, probeURL(t, "http", "/missing"))
	if want := `signal fetch id: 404 Not Found: "no such key\n"`; err == nil || err.Error() != want {
		t.Fatalf("fetchID of a 404 = %v, want %s", err, want)
	}
	_, err = fetchID(ctx, nil, probeURL(t, "http", "/bad-id"))
	if !errors.Is(err, ErrInvalidID) {
		t.Fatalf("fetchID of an invalid id = %v, want ErrInvalidID", err)
	}
	_, err = fetchID(ctx, nil, probeURL(t, "http", "/refuse"))
	if err == nil || !strings.Contains(err.Error(), "403") {
		t.Fatalf("fetchID of a 403 = %v", err)
	}
}
