//go:build !js

package mesh

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"regexp"
	"testing"
	"time"
)

func TestExchangeBothWays(t *testing.T) {
	t.Parallel()
	a, b := newPair(t, nil)
	if err := a.conn.Send(typeTest, []byte("hello b")); err != nil {
		t.Fatal(err)
	}
	if err := b.conn.Send(typeOther, []byte("hello a")); err != nil {
		t.Fatal(err)
	}
	got := b.nextFrame(t)
	if got.From != "a" || got.Type != typeTest || string(got.Payload) != "hello b" || got.Ephemeral {
		t.Errorf("b got %+v", got)
	}
	got = a.nextFrame(t)
	if got.From != "b" || got.Type != typeOther || string(got.Payload) != "hello a" || got.Ephemeral {
		t.Errorf("a got %+v", got)
	}
	if err := a.conn.Send(typeTest, nil); err != nil {
		t.Fatal(err)
	}
	if got := b.nextFrame(t); len(got.Payload) != 0 {
		t.Errorf("empty frame arrived with %d bytes", len(got.Payload))
	}
	if a.conn.State() != StateConnected || b.conn.State() != StateConnected {
		t.Errorf("states %v, %v; want connected", a.conn.State(), b.conn.State())
	}
}

func TestOrderedDelivery(t *testing.T) {
	t.Parallel()
	a, b := newPair(t, nil)
	const n = 1000
	for i := range n {
		if err := a.conn.Send(typeTest, fmt.Appendf(nil, "%d", i)); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
	for i := range n {
		if got, want := string(b.nextFrame(t).Payload), fmt.Sprint(i); got != want {
			t.Fatalf("frame %d: got %q", i, got)
		}
	}
	if s := b.conn.Stats(); s.FramesReceived != n || s.Dropped != 0 {
		t.Errorf("b stats %+v", s)
	}
}

func TestLargeFrameChunked(t *testing.T) {
	t.Parallel()
	a, b := newPair(t, nil)
	big := make([]byte, 5<<20)
	rng := rand.NewChaCha8([32]byte{1})
	rng.Read(big)
	errc := make(chan error, 1)
	go func() { errc <- a.conn.Send(typeTest, big) }()
	// A small frame sent while the big one is in flight may pass it: chunks
	// of different frames interleave on the channel.
	if err := a.conn.Send(typeOther, []byte("small")); err != nil {
		t.Fatal(err)
	}
	var gotBig []byte
	for gotBig == nil {
		f := b.nextFrame(t)
		switch f.Type {
		case typeTest:
			gotBig = f.Payload
		case typeOther:
			if string(f.Payload) != "small" {
				t.Errorf("small frame %q", f.Payload)
			}
		}
	}
	if err := <-errc; err != nil {
		t.Fatalf("send big: %v", err)
	}
	if !bytes.Equal(gotBig, big) {
		t.Fatalf("big frame differs: got %d bytes", len(gotBig))
	}
}

func TestEphemeral(t *testing.T) {
	t.Parallel()
	a, b := newPair(t, nil)
	// The channel is unreliable; on loopback nothing is lost, but the test
	// only requires that what arrives is intact and marked ephemeral.
	sent := map[string]bool{}
	for i := range 20 {
		p := fmt.Sprintf("cursor %d", i)
		sent[p] = true
		if err := a.conn.SendEphemeral(typeTest, []byte(p)); err != nil {
			t.Fatal(err)
		}
	}
	f := b.nextFrame(t)
	if !f.Ephemeral || f.From != "a" || !sent[string(f.Payload)] {
		t.Errorf("got %+v", f)
	}
	err := a.conn.SendEphemeral(typeTest, make([]byte, MaxSinglePayload+1))
	if !errors.Is(err, ErrOversized) {
		t.Errorf("oversized ephemeral: %v, want ErrOversized", err)
	}
	if err := a.conn.SendEphemeral(typeTest, make([]byte, MaxSinglePayload)); err != nil {
		t.Errorf("largest ephemeral: %v", err)
	}
}

func TestSendRejects(t *testing.T) {
	t.Parallel()
	a, _ := newPair(t, func(c *Config) { c.MaxFrameSize = 1 << 20 })
	if err := a.conn.Send(TypePing, nil); !errors.Is(err, ErrReservedType) {
		t.Errorf("reserved type: %v", err)
	}
	if err := a.conn.SendEphemeral(TypeBye, nil); !errors.Is(err, ErrReservedType) {
		t.Errorf("reserved ephemeral type: %v", err)
	}
	if err := a.conn.Send(typeTest, make([]byte, 1<<20+1)); !errors.Is(err, ErrOversized) {
		t.Errorf("frame above MaxFrameSize: %v", err)
	}
}

func TestSendBeforeReady(t *testing.T) {
	t.Parallel()
	p := newPeer("a")
	c, err := New(testConfig(p), "b", func(Signal) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	defer closeAndWait(t, c)
	if err := c.Send(typeTest, []byte("x")); !errors.Is(err, ErrNotReady) {
		t.Errorf("send before ready: %v", err)
	}
	if err := c.Restart(); !errors.Is(err, ErrRole) {
		t.Errorf("restart before dial: %v", err)
	}
	c.Close()
	if err := c.Send(typeTest, []byte("x")); !errors.Is(err, ErrClosed) {
		t.Errorf("send after close: %v", err)
	}
	if err := c.WaitReady(context.Background()); !errors.Is(err, ErrClosed) {
		t.Errorf("wait after close: %v", err)
	}
}

func TestRTT(t *testing.T) {
	t.Parallel()
	a, _ := newPair(t, nil)
	// No event marks "first pong"; poll the measurement.
	eventually(t, "RTT measured", func() bool { return a.conn.RTT() > 0 })
	s := a.conn.Stats()
	if s.RTT <= 0 || s.LastRTT <= 0 || s.RTT > time.Second {
		t.Errorf("implausible RTT on loopback: %+v", s)
	}
}

var ufragRE = regexp.MustCompile(`a=ice-ufrag:(\S+)`)

// ufrags returns the ICE username fragments of c's local and remote
// descriptions; an ICE restart changes both.
func ufrags(c *Conn) (local, remote string) {
	find := func(sdp string) string {
		if m := ufragRE.FindStringSubmatch(sdp); m != nil {
			return m[1]
		}
		return ""
	}
	pc := c.PeerConnection()
	return find(pc.LocalDescription().SDP), find(pc.RemoteDescription().SDP)
}

func TestICERestart(t *testing.T) {
	t.Parallel()
	a, b := newPair(t, nil)
	for i, restarter := range []*peer{a, b} {
		local, remote := ufrags(a.conn)
		if err := restarter.conn.Restart(); err != nil {
			t.Fatalf("restart by %s: %v", restarter.id, err)
		}
		// The restart has gone through once the offerer sent fresh
		// credentials and took an answer with fresh ones; the descriptions
		// raise no event, so poll them.
		eventually(t, fmt.Sprint("restart ", i, " by ", restarter.id), func() bool {
			l, r := ufrags(a.conn)
			return l != local && r != remote
		})
		roundTrip(t, a, b, fmt.Sprint("after restart ", i))
	}
	if a.conn.State() != StateConnected || b.conn.State() != StateConnected {
		t.Errorf("states %v, %v after restarts", a.conn.State(), b.conn.State())
	}
}

// eventually polls cond until it holds, failing after testTimeout. Only for
// facts no event reports.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(testTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, testTimeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// roundTrip sends msg a→b and back b→a.
func roundTrip(t *testing.T, a, b *peer, msg string) {
	t.Helper()
	if err := a.conn.Send(typeTest, []byte(msg)); err != nil {
		t.Fatal(err)
	}
	if got := b.nextFrame(t); string(got.Payload) != msg {
		t.Fatalf("b got %q, want %q", got.Payload, msg)
	}
	if err := b.conn.Send(typeTest, []byte(msg)); err != nil {
		t.Fatal(err)
	}
	if got := a.nextFrame(t); string(got.Payload) != msg {
		t.Fatalf("a got %q, want %q", got.Payload, msg)
	}
}

func TestCloseTearsDownBothEnds(t *testing.T) {
	t.Parallel()
	a, b := newPair(t, nil)
	if err := a.conn.Close(); err != nil {
		t.Fatal(err)
	}
	a.waitState(t, StateClosed)
	b.waitState(t, StateClosed)
	for _, p := range []*peer{a, b} {
		select {
		case <-p.conn.Done():
		case <-time.After(testTimeout):
			t.Fatalf("%s did not wind down", p.id)
		}
		if err := p.conn.Send(typeTest, nil); !errors.Is(err, ErrClosed) {
			t.Errorf("%s: send after close: %v", p.id, err)
		}
	}
}

func TestRemoteVanishes(t *testing.T) {
	t.Parallel()
	a, b := newPair(t, nil)
	// Tear a's transport down without the bye frame, as a crashing process
	// would: b must notice from the channels closing.
	if err := a.conn.PeerConnection().Close(); err != nil {
		t.Fatal(err)
	}
	b.waitState(t, StateClosed)
}

func TestAutoRestartAfterICEFailure(t *testing.T) {
	t.Parallel()
	a, b := newPair(t, nil)
	local, _ := ufrags(a.conn)
	// Loopback ICE does not fail on demand, so feed the restart loop the
	// input a real failure produces; the restart that follows is real.
	a.conn.ice.Store(iceFailed)
	notify(a.conn.iceBad)
	eventually(t, "automatic ICE restart", func() bool {
		l, _ := ufrags(a.conn)
		return l != local
	})
	roundTrip(t, a, b, "after automatic restart")
}

func TestUnreachableWithoutPongs(t *testing.T) {
	t.Parallel()
	a, b := newPair(t, func(c *Config) { c.PeerTimeout = 300 * time.Millisecond })
	b.conn.noPong.Store(true)
	a.waitState(t, StateUnreachable)
	b.conn.noPong.Store(false)
	a.waitState(t, StateConnected)
}

func TestMalformedFramesDropped(t *testing.T) {
	t.Parallel()
	a, b := newPair(t, nil)
	bad := []struct {
		msg  []byte
		want error
	}{
		{[]byte{9, byte(typeTest), 0, 0, 'x'}, ErrUnknownVersion},
		{[]byte{Version, byte(typeTest)}, ErrTruncated},
		{encodeChunk(typeTest, 7, 1, 100, []byte("late")), ErrChunkSequence},
		{encodeChunk(typeTest, 8, 0, DefaultMaxFrameSize+1, []byte("x")), ErrOversized},
		{encodeSingle(0x0f, nil), ErrMalformed},
		{encodeSingle(TypePing, []byte("short")), ErrMalformed},
	}
	for _, c := range bad {
		if err := a.conn.rel.send(c.msg); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-b.bad:
			if !errors.Is(err, c.want) {
				t.Errorf("message % x: %v, want %v", c.msg[:min(len(c.msg), 8)], err, c.want)
			}
		case <-time.After(testTimeout):
			t.Fatalf("message % x not reported", c.msg[:min(len(c.msg), 8)])
		}
	}
	if got := b.conn.Stats().Dropped; got != uint64(len(bad)) {
		t.Errorf("dropped %d, want %d", got, len(bad))
	}
	roundTrip(t, a, b, "still fine")
}

func TestBackpressureTimesOut(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	a, _ := newPair(t, func(c *Config) {
		c.MaxBufferedAmount = 64 << 10
		c.SendTimeout = 300 * time.Millisecond
		c.OnFrame = func(Frame) { <-release } // b stops reading
	})
	// b's read loop is stuck in OnFrame after the first frame: its queue,
	// then SCTP's receive window, then a's send buffer fill up, and Send
	// gives up rather than buffering without bound.
	err := a.conn.Send(typeTest, make([]byte, 16<<20))
	close(release)
	if !errors.Is(err, ErrSendTimeout) {
		t.Fatalf("send into a stalled peer: %v, want ErrSendTimeout", err)
	}
	// One chunk may go in at the limit, and pings skip the wait.
	if got := a.conn.rel.bufferedAmount(); got > 64<<10+MaxMessageSize+1024 {
		t.Errorf("buffered %d bytes, above the limit", got)
	}
}

func TestBadSignals(t *testing.T) {
	t.Parallel()
	a, b := newPair(t, nil)
	ctx := context.Background()
	cases := []struct {
		name string
		err  error
		want error
	}{
		{"offer to the offerer", a.conn.HandleSignal(Signal{Kind: SignalOffer, SDP: "v=0"}), ErrRole},
		{"answer to the answerer", b.conn.HandleSignal(Signal{Kind: SignalAnswer, SDP: "v=0"}), ErrRole},
		{"answer without an offer", a.conn.HandleSignal(Signal{Kind: SignalAnswer, SDP: "v=0"}), ErrBadSignal},
		{"unknown kind", a.conn.HandleSignal(Signal{Kind: "candidate"}), ErrRole},
		{"garbage offer", b.conn.HandleSignal(Signal{Kind: SignalOffer, SDP: "not sdp"}), ErrBadSignal},
		{"empty offer", b.conn.HandleSignal(Signal{Kind: SignalOffer}), ErrBadSignal},
		{"second accept", b.conn.Accept(ctx, Signal{Kind: SignalOffer, SDP: "v=0"}), ErrRole},
		{"dial after accept", b.conn.Dial(ctx), ErrRole},
		{"accept an answer", b.conn.Accept(ctx, Signal{Kind: SignalAnswer}), ErrBadSignal},
	}
	for _, c := range cases {
		if !errors.Is(c.err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, c.err, c.want)
		}
	}
	roundTrip(t, a, b, "signals rejected, connection intact")
}

func TestSignalJSON(t *testing.T) {
	b, err := json.Marshal(Signal{Kind: SignalOffer, SDP: "v=0\r\n"})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"kind":"offer","sdp":"v=0\r\n"}`; string(b) != want {
		t.Errorf("got %s, want %s", b, want)
	}
	var s Signal
	if err := json.Unmarshal([]byte(`{"kind":"restart"}`), &s); err != nil || s.Kind != SignalRestart {
		t.Errorf("decoded %+v, %v", s, err)
	}
}

func TestConcurrentLargeFrames(t *testing.T) {
	t.Parallel()
	// A small send buffer makes each Send wait between chunks, so the
	// frames interleave.
	a, b := newPair(t, func(c *Config) { c.MaxPendingFrames, c.MaxBufferedAmount = 2, 20_000 })
	const n = 6
	errc := make(chan error, n)
	for i := range n {
		payload := bytes.Repeat([]byte{byte(i)}, 100_000+i)
		go func() { errc <- a.conn.Send(typeTest, payload) }()
	}
	seen := map[int]bool{}
	for range n {
		f := b.nextFrame(t)
		i := len(f.Payload) - 100_000
		if i < 0 || i >= n || seen[i] || !bytes.Equal(f.Payload, bytes.Repeat([]byte{byte(i)}, 100_000+i)) {
			t.Fatalf("unexpected frame of %d bytes", len(f.Payload))
		}
		seen[i] = true
	}
	for range n {
		if err := <-errc; err != nil {
			t.Error(err)
		}
	}
	// The sender keeps to the receiver's limit on frames in reassembly.
	if d := b.conn.Stats().Dropped; d != 0 {
		t.Errorf("%d messages dropped", d)
	}
}
