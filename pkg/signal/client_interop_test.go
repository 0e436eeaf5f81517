package signal_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/rooms-dev/rooms/internal/testenv"
	"github.com/rooms-dev/rooms/pkg/signal"
)

// The tests in this file run against every server in backends: the real npm
// `peer` server and ours.

func TestFetchedID(t *testing.T) {
	forEachBackend(t, func(t *testing.T, url string) {
		a := dial(t, signal.ClientConfig{URL: url})
		if a.ID() == "" || a.Token() == "" {
			t.Fatalf("fetched id %q, token %q", a.ID(), a.Token())
		}
		b := dial(t, signal.ClientConfig{URL: url})
		if a.ID() == b.ID() {
			t.Fatalf("two clients got the same id %q", a.ID())
		}
		send(t, b, signal.Message{Type: signal.TypeOffer, Dst: a.ID(), Payload: json.RawMessage(`{"n":1}`)})
		if m := recv(t, a); m.Type != signal.TypeOffer || m.Src != b.ID() {
			t.Fatalf("a got %+v, want OFFER from %s", m, b.ID())
		}
	})
}

func TestRelay(t *testing.T) {
	forEachBackend(t, func(t *testing.T, url string) {
		a := dial(t, signal.ClientConfig{URL: url, ID: newID("a")})
		b := dial(t, signal.ClientConfig{URL: url, ID: newID("b")})
		steps := []struct {
			from, to *signal.Client
			typ      string
			payload  string
		}{
			{a, b, signal.TypeOffer, `{"sdp":{"type":"offer","sdp":"v=0\r\n"},"type":"data","connectionId":"dc_1"}`},
			{b, a, signal.TypeAnswer, `{"sdp":{"type":"answer","sdp":"v=0\r\n"}}`},
			{a, b, signal.TypeCandidate, `{"candidate":{"candidate":"candidate:1 1 udp 1 127.0.0.1 5000 typ host"}}`},
			{b, a, signal.TypeCandidate, `{"unicode":"é✓","n":[1,2.5,null]}`},
			{a, b, signal.TypeLeave, `{}`},
		}
		for _, s := range steps {
			// Src is the server's to stamp: a forged one must not survive.
			send(t, s.from, signal.Message{Type: s.typ, Src: "forged", Dst: s.to.ID(), Payload: json.RawMessage(s.payload)})
			m := recv(t, s.to)
			if m.Type != s.typ || m.Src != s.from.ID() || m.Dst != s.to.ID() {
				t.Fatalf("%s got %+v, want %s from %s", s.to.ID(), m, s.typ, s.from.ID())
			}
			if !jsonEqual(t, m.Payload, s.payload) {
				t.Fatalf("%s payload = %s, want %s", s.typ, m.Payload, s.payload)
			}
		}
	})
}

func jsonEqual(t *testing.T, got json.RawMessage, want string) bool {
	t.Helper()
	var g, w bytes.Buffer
	if err := json.Compact(&g, got); err != nil {
		t.Fatalf("payload %q: %v", got, err)
	}
	if err := json.Compact(&w, []byte(want)); err != nil {
		t.Fatal(err)
	}
	var gv, wv any
	_ = json.Unmarshal(g.Bytes(), &gv)
	_ = json.Unmarshal(w.Bytes(), &wv)
	return fmt.Sprint(gv) == fmt.Sprint(wv)
}

func TestExpire(t *testing.T) {
	forEachBackend(t, func(t *testing.T, url string) {
		a := dial(t, signal.ClientConfig{URL: url, ID: newID("a")})
		absent := newID("absent")
		send(t, a, signal.Message{Type: signal.TypeOffer, Dst: absent, Payload: json.RawMessage(`{}`)})
		m := recv(t, a)
		if m.Type != signal.TypeExpire || m.Src != absent || m.Dst != a.ID() {
			t.Fatalf("got %+v, want EXPIRE from %s", m, absent)
		}
	})
}

func TestQueuedUntilRegistered(t *testing.T) {
	forEachBackend(t, func(t *testing.T, url string) {
		a := dial(t, signal.ClientConfig{URL: url, ID: newID("a")})
		later := newID("later")
		send(t, a, signal.Message{Type: signal.TypeOffer, Dst: later, Payload: json.RawMessage(`{"q":1}`)})
		// Registering before the expire timeout gets the queued message
		// (collected during the handshake, delivered first).
		b := dial(t, signal.ClientConfig{URL: url, ID: later})
		if m := recv(t, b); m.Type != signal.TypeOffer || m.Src != a.ID() {
			t.Fatalf("got %+v, want the queued OFFER from %s", m, a.ID())
		}
	})
}

func TestIDTaken(t *testing.T) {
	forEachBackend(t, func(t *testing.T, url string) {
		id := newID("room")
		a := dial(t, signal.ClientConfig{URL: url, ID: id, Token: "first"})
		_, err := tryDial(t, signal.ClientConfig{URL: url, ID: id, Token: "second"})
		if !errors.Is(err, signal.ErrIDTaken) {
			t.Fatalf("Dial with another token: err = %v, want ErrIDTaken", err)
		}
		// The holder is untouched.
		b := dial(t, signal.ClientConfig{URL: url, ID: newID("b")})
		send(t, b, signal.Message{Type: signal.TypeOffer, Dst: id})
		if m := recv(t, a); m.Src != b.ID() {
			t.Fatalf("holder got %+v", m)
		}
	})
}

func TestInvalidKey(t *testing.T) {
	forEachBackend(t, func(t *testing.T, url string) {
		_, err := tryDial(t, signal.ClientConfig{URL: url, ID: newID("a"), Key: "not-the-key"})
		if !errors.Is(err, signal.ErrInvalidKey) {
			t.Fatalf("err = %v, want ErrInvalidKey", err)
		}
	})
}

// TestTakeoverWhileConnected is how a new doorman takes the room id over:
// same id, same token, while the old holder's socket is still open.
func TestTakeoverWhileConnected(t *testing.T) {
	forEachBackend(t, func(t *testing.T, url string) {
		id, token := newID("room"), "room-secret"
		old := dial(t, signal.ClientConfig{URL: url, ID: id, Token: token})
		heir := dial(t, signal.ClientConfig{URL: url, ID: id, Token: token})
		b := dial(t, signal.ClientConfig{URL: url, ID: newID("b")})
		send(t, b, signal.Message{Type: signal.TypeOffer, Dst: id, Payload: json.RawMessage(`{"k":1}`)})
		if m := recv(t, heir); m.Type != signal.TypeOffer || m.Src != b.ID() {
			t.Fatalf("heir got %+v", m)
		}
		// The old socket hears nothing more, so its probes go unanswered:
		// it must stop, not steal the id back.
		select {
		case <-old.Done():
		case <-time.After(waitLong):
			t.Fatal("old holder did not notice the takeover")
		}
		if !errors.Is(old.Err(), signal.ErrSuperseded) {
			t.Fatalf("old holder err = %v, want ErrSuperseded", old.Err())
		}
		for m := range old.Messages() {
			t.Fatalf("old holder got %+v after the takeover", m)
		}
		send(t, b, signal.Message{Type: signal.TypeCandidate, Dst: id})
		if m := recv(t, heir); m.Type != signal.TypeCandidate {
			t.Fatalf("heir got %+v after the old holder stopped", m)
		}
	})
}

// TestReconnectAfterCut drops the socket on both sides: the server frees
// the id and the client registers it afresh.
func TestReconnectAfterCut(t *testing.T) {
	forEachBackend(t, func(t *testing.T, url string) { testReconnect(t, url, false) })
}

// TestReconnectTakesOverDeadSocket drops only the client's side: the server
// still holds the id on a dead socket, and the reconnect takes it over with
// the same token (no OPEN comes; the probe echo confirms).
func TestReconnectTakesOverDeadSocket(t *testing.T) {
	forEachBackend(t, func(t *testing.T, url string) { testReconnect(t, url, true) })
}

func testReconnect(t *testing.T, url string, keepServerSide bool) {
	p := newProxy(t, url)
	id := newID("a")
	logs := &testenv.LogBuffer{}
	a := dial(t, signal.ClientConfig{URL: p.URL(), ID: id,
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	b := dial(t, signal.ClientConfig{URL: url, ID: newID("b")})
	for round := range 2 {
		p.cut(keepServerSide)
		if ev := waitEvent(t, a, signal.EventReconnecting); ev.Err == nil {
			t.Fatal("reconnecting event without a cause")
		}
		waitEvent(t, a, signal.EventReconnected)
		// With the server's side kept open the id was still registered:
		// no OPEN came, the probe echo confirmed the takeover.
		if keepServerSide && strings.Count(logs.String(), "via=takeover") != round+1 {
			t.Fatalf("round %d: reconnect was not a takeover; log:\n%s", round, logs)
		}
		if a.ID() != id {
			t.Fatalf("id changed to %q", a.ID())
		}
		payload := json.RawMessage(fmt.Sprintf(`{"round":%d}`, round))
		send(t, b, signal.Message{Type: signal.TypeOffer, Dst: id, Payload: payload})
		if m := recv(t, a); m.Src != b.ID() || !jsonEqual(t, m.Payload, string(payload)) {
			t.Fatalf("round %d: got %+v", round, m)
		}
		send(t, a, signal.Message{Type: signal.TypeAnswer, Dst: b.ID()})
		if m := recv(t, b); m.Type != signal.TypeAnswer || m.Src != id {
			t.Fatalf("round %d: b got %+v", round, m)
		}
	}
}

// TestHeartbeatKeepsRegistration: the servers drop a socket that stays
// silent for the alive timeout (1.5 s here). A client without heartbeats is
// the clock: once it was dropped twice, more than two alive timeouts have
// passed, and the heartbeating client must still hold its socket.
func TestHeartbeatKeepsRegistration(t *testing.T) {
	forEachBackend(t, func(t *testing.T, url string) {
		alive := dial(t, signal.ClientConfig{URL: url, ID: newID("alive")})
		silent := dial(t, signal.ClientConfig{URL: url, ID: newID("silent"), HeartbeatInterval: -1})
		for range 2 {
			waitEvent(t, silent, signal.EventReconnecting)
			waitEvent(t, silent, signal.EventReconnected)
		}
		select {
		case ev := <-alive.Events():
			t.Fatalf("heartbeating client had event %v (%v)", ev.Kind, ev.Err)
		default:
		}
		send(t, silent, signal.Message{Type: signal.TypeOffer, Dst: alive.ID()})
		if m := recv(t, alive); m.Src != silent.ID() {
			t.Fatalf("got %+v", m)
		}
	})
}

func TestCloseFreesID(t *testing.T) {
	forEachBackend(t, func(t *testing.T, url string) {
		id := newID("a")
		a := dial(t, signal.ClientConfig{URL: url, ID: id, Token: "one"})
		if err := a.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		if !errors.Is(a.Err(), signal.ErrClosed) {
			t.Fatalf("Err after Close = %v", a.Err())
		}
		if _, ok := <-a.Messages(); ok {
			t.Fatal("Messages not closed after Close")
		}
		if err := a.Send(context.Background(), signal.Message{Type: signal.TypeOffer, Dst: "x"}); !errors.Is(err, signal.ErrClosed) {
			t.Fatalf("Send after Close = %v, want ErrClosed", err)
		}
		// The close frame made the server free the id: another token may
		// claim it. The server processes the close asynchronously, so the
		// claim is retried until a deadline.
		deadline := time.Now().Add(waitLong)
		for {
			_, err := tryDial(t, signal.ClientConfig{URL: url, ID: id, Token: "two"})
			if err == nil {
				break
			}
			if !errors.Is(err, signal.ErrIDTaken) || time.Now().After(deadline) {
				t.Fatalf("claim after Close: %v", err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
}

// TestBackpressure: a reader slower than the sender loses nothing; the
// client stops reading the socket while Messages() is full.
func TestBackpressure(t *testing.T) {
	forEachBackend(t, func(t *testing.T, url string) {
		a := dial(t, signal.ClientConfig{URL: url, ID: newID("a"), MessageBuffer: 1})
		b := dial(t, signal.ClientConfig{URL: url, ID: newID("b")})
		const n = 40
		for i := range n {
			send(t, b, signal.Message{Type: signal.TypeCandidate, Dst: a.ID(), Payload: json.RawMessage(fmt.Sprint(i))})
		}
		for i := range n {
			if m := recv(t, a); string(m.Payload) != fmt.Sprint(i) {
				t.Fatalf("message %d has payload %s", i, m.Payload)
			}
		}
	})
}

func TestSendRejectsControlFrames(t *testing.T) {
	forEachBackend(t, func(t *testing.T, url string) {
		a := dial(t, signal.ClientConfig{URL: url, ID: newID("a")})
		for _, m := range []signal.Message{
			{Type: signal.TypeHeartbeat, Dst: "x"},
			{Type: signal.TypeLeave},
			{Type: signal.TypeOpen, Dst: "x"},
		} {
			if err := a.Send(context.Background(), m); !errors.Is(err, signal.ErrInvalidMessage) {
				t.Fatalf("Send(%+v) = %v, want ErrInvalidMessage", m, err)
			}
		}
	})
}

// TestSendWhileReconnecting: Send neither fails nor loses the message while
// the socket is down; it waits for the reconnect or its context.
func TestSendWhileReconnecting(t *testing.T) {
	forEachBackend(t, func(t *testing.T, url string) {
		p := newProxy(t, url)
		a := dial(t, signal.ClientConfig{URL: p.URL(), ID: newID("a")})
		b := dial(t, signal.ClientConfig{URL: url, ID: newID("b")})
		release := p.hold()
		p.cut(false)
		waitEvent(t, a, signal.EventReconnecting)
		msg := signal.Message{Type: signal.TypeOffer, Dst: b.ID(), Payload: json.RawMessage(`"late"`)}
		short, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		if err := a.Send(short, msg); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Send while disconnected = %v, want it to wait until its deadline", err)
		}
		sent := make(chan error, 1)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), waitLong)
			defer cancel()
			sent <- a.Send(ctx, msg)
		}()
		release()
		if err := <-sent; err != nil {
			t.Fatalf("Send across the reconnect: %v", err)
		}
		if m := recv(t, b); m.Src != a.ID() || string(m.Payload) != `"late"` {
			t.Fatalf("b got %+v", m)
		}
	})
}

// TestReconnectRefused: if another token claims the id while the client is
// away, the reconnect gets ID-TAKEN and the client stops with ErrIDTaken.
func TestReconnectRefused(t *testing.T) {
	forEachBackend(t, func(t *testing.T, url string) {
		p := newProxy(t, url)
		id := newID("a")
		a := dial(t, signal.ClientConfig{URL: p.URL(), ID: id, Token: "mine"})
		release := p.hold()
		p.cut(false)
		waitEvent(t, a, signal.EventReconnecting)
		// The server frees the id when it processes the cut; until then
		// the claim is refused, so it is retried until a deadline.
		deadline := time.Now().Add(waitLong)
		for {
			_, err := tryDial(t, signal.ClientConfig{URL: url, ID: id, Token: "thief"})
			if err == nil {
				break
			}
			if !errors.Is(err, signal.ErrIDTaken) || time.Now().After(deadline) {
				t.Fatalf("claim while the holder is away: %v", err)
			}
			time.Sleep(20 * time.Millisecond)
		}
		release()
		select {
		case <-a.Done():
		case <-time.After(waitLong):
			t.Fatal("client did not stop after its reconnect was refused")
		}
		if !errors.Is(a.Err(), signal.ErrIDTaken) {
			t.Fatalf("Err = %v, want ErrIDTaken", a.Err())
		}
		if ev := waitEvent(t, a, signal.EventClosed); !errors.Is(ev.Err, signal.ErrIDTaken) {
			t.Fatalf("closed event err = %v", ev.Err)
		}
	})
}
