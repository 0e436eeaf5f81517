package signal_test

import (
	"context"
	"encoding/hex"
	"fmt"
	"github.com/rooms-dev/rooms/internal/testenv"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rooms-dev/rooms/pkg/signal"
)

// Timings every backend is configured with, short so tests run fast.
const (
	testExpireTimeout = 500 * time.Millisecond
	testAliveTimeout  = 1500 * time.Millisecond
	testHeartbeat     = 200 * time.Millisecond
	waitLong          = 10 * time.Second // deadline for anything that should happen
)

// backend is a PeerJS-protocol server the behavioural tests run against,
// started on first use and stopped by TestMain.
type backend struct {
	name  string
	start func() (url string, stop func(), err error)

	once sync.Once
	url  string
	stop func()
	err  error
}

// backends is the table of servers; client_ourserver_test.go adds ours.
var backends = []*backend{{name: "npm-peer", start: startNPMPeer}}

func (b *backend) URL(t *testing.T) string {
	t.Helper()
	url, err := b.startOnce()
	if err != nil {
		t.Fatalf("start %s server: %v", b.name, err)
	}
	return url
}

func (b *backend) startOnce() (string, error) {
	b.once.Do(func() { b.url, b.stop, b.err = b.start() })
	return b.url, b.err
}

// forEachBackend runs test once per backend, in parallel subtests.
func forEachBackend(t *testing.T, test func(t *testing.T, url string)) {
	t.Parallel()
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			test(t, b.URL(t))
		})
	}
}

func TestMain(m *testing.M) {
	code := m.Run()
	for _, b := range backends {
		if b.stop != nil {
			b.stop()
		}
	}
	if code == 0 && !noLeakedClients() {
		code = 1
	}
	os.Exit(code)
}

// noLeakedClients waits for the clients' goroutines to end after the tests
// closed them, and reports any that remain with their stacks.
func noLeakedClients() bool {
	deadline := time.Now().Add(5 * time.Second)
	for {
		buf := make([]byte, 1<<20)
		stacks := string(buf[:runtime.Stack(buf, true)])
		var leaked []string
		for _, g := range strings.Split(stacks, "\n\n") {
			if strings.Contains(g, "pkg/signal.(*Client)") || strings.Contains(g, "pkg/signal.(*session)") {
				leaked = append(leaked, g)
			}
		}
		if len(leaked) == 0 {
			return true
		}
		if time.Now().After(deadline) {
			fmt.Fprintf(os.Stderr, "leaked client goroutines:\n%s\n", strings.Join(leaked, "\n\n"))
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// startNPMPeer runs the real npm `peer` server with short timeouts.
func startNPMPeer() (string, func(), error) {
	return testenv.StartNPMPeer(
		"--expire_timeout", strconv.Itoa(int(testExpireTimeout.Milliseconds())),
		"--alive_timeout", strconv.Itoa(int(testAliveTimeout.Milliseconds())))
}

// newID returns an id no other test uses.
func newID(prefix string) string {
	b := make([]byte, 6)
	for i := range b {
		b[i] = byte(rand.N(256))
	}
	return prefix + "-" + hex.EncodeToString(b)
}

// dial registers a client with test timings and closes it at cleanup.
func dial(t *testing.T, cfg signal.ClientConfig) *signal.Client {
	t.Helper()
	c, err := tryDial(t, cfg)
	if err != nil {
		t.Fatalf("Dial %q: %v", cfg.ID, err)
	}
	return c
}

func tryDial(t *testing.T, cfg signal.ClientConfig) (*signal.Client, error) {
	t.Helper()
	if cfg.HeartbeatInterval == 0 {
		cfg.HeartbeatInterval = testHeartbeat
	}
	if cfg.HandshakeTimeout == 0 {
		cfg.HandshakeTimeout = 5 * time.Second
	}
	cfg.ReconnectMin, cfg.ReconnectMax = 20*time.Millisecond, 200*time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), waitLong)
	defer cancel()
	c, err := signal.Dial(ctx, cfg)
	if err == nil {
		t.Cleanup(func() { c.Close() })
	}
	return c, err
}

// recv returns the next relayed message of c.
func recv(t *testing.T, c *signal.Client) signal.Message {
	t.Helper()
	select {
	case m, ok := <-c.Messages():
		if !ok {
			t.Fatalf("%s: Messages closed: %v", c.ID(), c.Err())
		}
		return m
	case <-time.After(waitLong):
		t.Fatalf("%s: no message within %v", c.ID(), waitLong)
	}
	return signal.Message{}
}

// waitEvent returns c's next event of the given kind, skipping others.
func waitEvent(t *testing.T, c *signal.Client, kind signal.EventKind) signal.Event {
	t.Helper()
	timeout := time.After(waitLong)
	for {
		select {
		case ev := <-c.Events():
			if ev.Kind == kind {
				return ev
			}
		case <-timeout:
			t.Fatalf("%s: no %v event within %v", c.ID(), kind, waitLong)
		}
	}
}

func send(t *testing.T, c *signal.Client, m signal.Message) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLong)
	defer cancel()
	if err := c.Send(ctx, m); err != nil {
		t.Fatalf("%s: Send: %v", c.ID(), err)
	}
}

// proxy is a loopback TCP proxy whose connections the test can cut, so a
// client sees a real drop.
type proxy struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	pairs []*pipePair
	held  chan struct{} // non-nil: new connections wait until it is closed
	wg    sync.WaitGroup
}

type pipePair struct {
	client, upstream net.Conn
	keepUpstream     bool // cut left the server's side open
}

func newProxy(t *testing.T, targetURL string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	host := strings.TrimSuffix(strings.TrimPrefix(targetURL, "http://"), "/")
	p := &proxy{ln: ln, target: host}
	p.wg.Go(p.accept)
	t.Cleanup(p.close)
	return p
}

func (p *proxy) URL() string { return "http://" + p.ln.Addr().String() + "/" }

func (p *proxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		held := p.held
		p.mu.Unlock()
		p.wg.Go(func() { p.connect(c, held) })
	}
}

func (p *proxy) connect(c net.Conn, held chan struct{}) {
	if held != nil {
		<-held
	}
	up, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	pp := &pipePair{client: c, upstream: up}
	p.mu.Lock()
	p.pairs = append(p.pairs, pp)
	p.mu.Unlock()
	p.wg.Go(func() { p.pipe(pp, up, c) })
	p.wg.Go(func() { p.pipe(pp, c, up) })
}

// hold makes new connections wait before reaching the server; the returned
// function lets them (and later ones) through.
func (p *proxy) hold() (release func()) {
	held := make(chan struct{})
	p.mu.Lock()
	p.held = held
	p.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			p.mu.Lock()
			p.held = nil
			p.mu.Unlock()
			close(held)
		})
	}
}

func (p *proxy) pipe(pp *pipePair, dst, src net.Conn) {
	_, _ = io.Copy(dst, src)
	p.mu.Lock()
	keep := pp.keepUpstream
	p.mu.Unlock()
	pp.client.Close()
	if !keep {
		pp.upstream.Close()
	}
}

// cut drops every client-side connection. With keepUpstream the server's
// side stays open and silent, like a peer that vanished without a FIN: the
// server still holds the registration on a dead socket.
func (p *proxy) cut(keepUpstream bool) {
	p.mu.Lock()
	pairs := p.pairs // kept: close still has to close kept upstreams
	for _, pp := range pairs {
		pp.keepUpstream = keepUpstream
	}
	p.mu.Unlock()
	for _, pp := range pairs {
		pp.client.Close()
		if !keepUpstream {
			pp.upstream.Close()
		}
	}
}

func (p *proxy) close() {
	p.ln.Close()
	p.mu.Lock()
	if p.held != nil {
		close(p.held)
		p.held = nil
	}
	p.mu.Unlock()
	p.mu.Lock()
	pairs := p.pairs
	p.mu.Unlock()
	for _, pp := range pairs {
		pp.client.Close()
		pp.upstream.Close()
	}
	p.wg.Wait()
}
