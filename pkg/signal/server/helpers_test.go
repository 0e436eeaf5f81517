package server

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/rooms-dev/rooms/pkg/signal"
)

// logRecorder is a slog.Handler that keeps records so tests can assert that
// a limit was logged.
type logRecorder struct {
	mu    sync.Mutex
	lines []string
	added chan struct{}
}

func newLogRecorder() *logRecorder { return &logRecorder{added: make(chan struct{}, 1)} }

func (l *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecorder) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *logRecorder) WithGroup(string) slog.Handler            { return l }
func (l *logRecorder) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Level.String() + " " + r.Message)
	r.Attrs(func(a slog.Attr) bool {
		b.WriteString(" " + a.String())
		return true
	})
	l.mu.Lock()
	l.lines = append(l.lines, b.String())
	l.mu.Unlock()
	select {
	case l.added <- struct{}{}:
	default:
	}
	return nil
}

// waitFor waits until a logged line contains substr.
func (l *logRecorder) waitFor(t *testing.T, substr string) string {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		l.mu.Lock()
		for _, line := range l.lines {
			if strings.Contains(line, substr) {
				l.mu.Unlock()
				return line
			}
		}
		l.mu.Unlock()
		select {
		case <-l.added:
		case <-deadline:
			t.Fatalf("no log line containing %q; got:\n%s", substr, strings.Join(l.lines, "\n"))
		}
	}
}

// testServer starts a Server behind httptest on loopback.
type testServer struct {
	*Server
	url string // http://127.0.0.1:port
	log *logRecorder
}

func newTestServer(t *testing.T, cfg Config) *testServer {
	t.Helper()
	rec := newLogRecorder()
	if cfg.Logger == nil {
		cfg.Logger = slog.New(rec)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	hs := httptest.NewServer(s)
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		hs.Close()
	})
	return &testServer{Server: s, url: hs.URL, log: rec}
}

// client is a raw PeerJS-protocol client for tests.
type client struct {
	t      *testing.T
	ws     *websocket.Conn
	frames chan []byte // filled by one reader goroutine
	err    error       // why frames was closed
}

// readAll feeds c.frames. A read with a deadline would close the socket
// (coder/websocket does so on context expiry), so reads never time out.
func (c *client) readAll() {
	defer close(c.frames)
	for {
		_, b, err := c.ws.Read(context.Background())
		if err != nil {
			c.err = err
			return
		}
		c.frames <- b
	}
}

func socketURL(base, key, id, token string) string {
	q := url.Values{}
	if key != "" {
		q.Set("key", key)
	}
	if id != "" {
		q.Set("id", id)
	}
	if token != "" {
		q.Set("token", token)
	}
	return "ws" + strings.TrimPrefix(base, "http") + "/peerjs?" + q.Encode()
}

func dialURL(t *testing.T, u string, opts *websocket.DialOptions) *client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, u, opts)
	if err != nil {
		t.Fatalf("dial %s: %v", u, err)
	}
	ws.SetReadLimit(1 << 20)
	t.Cleanup(func() { ws.CloseNow() })
	c := &client{t: t, ws: ws, frames: make(chan []byte, 1024)}
	go c.readAll()
	return c
}

func dial(t *testing.T, base, id, token string) *client {
	t.Helper()
	return dialURL(t, socketURL(base, "peerjs", id, token), nil)
}

// register dials and expects OPEN.
func register(t *testing.T, base, id, token string) *client {
	t.Helper()
	c := dial(t, base, id, token)
	c.expectType(signal.TypeOpen)
	return c
}

func (c *client) next() (signal.Message, error) {
	var b []byte
	select {
	case f, ok := <-c.frames:
		if !ok {
			return signal.Message{}, c.err
		}
		b = f
	case <-time.After(5 * time.Second):
		return signal.Message{}, context.DeadlineExceeded
	}
	var m signal.Message
	if err := json.Unmarshal(b, &m); err != nil {
		c.t.Fatalf("server sent invalid JSON %q: %v", b, err)
	}
	return m, nil
}

func (c *client) mustNext() signal.Message {
	c.t.Helper()
	m, err := c.next()
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	return m
}

func (c *client) expectType(typ string) signal.Message {
	c.t.Helper()
	m := c.mustNext()
	if m.Type != typ {
		c.t.Fatalf("got %+v, want type %s", m, typ)
	}
	return m
}

// expectError expects an ERROR frame with msg and then the socket closing.
func (c *client) expectError(msg string) websocket.StatusCode {
	c.t.Helper()
	m := c.expectType(signal.TypeError)
	var p struct{ Msg string }
	if err := json.Unmarshal(m.Payload, &p); err != nil || p.Msg != msg {
		c.t.Fatalf("ERROR payload %s, want msg %q", m.Payload, msg)
	}
	return c.expectClosed()
}

// expectClosed reads until the socket closes and returns the close status.
func (c *client) expectClosed() websocket.StatusCode {
	c.t.Helper()
	for {
		m, err := c.next()
		if err == nil {
			c.t.Logf("frame before close: %+v", m)
			continue
		}
		if errors.Is(err, context.DeadlineExceeded) {
			c.t.Fatalf("socket not closed")
		}
		return websocket.CloseStatus(err)
	}
}

// expectSilence asserts nothing arrives for d; an absence has no event to
// wait for, so this is the one place tests wait on a clock.
func (c *client) expectSilence(d time.Duration) {
	c.t.Helper()
	select {
	case b, ok := <-c.frames:
		if ok {
			c.t.Fatalf("unexpected frame %s", b)
		}
	case <-time.After(d):
	}
}

func (c *client) sendRaw(s string) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.ws.Write(ctx, websocket.MessageText, []byte(s)); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

func (c *client) sendMsg(m any) {
	c.t.Helper()
	b, err := json.Marshal(m)
	if err != nil {
		c.t.Fatal(err)
	}
	c.sendRaw(string(b))
}

// eventually polls cond until it holds; for state that has no event.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
