package server

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"golang.org/x/time/rate"

	"github.com/rooms-dev/rooms/pkg/signal"
)

// conn is one client WebSocket. It holds its id while active; a socket
// replaced by a reconnect with the same token stays open but inactive: it
// receives nothing and its frames are dropped (npm peer keeps it open too).
type conn struct {
	s       *Server
	ws      *websocket.Conn
	id      string
	token   string
	ip      string
	gen     int64 // Redis claim generation, to ignore stale notices
	active  atomic.Bool
	limiter *rate.Limiter
	// lastSeen is the UnixNano time of the last frame, for AliveTimeout.
	lastSeen atomic.Int64

	mu      sync.Mutex
	out     [][]byte // frames waiting for the writer goroutine
	writing bool     // a writer goroutine is running
	closed  bool
}

var errTooLarge = errors.New("frame too large")

func (s *Server) serveSocket(w http.ResponseWriter, r *http.Request) {
	// Origins are checked by admit so that a browser gets a readable ERROR
	// frame rather than a failed handshake.
	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
	if err != nil {
		s.log.Debug("websocket handshake failed", "ip", s.clientIP(r), "err", err)
		return
	}
	ws.SetReadLimit(-1) // readFrame enforces MaxMessageBytes itself
	q := r.URL.Query()
	c := &conn{s: s, ws: ws, id: q.Get("id"), token: q.Get("token"), ip: s.clientIP(r)}
	c.lastSeen.Store(time.Now().UnixNano())
	if msg, level := s.admit(c, r, q.Get("key")); msg != "" {
		s.log.Log(s.ctx, level, "socket rejected", "reason", msg, "id", c.id, "ip", c.ip, "origin", r.Header.Get("Origin"))
		c.fail(msg, websocket.StatusPolicyViolation)
		return
	}
	if !s.claim(c) {
		s.drop(c)
		return
	}
	// Read in a fresh goroutine and let the handler return: net/http then
	// frees the request and the deep stack of its serve goroutine, which
	// is about a third of an idle client's memory.
	go func() {
		defer s.drop(c)
		c.readLoop()
	}()
}

// admit checks a new socket against the protocol and the limits, and counts
// it. It returns the ERROR message to send and the log level, or "".
func (s *Server) admit(c *conn, r *http.Request, key string) (string, slog.Level) {
	switch {
	case !s.originAllowed(r):
		return MsgOriginNotAllowed, slog.LevelWarn
	case c.id == "" || c.token == "" || key == "":
		return MsgInvalidParams, slog.LevelInfo
	case key != s.cfg.Key:
		return MsgInvalidKey, slog.LevelInfo
	case !validID(c.id) || !validID(c.token):
		return MsgInvalidID, slog.LevelInfo
	case !s.allowListed(c.id):
		return MsgIDNotAllowed, slog.LevelWarn
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closed:
		return MsgUnavailable, slog.LevelInfo
	case s.cfg.MaxClients > 0 && len(s.all) >= s.cfg.MaxClients:
		return MsgServerFull, slog.LevelWarn
	case s.cfg.MaxClientsPerIP > 0 && s.perIP[c.ip] >= s.cfg.MaxClientsPerIP:
		return MsgTooManyFromIP, slog.LevelWarn
	}
	s.all[c] = struct{}{}
	s.perIP[c.ip]++
	s.socks.Add(1)
	c.limiter = rate.NewLimiter(rate.Limit(s.cfg.MessagesPerSecond), s.cfg.MessageBurst)
	return "", 0
}

// drop forgets a socket that has ended.
func (s *Server) drop(c *conn) {
	s.unregister(c)
	c.closeWith(websocket.StatusNormalClosure, "")
	s.mu.Lock()
	delete(s.all, c)
	if s.perIP[c.ip]--; s.perIP[c.ip] <= 0 {
		delete(s.perIP, c.ip)
	}
	s.mu.Unlock()
	s.socks.Done()
}

// claim registers c's id: a free id gets OPEN; the same id with the same
// token takes the id over silently (a reconnect, no OPEN, as npm peer); a
// different token gets ID-TAKEN and the socket is closed. Messages queued
// for the id are delivered after OPEN.
func (s *Server) claim(c *conn) bool {
	if s.rb != nil {
		return s.claimShared(c)
	}
	s.mu.Lock()
	old := s.clients[c.id]
	if old != nil && old.token != c.token {
		s.mu.Unlock()
		c.idTaken()
		return false
	}
	s.clients[c.id] = c
	c.active.Store(true)
	if old == nil {
		c.send(openFrame)
	}
	// Sent under s.mu so that nothing relayed meanwhile overtakes them.
	if q := s.queues[c.id]; q != nil {
		delete(s.queues, c.id)
		for _, f := range q.frames {
			c.send(f.frame)
		}
	}
	s.mu.Unlock()
	s.logClaim(c, old != nil)
	if old != nil {
		old.active.Store(false)
	}
	return true
}

func (s *Server) logClaim(c *conn, reconnect bool) {
	if reconnect {
		s.log.Debug("id taken over by a reconnect with the same token", "id", c.id, "ip", c.ip)
		return
	}
	s.log.Debug("id registered", "id", c.id, "ip", c.ip)
}

// unregister frees c's id if c still holds it.
func (s *Server) unregister(c *conn) {
	s.mu.Lock()
	held := s.clients[c.id] == c
	if held {
		delete(s.clients, c.id)
	}
	s.mu.Unlock()
	c.active.Store(false)
	if held && s.rb != nil {
		s.rb.release(c.id, c.gen)
	}
}

var (
	openFrame    = mustFrame(signal.Message{Type: signal.TypeOpen})
	idTakenFrame = mustFrame(signal.Message{Type: signal.TypeIDTaken, Payload: json.RawMessage(`{"msg":"ID is taken"}`)})
)

func mustFrame(m signal.Message) []byte {
	b, err := json.Marshal(m)
	if err != nil {
		panic(err)
	}
	return b
}

func errorFrame(msg string) []byte {
	payload, _ := json.Marshal(map[string]string{"msg": msg})
	return mustFrame(signal.Message{Type: signal.TypeError, Payload: payload})
}

func (c *conn) idTaken() {
	c.s.log.Info("id taken", "id", c.id, "ip", c.ip)
	c.writeNow(idTakenFrame)
	c.closeWith(websocket.StatusNormalClosure, "ID is taken")
}

// fail sends ERROR with msg and closes the socket.
func (c *conn) fail(msg string, code websocket.StatusCode) {
	c.writeNow(errorFrame(msg))
	c.closeWith(code, msg)
}

func (c *conn) writeNow(frame []byte) {
	// Not s.ctx: rejections during Close still get their ERROR frame.
	ctx, cancel := context.WithTimeout(context.Background(), c.s.cfg.WriteTimeout)
	defer cancel()
	_ = c.ws.Write(ctx, websocket.MessageText, frame)
}

// readLoop handles the socket's frames until it closes.
func (c *conn) readLoop() {
	log := c.s.log
	for {
		b, err := c.readFrame()
		if errors.Is(err, errTooLarge) {
			log.Warn("frame too large; closing", "id", c.id, "ip", c.ip, "limit", c.s.cfg.MaxMessageBytes)
			c.fail(MsgTooLarge, websocket.StatusMessageTooBig)
			return
		}
		if err != nil {
			log.Debug("socket closed", "id", c.id, "ip", c.ip, "err", err)
			return
		}
		c.lastSeen.Store(time.Now().UnixNano())
		if !c.limiter.Allow() {
			log.Warn("message rate exceeded; closing", "id", c.id, "ip", c.ip, "rate", c.s.cfg.MessagesPerSecond)
			c.fail(MsgRateLimited, websocket.StatusPolicyViolation)
			return
		}
		m, err := decodeFrame(b)
		if err != nil {
			log.Warn("invalid frame ignored", "id", c.id, "ip", c.ip, "err", err)
			continue
		}
		c.s.handle(c, m)
	}
}

func (c *conn) readFrame() ([]byte, error) {
	// No deadline or cancellation here: a context per blocked read costs
	// memory on every idle socket, and Close and the alive timeout close
	// sockets directly.
	_, r, err := c.ws.Reader(context.Background())
	if err != nil {
		return nil, err
	}
	limit := c.s.cfg.MaxMessageBytes
	b, err := io.ReadAll(io.LimitReader(r, int64(limit)+1))
	if err != nil {
		return nil, err
	}
	if len(b) > limit {
		return nil, errTooLarge
	}
	return b, nil
}

// handle acts on one decoded frame from c.
func (s *Server) handle(c *conn, m signal.Message) {
	switch m.Type {
	case signal.TypeHeartbeat:
		return
	case signal.TypeOffer, signal.TypeAnswer, signal.TypeCandidate, signal.TypeLeave, signal.TypeExpire:
	default:
		s.log.Debug("unknown frame type ignored", "id", c.id, "type", m.Type)
		return
	}
	if !c.active.Load() {
		s.log.Debug("frame from a replaced socket dropped", "id", c.id, "type", m.Type)
		return
	}
	if m.Dst == "" {
		if m.Type == signal.TypeLeave {
			// npm peer: LEAVE without dst gives the id up.
			s.unregister(c)
			return
		}
		s.log.Debug("frame without dst dropped", "id", c.id, "type", m.Type)
		return
	}
	if !validID(m.Dst) {
		s.log.Debug("frame with invalid dst dropped", "id", c.id, "type", m.Type)
		return
	}
	m.Src = c.id // never trust the client's src
	s.relay(m)
}

// send queues a frame for the socket's writer. It reports false if the
// socket is closed or too slow (and then closes it).
func (c *conn) send(frame []byte) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return false
	}
	if len(c.out) >= c.s.cfg.SendQueue {
		c.s.log.Warn("client too slow to read; closing", "id", c.id, "ip", c.ip, "queued", len(c.out))
		go c.closeWith(websocket.StatusPolicyViolation, "too slow")
		return false
	}
	c.out = append(c.out, frame)
	if !c.writing {
		// Started on demand so that idle sockets cost no goroutine.
		c.writing = true
		go c.drain()
	}
	return true
}

func (c *conn) drain() {
	for {
		c.mu.Lock()
		if len(c.out) == 0 || c.closed {
			c.writing = false
			c.out = nil
			c.mu.Unlock()
			return
		}
		frame := c.out[0]
		c.out[0] = nil
		c.out = c.out[1:]
		c.mu.Unlock()
		ctx, cancel := context.WithTimeout(c.s.ctx, c.s.cfg.WriteTimeout)
		err := c.ws.Write(ctx, websocket.MessageText, frame)
		cancel()
		if err != nil {
			c.s.log.Debug("write failed; closing", "id", c.id, "err", err)
			c.closeWith(websocket.StatusPolicyViolation, "write failed")
		}
	}
}

// closeWith stops delivery to the socket and closes it.
func (c *conn) closeWith(code websocket.StatusCode, reason string) {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	_ = c.ws.Close(code, reason)
}
