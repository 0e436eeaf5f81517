package server

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/rooms-dev/rooms/pkg/signal"
)

func (s *Server) holds(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.clients[id] != nil
}

func (s *Server) sockets() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.all)
}

func TestRelayStampsSrc(t *testing.T) {
	ts := newTestServer(t, Config{})
	a := register(t, ts.url, "alice", "ta")
	b := register(t, ts.url, "bob", "tb")

	a.sendRaw(`{"type":"OFFER","src":"mallory","dst":"bob","payload":{"sdp":"x","n":[1,2]}}`)
	m := b.expectType(signal.TypeOffer)
	if m.Src != "alice" || m.Dst != "bob" || string(m.Payload) != `{"sdp":"x","n":[1,2]}` {
		t.Fatalf("relayed %+v, want src alice (not the spoofed one), dst bob, payload unchanged", m)
	}
	for _, typ := range []string{signal.TypeAnswer, signal.TypeCandidate, signal.TypeLeave, signal.TypeExpire} {
		b.sendMsg(signal.Message{Type: typ, Src: "alice", Dst: "alice", Payload: json.RawMessage(`1`)})
		if m := a.expectType(typ); m.Src != "bob" {
			t.Fatalf("%s relayed with src %q, want bob", typ, m.Src)
		}
	}
}

func TestGetID(t *testing.T) {
	ts := newTestServer(t, Config{Key: "k1"})
	get := func(path string) (int, string) {
		resp, err := http.Get(ts.url + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	code, id1 := get("/k1/id")
	_, id2 := get("/k1/id")
	if code != http.StatusOK || len(id1) != 36 || id1 == id2 {
		t.Fatalf("GET /k1/id = %d %q, then %q; want two different UUIDs", code, id1, id2)
	}
	if code, _ := get("/peerjs/id"); code != http.StatusNotFound {
		t.Fatalf("GET with wrong key = %d, want 404", code)
	}
	if code, body := get("/"); code != http.StatusOK || !strings.Contains(body, "PeerJS") {
		t.Fatalf("GET / = %d %q", code, body)
	}
	if code, _ := get("/k1/peers"); code != http.StatusUnauthorized {
		t.Fatalf("GET /k1/peers = %d, want 401 (no discovery)", code)
	}
	c := dialURL(t, socketURL(ts.url, "k1", id1, "tok"), nil)
	c.expectType(signal.TypeOpen)
}

func TestMountUnderPrefix(t *testing.T) {
	s, err := New(Config{Logger: slogDiscard()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	mux := http.NewServeMux()
	mux.Handle("/signal/", http.StripPrefix("/signal", s))
	hs := httptestServer(t, mux)
	resp, err := http.Get(hs + "/signal/peerjs/id")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /signal/peerjs/id: %v %v", resp, err)
	}
	resp.Body.Close()
	c := dialURL(t, "ws"+strings.TrimPrefix(hs, "http")+"/signal/peerjs?key=peerjs&id=x&token=y", nil)
	c.expectType(signal.TypeOpen)
}

func TestIDTakenWithOtherToken(t *testing.T) {
	ts := newTestServer(t, Config{})
	a := register(t, ts.url, "alice", "t1")
	thief := dial(t, ts.url, "alice", "t2")
	m := thief.expectType(signal.TypeIDTaken)
	if string(m.Payload) != `{"msg":"ID is taken"}` {
		t.Fatalf("ID-TAKEN payload %s", m.Payload)
	}
	thief.expectClosed()
	b := register(t, ts.url, "bob", "tb")
	b.sendMsg(signal.Message{Type: signal.TypeOffer, Dst: "alice"})
	if m := a.expectType(signal.TypeOffer); m.Src != "bob" {
		t.Fatalf("got %+v", m)
	}
}

func TestBadHandshakeParams(t *testing.T) {
	ts := newTestServer(t, Config{})
	cases := []struct{ key, id, token, want string }{
		{"wrong", "a", "t", MsgInvalidKey},
		{"peerjs", "", "t", MsgInvalidParams},
		{"peerjs", "a", "", MsgInvalidParams},
		{"", "a", "t", MsgInvalidParams},
		{"peerjs", "a\nb", "t", MsgInvalidID},
		{"peerjs", strings.Repeat("x", 300), "t", MsgInvalidID},
	}
	for _, tc := range cases {
		c := dialURL(t, socketURL(ts.url, tc.key, tc.id, tc.token), nil)
		if code := c.expectError(tc.want); code != websocket.StatusPolicyViolation {
			t.Errorf("%+v: close %v", tc, code)
		}
	}
	ts.log.waitFor(t, "reason="+MsgInvalidKey)
}

// A reconnect with the same token takes the id over without OPEN (as npm
// peer); the replaced socket stays open but gets nothing, and its frames
// are dropped.
func TestReconnectSameToken(t *testing.T) {
	ts := newTestServer(t, Config{})
	old := register(t, ts.url, "alice", "t1")
	b := register(t, ts.url, "bob", "tb")
	fresh := dial(t, ts.url, "alice", "t1")
	eventually(t, "takeover", func() bool {
		ts.mu.Lock()
		defer ts.mu.Unlock()
		var active, replaced int
		for c := range ts.all {
			if c.id == "alice" && c.active.Load() {
				active++
			} else if c.id == "alice" {
				replaced++
			}
		}
		return active == 1 && replaced == 1
	})
	b.sendMsg(signal.Message{Type: signal.TypeOffer, Dst: "alice", Payload: json.RawMessage(`"hi"`)})
	if m := fresh.mustNext(); m.Type != signal.TypeOffer || m.Src != "bob" {
		t.Fatalf("new socket got %+v first, want the OFFER (and no OPEN)", m)
	}
	old.sendMsg(signal.Message{Type: signal.TypeOffer, Dst: "bob", Payload: json.RawMessage(`"from old"`)})
	fresh.sendMsg(signal.Message{Type: signal.TypeOffer, Dst: "bob", Payload: json.RawMessage(`"from new"`)})
	if m := b.expectType(signal.TypeOffer); string(m.Payload) != `"from new"` {
		t.Fatalf("bob got %s, want only the new socket's frame", m.Payload)
	}
	old.expectSilence(200 * time.Millisecond)
	b.expectSilence(50 * time.Millisecond)
	// Closing the replaced socket must not free the id.
	old.ws.Close(websocket.StatusNormalClosure, "")
	eventually(t, "old socket gone", func() bool { return ts.sockets() == 2 })
	if !ts.holds("alice") {
		t.Fatal("closing the replaced socket freed the id")
	}
}

func TestExpire(t *testing.T) {
	ts := newTestServer(t, Config{ExpireTimeout: 100 * time.Millisecond})
	a := register(t, ts.url, "alice", "ta")
	a.sendMsg(signal.Message{Type: signal.TypeOffer, Dst: "ghost"})
	a.sendMsg(signal.Message{Type: signal.TypeCandidate, Dst: "ghost"})
	m := a.expectType(signal.TypeExpire)
	if m.Src != "ghost" || m.Dst != "alice" {
		t.Fatalf("EXPIRE %+v, want src ghost dst alice", m)
	}
	a.expectSilence(300 * time.Millisecond) // one EXPIRE per pair
	// LEAVE and EXPIRE to absent ids are not queued, so never answered.
	a.sendMsg(signal.Message{Type: signal.TypeLeave, Dst: "ghost"})
	a.expectSilence(300 * time.Millisecond)
}

func TestQueuedUntilRegistered(t *testing.T) {
	ts := newTestServer(t, Config{ExpireTimeout: time.Minute})
	a := register(t, ts.url, "alice", "ta")
	a.sendMsg(signal.Message{Type: signal.TypeOffer, Dst: "bob", Payload: json.RawMessage(`1`)})
	a.sendMsg(signal.Message{Type: signal.TypeCandidate, Dst: "bob", Payload: json.RawMessage(`2`)})
	eventually(t, "queued", func() bool {
		ts.mu.Lock()
		defer ts.mu.Unlock()
		return ts.queues["bob"] != nil && len(ts.queues["bob"].frames) == 2
	})
	b := register(t, ts.url, "bob", "tb")
	if m := b.expectType(signal.TypeOffer); string(m.Payload) != "1" || m.Src != "alice" {
		t.Fatalf("got %+v", m)
	}
	b.expectType(signal.TypeCandidate)
}

func TestLeaveWithoutDstFreesID(t *testing.T) {
	ts := newTestServer(t, Config{})
	a := register(t, ts.url, "alice", "t1")
	a.sendMsg(signal.Message{Type: signal.TypeLeave})
	eventually(t, "id freed", func() bool { return !ts.holds("alice") })
	register(t, ts.url, "alice", "t2")
}

func TestCloseFreesID(t *testing.T) {
	ts := newTestServer(t, Config{})
	a := register(t, ts.url, "alice", "t1")
	a.ws.Close(websocket.StatusNormalClosure, "")
	eventually(t, "id freed", func() bool { return !ts.holds("alice") })
	register(t, ts.url, "alice", "t2")
}

func TestAliveTimeout(t *testing.T) {
	ts := newTestServer(t, Config{AliveTimeout: time.Second})
	silent := register(t, ts.url, "silent", "t")
	alive := register(t, ts.url, "alive", "t")
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { // the PeerJS heartbeat, faster
		defer close(done)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				alive.sendRaw(`{"type":"HEARTBEAT"}`)
			}
		}
	}()
	if code := silent.expectClosed(); code != websocket.StatusPolicyViolation {
		t.Fatalf("silent socket closed with %v", code)
	}
	ts.log.waitFor(t, "closing silent socket")
	close(stop)
	<-done
	if !ts.holds("alive") {
		t.Fatal("heartbeating socket was closed")
	}
	eventually(t, "silent id freed", func() bool { return !ts.holds("silent") })
}

func TestHostileFramesIgnored(t *testing.T) {
	ts := newTestServer(t, Config{})
	a := register(t, ts.url, "alice", "ta")
	b := register(t, ts.url, "bob", "tb")
	for _, f := range []string{
		`{`, `[]`, `"OFFER"`, `null`, ``, `{"type":5}`, `{"type":"OFFER","dst":7}`,
		`{"type":"NOPE","dst":"bob"}`, `{"type":"OFFER"}`, `{"type":"OFFER","dst":"bo\u0000b"}`,
		`{"type":"OPEN","dst":"bob"}`, `{"type":"ID-TAKEN","dst":"bob"}`, `{"dst":"bob"}`,
		`{"type":"OFFER","dst":"bob","payload":{` + strings.Repeat("[", 10) + `}`,
	} {
		a.sendRaw(f)
	}
	ts.log.waitFor(t, "invalid frame ignored")
	a.sendMsg(signal.Message{Type: signal.TypeOffer, Dst: "bob", Payload: json.RawMessage(`"ok"`)})
	if m := b.expectType(signal.TypeOffer); string(m.Payload) != `"ok"` {
		t.Fatalf("bob got %+v; hostile frames leaked", m)
	}
	a.expectSilence(50 * time.Millisecond)
}

func TestAllowList(t *testing.T) {
	ts := newTestServer(t, Config{
		AllowRooms: []string{"room-a"},
		AllowID:    func(id string) bool { return strings.HasPrefix(id, "h-") },
	})
	register(t, ts.url, "room-a", "t")
	register(t, ts.url, "h-1234", "t")
	c := dial(t, ts.url, "room-b", "t")
	c.expectError(MsgIDNotAllowed)
	ts.log.waitFor(t, MsgIDNotAllowed)

	resp, err := http.Get(ts.url + "/peerjs/id")
	if err != nil {
		t.Fatal(err)
	}
	id, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	register(t, ts.url, string(id), "t") // a newcomer's throwaway id
}

func TestMessageTooLarge(t *testing.T) {
	ts := newTestServer(t, Config{MaxMessageBytes: 1024})
	a := register(t, ts.url, "alice", "ta")
	b := register(t, ts.url, "bob", "tb")
	a.sendMsg(signal.Message{Type: signal.TypeOffer, Dst: "bob", Payload: json.RawMessage(`"` + strings.Repeat("x", 900) + `"`)})
	b.expectType(signal.TypeOffer)
	a.sendMsg(signal.Message{Type: signal.TypeOffer, Dst: "bob", Payload: json.RawMessage(`"` + strings.Repeat("x", 2000) + `"`)})
	if code := a.expectError(MsgTooLarge); code != websocket.StatusMessageTooBig {
		t.Fatalf("close %v", code)
	}
	ts.log.waitFor(t, "frame too large")
	b.expectSilence(100 * time.Millisecond)
}

func TestRateLimit(t *testing.T) {
	ts := newTestServer(t, Config{MessagesPerSecond: 1, MessageBurst: 5})
	a := register(t, ts.url, "alice", "ta")
	for range 6 {
		a.sendRaw(`{"type":"HEARTBEAT"}`)
	}
	a.expectError(MsgRateLimited)
	ts.log.waitFor(t, "message rate exceeded")
}

func TestMaxClientsPerIP(t *testing.T) {
	ts := newTestServer(t, Config{MaxClientsPerIP: 2})
	a := register(t, ts.url, "a", "t")
	register(t, ts.url, "b", "t")
	dial(t, ts.url, "c", "t").expectError(MsgTooManyFromIP)
	ts.log.waitFor(t, MsgTooManyFromIP)
	a.ws.Close(websocket.StatusNormalClosure, "")
	eventually(t, "slot freed", func() bool { return ts.sockets() == 1 })
	register(t, ts.url, "c", "t")
}

func TestMaxClients(t *testing.T) {
	ts := newTestServer(t, Config{MaxClients: 2, MaxClientsPerIP: -1})
	register(t, ts.url, "a", "t")
	register(t, ts.url, "b", "t")
	dial(t, ts.url, "c", "t").expectError(MsgServerFull)
	ts.log.waitFor(t, MsgServerFull)
}

func TestOriginCheck(t *testing.T) {
	ts := newTestServer(t, Config{AllowOrigins: []string{"good.example", "https://*.trusted.example"}})
	withOrigin := func(o string) *websocket.DialOptions {
		return &websocket.DialOptions{HTTPHeader: http.Header{"Origin": {o}}}
	}
	dialURL(t, socketURL(ts.url, "peerjs", "a", "t"), withOrigin("https://good.example")).expectType(signal.TypeOpen)
	dialURL(t, socketURL(ts.url, "peerjs", "b", "t"), withOrigin("https://x.trusted.example")).expectType(signal.TypeOpen)
	dialURL(t, socketURL(ts.url, "peerjs", "c", "t"), withOrigin("http://x.trusted.example")).expectError(MsgOriginNotAllowed)
	dialURL(t, socketURL(ts.url, "peerjs", "d", "t"), withOrigin("https://evil.example")).expectError(MsgOriginNotAllowed)
	ts.log.waitFor(t, MsgOriginNotAllowed)

	for origin, want := range map[string]int{"https://evil.example": 403, "https://good.example": 200} {
		req, _ := http.NewRequest("GET", ts.url+"/peerjs/id", nil)
		req.Header.Set("Origin", origin)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("GET /peerjs/id from %s = %d, want %d", origin, resp.StatusCode, want)
		}
		if want == 200 && resp.Header.Get("Access-Control-Allow-Origin") != origin {
			t.Errorf("missing CORS header for %s", origin)
		}
	}
}

// A client that never finishes its HTTP request is cut by the header
// timeout of NewHTTPServer.
func TestSlowlorisCut(t *testing.T) {
	s, err := New(Config{Logger: slogDiscard()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	hs := NewHTTPServer("127.0.0.1:0", s)
	if hs.ReadHeaderTimeout <= 0 {
		t.Fatal("NewHTTPServer sets no ReadHeaderTimeout")
	}
	hs.ReadHeaderTimeout = 200 * time.Millisecond
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go hs.Serve(ln)
	defer hs.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("GET /peerjs?key=peerjs&id=a&token=t HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n")); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err = io.ReadAll(bufio.NewReader(c))
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("server kept a half-sent request open")
	}
}

func TestCloseGoesAway(t *testing.T) {
	ts := newTestServer(t, Config{})
	a := register(t, ts.url, "alice", "t")
	if err := ts.Close(); err != nil {
		t.Fatal(err)
	}
	if code := a.expectClosed(); code != websocket.StatusGoingAway {
		t.Fatalf("close status %v, want going away", code)
	}
	dial(t, ts.url, "bob", "t").expectError(MsgUnavailable)
}

// A client that stops reading is cut once SendQueue frames wait for it; the
// sender and other clients are unaffected.
func TestSlowReaderCut(t *testing.T) {
	ts := newTestServer(t, Config{SendQueue: 4, MessagesPerSecond: 1e6, MessageBurst: 1e6, WriteTimeout: 500 * time.Millisecond})
	a := register(t, ts.url, "alice", "ta")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	lazy, _, err := websocket.Dial(ctx, socketURL(ts.url, "peerjs", "lazy", "t"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer lazy.CloseNow() // never reads
	eventually(t, "lazy registered", func() bool { return ts.holds("lazy") })
	big := `"` + strings.Repeat("x", 60<<10) + `"`
	frame, _ := json.Marshal(signal.Message{Type: signal.TypeOffer, Dst: "lazy", Payload: json.RawMessage(big)})
	for i := 0; i < 400 && ts.holds("lazy"); i++ {
		if err := a.ws.Write(ctx, websocket.MessageText, frame); err != nil {
			t.Fatalf("write %d: %v; logs:\n%s; closed: %v", i, err, strings.Join(ts.log.lines, "\n"), a.err)
		}
	}
	ts.log.waitFor(t, "too slow")
	eventually(t, "lazy dropped", func() bool { return !ts.holds("lazy") })
	if m := a.expectType(signal.TypeLeave); m.Src != "lazy" {
		t.Fatalf("alice got %+v, want LEAVE from lazy", m)
	}
	b := register(t, ts.url, "bob", "tb")
	a.sendMsg(signal.Message{Type: signal.TypeOffer, Dst: "bob"})
	b.expectType(signal.TypeOffer)
}
