//go:build !js

package mesh

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestMain fails the package if goroutines of this package or of pion are
// left running after the tests, giving closing connections a bounded time to
// wind down. (Goroutines of the test framework itself are not counted.)
func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 {
		if leaked := waitGoroutines(5 * time.Second); leaked != "" {
			fmt.Fprintf(os.Stderr, "goroutines leaked:\n%s\n", leaked)
			code = 1
		}
	}
	os.Exit(code)
}

// waitGoroutines waits until no goroutine of pion or of this package is
// left and returns "", or returns their stacks when the time is up.
func waitGoroutines(within time.Duration) string {
	deadline := time.Now().Add(within)
	for {
		leaked := ourGoroutines()
		if len(leaked) == 0 {
			return ""
		}
		if time.Now().After(deadline) {
			return strings.Join(leaked, "\n\n")
		}
		time.Sleep(20 * time.Millisecond) // no event announces a goroutine's end
	}
}

func ourGoroutines() []string {
	buf := make([]byte, 4<<20)
	var out []string
	for _, g := range strings.Split(string(buf[:runtime.Stack(buf, true)]), "\n\n") {
		ours := strings.Contains(g, "github.com/pion/") || strings.Contains(g, "rooms/pkg/mesh.")
		if ours && !strings.Contains(g, "mesh.TestMain") {
			out = append(out, g)
		}
	}
	return out
}

const testTimeout = 10 * time.Second

// peer is one side of a test pair, recording what its Conn delivers.
type peer struct {
	id     string
	conn   *Conn
	frames chan Frame
	states chan State
	bad    chan error
}

// testConfig is the configuration every test peer starts from: loopback
// only, quick keepalive.
func testConfig(p *peer) Config {
	return Config{
		LoopbackOnly:      true,
		KeepaliveInterval: 50 * time.Millisecond,
		PeerTimeout:       3 * time.Second,
		OnFrame:           func(f Frame) { p.frames <- f },
		OnState: func(id string, s State) {
			select {
			case p.states <- s:
			default: // a test that does not read states must not block the conn
			}
		},
		OnBadFrame: func(_ string, err error) {
			select {
			case p.bad <- err:
			default:
			}
		},
	}
}

func newPeer(id string) *peer {
	return &peer{id: id, frames: make(chan Frame, 2048), states: make(chan State, 256), bad: make(chan error, 64)}
}

// newPair connects two real pion peers "a" (offerer) and "b" (answerer) on
// loopback and waits until both are ready. Signals travel through ordered
// queues, like a network, so sendSignal never runs the remote inline.
// tweak, if not nil, adjusts both configurations.
func newPair(t testing.TB, tweak func(*Config)) (a, b *peer) {
	t.Helper()
	a, b = newPeer("a"), newPeer("b")
	stop := make(chan struct{})
	aOut, bOut := make(chan Signal, 16), make(chan Signal, 16)
	a.conn = newTestConn(t, a, b.id, aOut, stop, tweak)
	b.conn = newTestConn(t, b, a.id, bOut, stop, tweak)
	delivered := make(chan struct{}, 2)
	go deliverSignals(t, aOut, b, true, stop, delivered)
	go deliverSignals(t, bOut, a, false, stop, delivered)
	t.Cleanup(func() {
		closeAndWait(t, a.conn, b.conn)
		close(stop)
		<-delivered
		<-delivered
	})
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	if err := a.conn.Dial(ctx); err != nil {
		t.Fatalf("dial: %v", err)
	}
	for _, p := range []*peer{a, b} {
		if err := p.conn.WaitReady(ctx); err != nil {
			t.Fatalf("%s not ready: %v", p.id, err)
		}
	}
	return a, b
}

func newTestConn(t testing.TB, p *peer, remote string, out chan Signal, stop chan struct{}, tweak func(*Config)) *Conn {
	t.Helper()
	cfg := testConfig(p)
	if tweak != nil {
		tweak(&cfg)
	}
	c, err := New(cfg, remote, func(s Signal) error {
		select {
		case out <- s:
			return nil
		case <-stop:
			return ErrClosed
		}
	})
	if err != nil {
		t.Fatalf("new conn %s: %v", p.id, err)
	}
	return c
}

// deliverSignals passes signals to p's Conn in order: the first offer to
// Accept when accept is set, everything else to HandleSignal.
func deliverSignals(t testing.TB, in chan Signal, p *peer, accept bool, stop, done chan struct{}) {
	defer func() { done <- struct{}{} }()
	for {
		select {
		case s := <-in:
			var err error
			ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
			if accept {
				err, accept = p.conn.Accept(ctx, s), false
			} else {
				err = p.conn.HandleSignal(s)
			}
			cancel()
			if err != nil && !strings.Contains(err.Error(), ErrClosed.Error()) {
				t.Errorf("%s: signal %s: %v", p.id, s.Kind, err)
			}
		case <-stop:
			return
		}
	}
}

// closeAndWait closes conns and waits for their goroutines to end.
func closeAndWait(t testing.TB, conns ...*Conn) {
	t.Helper()
	for _, c := range conns {
		c.Close()
	}
	for _, c := range conns {
		select {
		case <-c.Done():
		case <-time.After(testTimeout):
			t.Errorf("conn to %s did not wind down", c.RemoteID())
		}
	}
}

// nextFrame returns the next frame p received, failing after testTimeout.
func (p *peer) nextFrame(t testing.TB) Frame {
	t.Helper()
	select {
	case f := <-p.frames:
		return f
	case <-time.After(testTimeout):
		t.Fatalf("%s: no frame within %v", p.id, testTimeout)
		return Frame{}
	}
}

// waitState waits until p's connection reports want, skipping other states.
func (p *peer) waitState(t testing.TB, want State) {
	t.Helper()
	timeout := time.After(testTimeout)
	for {
		select {
		case s := <-p.states:
			if s == want {
				return
			}
		case <-timeout:
			t.Fatalf("%s: state %v not reached within %v (now %v)", p.id, want, testTimeout, p.conn.State())
		}
	}
}
