package server

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/google/uuid"

	"github.com/rooms-dev/rooms/pkg/signal"
)

// Server is a PeerJS-protocol signalling server. It is an http.Handler; all
// methods are safe for concurrent use.
type Server struct {
	cfg        Config
	log        *slog.Logger
	allowRooms map[string]struct{}
	rb         *redisBackplane // nil without Redis

	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc
	socks  sync.WaitGroup // socket handlers
	bg     sync.WaitGroup // background loops
	once   sync.Once

	mu      sync.Mutex
	closed  bool
	clients map[string]*conn // id -> the socket currently holding it here
	all     map[*conn]struct{}
	perIP   map[string]int
	queues  map[string]*queue    // local mode: messages waiting for absent ids
	pending map[string]time.Time // Redis mode: ids we queued for -> EXPIRE deadline
	issued  map[string]time.Time // local mode: throwaway ids handed out -> expiry
}

// queue holds frames for an absent id (local mode), like npm peer's
// MessageQueue: all of them expire together, ExpireTimeout after the first.
type queue struct {
	created time.Time
	frames  []queuedFrame
}

type queuedFrame struct {
	src   string
	frame []byte
}

// New returns a Server for cfg. With Redis configured it connects, checks
// the connection and subscribes before returning.
func New(cfg Config) (*Server, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{
		cfg:        cfg,
		log:        cfg.Logger,
		allowRooms: make(map[string]struct{}, len(cfg.AllowRooms)),
		ctx:        ctx,
		cancel:     cancel,
		clients:    make(map[string]*conn),
		all:        make(map[*conn]struct{}),
		perIP:      make(map[string]int),
		queues:     make(map[string]*queue),
		pending:    make(map[string]time.Time),
		issued:     make(map[string]time.Time),
	}
	for _, id := range cfg.AllowRooms {
		s.allowRooms[id] = struct{}{}
	}
	if cfg.Redis != nil || cfg.RedisURL != "" {
		rb, err := newRedisBackplane(ctx, s)
		if err != nil {
			cancel()
			return nil, fmt.Errorf("signalling server: %w", err)
		}
		s.rb = rb
	}
	s.bg.Add(1)
	go s.sweep()
	return s, nil
}

// ServeHTTP serves, relative to where the Server is mounted:
//   - GET /             a JSON description (as npm peer);
//   - GET /{key}/id     a fresh random id (text);
//   - /peerjs?key=K&id=ID&token=T  the WebSocket of the PeerJS protocol.
//
// Mount it under a prefix with http.StripPrefix.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := strings.TrimPrefix(r.URL.Path, "/")
	switch {
	case p == "peerjs":
		s.serveSocket(w, r)
	case p == "":
		s.serveInfo(w, r)
	case p == s.cfg.Key+"/id":
		s.serveID(w, r)
	case p == s.cfg.Key+"/peers":
		// npm peer answers 401 unless allow_discovery; we never list peers.
		s.cors(w, r)
		http.Error(w, "peer discovery is disabled", http.StatusUnauthorized)
	default:
		http.NotFound(w, r)
	}
}

func (s *Server) cors(w http.ResponseWriter, r *http.Request) bool {
	if !s.originAllowed(r) {
		s.log.Warn("origin not allowed", "origin", r.Header.Get("Origin"), "path", r.URL.Path, "ip", s.clientIP(r))
		http.Error(w, MsgOriginNotAllowed, http.StatusForbidden)
		return false
	}
	if o := r.Header.Get("Origin"); o != "" {
		w.Header().Set("Access-Control-Allow-Origin", o)
		w.Header().Add("Vary", "Origin")
	}
	return true
}

func (s *Server) serveInfo(w http.ResponseWriter, r *http.Request) {
	if !s.cors(w, r) {
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{"name":"PeerJS Server","description":"Rooms signalling server (PeerJS protocol)","website":"https://peerjs.com/"}`))
}

func (s *Server) serveID(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if !s.cors(w, r) {
		return
	}
	id := uuid.NewString()
	if !s.rememberIssued(id) {
		s.log.Warn("cannot hand out more throwaway ids", "ip", s.clientIP(r))
		http.Error(w, MsgUnavailable, http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write([]byte(id))
}

// Close closes every socket with "going away", stops background work,
// releases this instance's ids in Redis and waits for its goroutines.
// It is idempotent.
func (s *Server) Close() error {
	var err error
	s.once.Do(func() {
		s.mu.Lock()
		s.closed = true
		conns := make([]*conn, 0, len(s.all))
		for c := range s.all {
			conns = append(conns, c)
		}
		s.mu.Unlock()
		var closing sync.WaitGroup
		for _, c := range conns {
			closing.Add(1)
			go func() {
				defer closing.Done()
				c.closeWith(websocket.StatusGoingAway, "server shutting down")
			}()
		}
		closing.Wait()
		s.socks.Wait()
		if s.rb != nil {
			err = s.rb.close(conns)
		}
		s.cancel()
		s.bg.Wait()
	})
	return err
}

// sweep runs timers: EXPIRE for queued messages, the alive timeout, and
// refreshing this instance's Redis registrations.
func (s *Server) sweep() {
	defer s.bg.Done()
	tick := min(s.cfg.ExpireTimeout, s.cfg.AliveTimeout) / 5
	if s.rb != nil {
		tick = min(tick, s.cfg.IDLease/5)
	}
	tick = max(5*time.Millisecond, min(tick, time.Second))
	t := time.NewTicker(tick)
	defer t.Stop()
	lastRefresh := time.Now()
	for {
		select {
		case <-s.ctx.Done():
			return
		case now := <-t.C:
			s.expireQueued(now)
			s.closeSilent(now)
			if s.rb != nil && now.Sub(lastRefresh) >= s.cfg.IDLease/3 {
				lastRefresh = now
				s.rb.refresh(s.localIDs())
			}
		}
	}
}

func (s *Server) localIDs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := make([]string, 0, len(s.clients))
	for id := range s.clients {
		ids = append(ids, id)
	}
	return ids
}

// closeSilent enforces AliveTimeout.
func (s *Server) closeSilent(now time.Time) {
	limit := now.Add(-s.cfg.AliveTimeout).UnixNano()
	var silent []*conn
	s.mu.Lock()
	for c := range s.all {
		if c.lastSeen.Load() < limit {
			silent = append(silent, c)
		}
	}
	s.mu.Unlock()
	for _, c := range silent {
		s.log.Info("closing silent socket", "id", c.id, "ip", c.ip, "alive_timeout", s.cfg.AliveTimeout)
		go c.closeWith(websocket.StatusPolicyViolation, "alive timeout")
	}
}

// expireQueued answers EXPIRE for messages that waited ExpireTimeout for
// their destination, once per (src, dst) pair, as npm peer does.
func (s *Server) expireQueued(now time.Time) {
	type pair struct{ src, dst string }
	var expired []pair
	seen := map[pair]bool{}
	s.mu.Lock()
	for dst, q := range s.queues {
		if now.Sub(q.created) < s.cfg.ExpireTimeout {
			continue
		}
		delete(s.queues, dst)
		for _, f := range q.frames {
			p := pair{f.src, dst}
			if !seen[p] {
				seen[p] = true
				expired = append(expired, p)
			}
		}
	}
	var due []string
	for dst, deadline := range s.pending {
		if now.After(deadline) {
			delete(s.pending, dst)
			due = append(due, dst)
		}
	}
	s.pruneIssuedLocked(now)
	s.mu.Unlock()
	for _, dst := range due {
		for _, src := range s.rb.takeQueued(dst) {
			p := pair{src, dst}
			if !seen[p] {
				seen[p] = true
				expired = append(expired, p)
			}
		}
	}
	for _, p := range expired {
		s.log.Debug("message expired", "src", p.src, "dst", p.dst)
		s.relay(signal.Message{Type: signal.TypeExpire, Src: p.dst, Dst: p.src})
	}
}

// relay delivers m (Src already stamped) to m.Dst wherever it is connected,
// or queues it when m.Dst is absent and m is not LEAVE or EXPIRE.
func (s *Server) relay(m signal.Message) {
	frame, err := json.Marshal(m)
	if err != nil {
		s.log.Error("encode frame", "type", m.Type, "err", err)
		return
	}
	queueable := m.Type != signal.TypeLeave && m.Type != signal.TypeExpire
	s.mu.Lock()
	if d := s.clients[m.Dst]; d != nil {
		s.mu.Unlock()
		if !d.send(frame) {
			// Free the id now, so that what follows is queued rather
			// than bounced one LEAVE per message.
			s.unregister(d)
			if queueable {
				s.peerDead(m)
			}
		}
		return
	}
	if s.rb == nil {
		if queueable {
			s.enqueueLocked(m.Dst, m.Src, frame)
		}
		s.mu.Unlock()
		return
	}
	s.mu.Unlock()
	s.rb.route(m, frame, queueable)
}

// peerDead tells the sender its destination is gone, as npm peer does when
// a write to a registered but dead socket fails.
func (s *Server) peerDead(m signal.Message) {
	s.log.Debug("destination socket dead; answering LEAVE", "src", m.Src, "dst", m.Dst)
	s.relay(signal.Message{Type: signal.TypeLeave, Src: m.Dst, Dst: m.Src})
}

func (s *Server) enqueueLocked(dst, src string, frame []byte) {
	q := s.queues[dst]
	if q == nil {
		q = &queue{created: time.Now()}
		s.queues[dst] = q
	}
	if len(q.frames) >= s.cfg.QueuePerID {
		s.log.Warn("queue for absent id full; message dropped", "src", src, "dst", dst)
		return
	}
	q.frames = append(q.frames, queuedFrame{src: src, frame: frame})
}

// deliverLocal hands a frame that arrived through Redis to a local socket.
// It reports false when dst is not held here.
func (s *Server) deliverLocal(dst string, frame []byte) bool {
	s.mu.Lock()
	d := s.clients[dst]
	s.mu.Unlock()
	return d != nil && d.send(frame)
}
