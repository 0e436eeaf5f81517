package signal

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
)

// maxPending bounds the relayed messages a handshake may collect before the
// registration is confirmed; servers flush an id's queue right after OPEN.
const maxPending = 1024

// established is a confirmed registration on a fresh socket.
type established struct {
	conn    socket
	pending []Message // relayed before confirmation, to deliver first
	nonce   string    // the handshake probe, if its echo is still due
	echoed  bool      // the server has echoed a probe on this socket
	at      time.Time
}

// handshake opens a socket and waits until the server confirms the
// registration. OPEN confirms a fresh one. A same-id same-token takeover
// gets no OPEN from PeerJS servers (npm peer swaps the socket silently), so
// the client also sends a probe to its own id: its echo confirms that the
// server now routes the id to this socket. Waiting for silence instead would
// confirm nothing on a slow server; the echo is positive proof.
func (c *Client) handshake(ctx context.Context) (*established, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.HandshakeTimeout)
	defer cancel()
	conn, err := dialSocket(ctx, c.baseURL.wsURL(c.cfg.Key, c.id, c.token), c.cfg.HTTPClient)
	if err != nil {
		return nil, err
	}
	est := &established{conn: conn, nonce: newNonce(), at: time.Now()}
	if err := c.greet(ctx, conn, est.nonce); err != nil {
		conn.closeNow()
		return nil, err
	}
	if err := c.awaitConfirmation(ctx, est); err != nil {
		conn.closeNow()
		return nil, err
	}
	via := "open"
	if est.echoed {
		via = "takeover"
	}
	c.log.Debug("signal: registered", "id", c.id, "via", via)
	return est, nil
}

// greet sends a HEARTBEAT at once, because a takeover inherits the old
// socket's last ping on npm peer and could otherwise hit the alive timeout
// before the first tick, then the probe.
func (c *Client) greet(ctx context.Context, conn socket, nonce string) error {
	if c.cfg.HeartbeatInterval > 0 {
		if err := writeJSON(ctx, conn, Message{Type: TypeHeartbeat}); err != nil {
			return err
		}
	}
	return writeJSON(ctx, conn, probeMessage(c.id, nonce))
}

func (c *Client) awaitConfirmation(ctx context.Context, est *established) error {
	for {
		data, err := est.conn.read(ctx)
		if err != nil {
			return fmt.Errorf("awaiting OPEN or probe echo: %w", err)
		}
		f := parseFrame(data, c.id)
		switch f.kind {
		case frameOpen:
			return nil
		case frameProbeEcho:
			if f.nonce == est.nonce {
				est.nonce, est.echoed = "", true
				return nil
			}
		case frameRefused:
			return f.err
		case frameRelay:
			if len(est.pending) >= maxPending {
				return fmt.Errorf("more than %d messages before OPEN", maxPending)
			}
			est.pending = append(est.pending, f.msg)
		case frameIgnore:
			c.log.Debug("signal: frame ignored", "id", c.id, "reason", f.reason)
		}
	}
}

func writeJSON(ctx context.Context, conn socket, m Message) error {
	data, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return conn.write(ctx, data)
}

func newNonce() string { return hex.EncodeToString(randomBytes(8)) }

// run serves one established socket after another until the client stops.
func (c *Client) run(est *established) {
	defer c.wg.Done()
	defer close(c.messages)
	for {
		err := c.serve(est)
		c.setConn(nil)
		est.conn.closeNow()
		if c.ctx.Err() != nil || c.isClosing() {
			return
		}
		if errors.Is(err, ErrSuperseded) {
			c.stop(err)
			return
		}
		c.log.Debug("signal: socket dropped, reconnecting", "id", c.id, "err", err)
		c.emit(Event{Kind: EventReconnecting, Err: err})
		if est, err = c.reconnect(); err != nil {
			c.stop(err)
			return
		}
		c.emit(Event{Kind: EventReconnected})
	}
}

// reconnect retries the handshake with exponential backoff and jitter until
// it succeeds, the refusal is permanent, or the client stops.
func (c *Client) reconnect() (*established, error) {
	delay := c.cfg.ReconnectMin
	for {
		// Jitter in [delay/2, delay] spreads the reconnects after a server restart.
		wait := delay/2 + rand.N(delay/2+1)
		select {
		case <-time.After(wait):
		case <-c.ctx.Done():
			return nil, ErrClosed
		}
		est, err := c.handshake(c.ctx)
		if err == nil {
			return est, nil
		}
		if permanent(err) {
			return nil, fmt.Errorf("signal reconnect %s: %w", c.id, err)
		}
		c.log.Debug("signal: reconnect failed", "id", c.id, "err", err)
		delay = min(delay*2, c.cfg.ReconnectMax)
	}
}

// minProbePatience keeps a loaded machine's slow echo from passing for a
// takeover when heartbeats are frequent.
const minProbePatience = 2 * time.Second

// session is the life of one socket.
type session struct {
	c    *Client
	conn socket

	// delivering is set while the read loop waits for room in Messages();
	// the probe deadline does not run then, since the echo sits unread.
	delivering atomic.Bool
	superseded atomic.Bool

	mu          sync.Mutex
	probe       string // outstanding probe nonce, "" if none
	probeSentAt time.Time
	echoed      bool // the server echoes probes, so silence means something
}

// serve delivers the handshake's pending messages, then reads the socket
// until it fails, heartbeating meanwhile.
func (c *Client) serve(est *established) error {
	s := &session{c: c, conn: est.conn, probe: est.nonce, probeSentAt: est.at, echoed: est.echoed}
	c.setConn(est.conn)
	hbCtx, stopHeartbeat := context.WithCancel(c.ctx)
	var hb sync.WaitGroup
	if c.cfg.HeartbeatInterval > 0 {
		hb.Go(func() { s.heartbeat(hbCtx) })
	}
	defer hb.Wait()
	defer stopHeartbeat()
	for _, m := range est.pending {
		if !s.deliver(m) {
			return ErrClosed
		}
	}
	err := s.readLoop()
	if s.superseded.Load() {
		return ErrSuperseded
	}
	return err
}

func (s *session) readLoop() error {
	for {
		data, err := s.conn.read(s.c.ctx)
		if err != nil {
			return err
		}
		f := parseFrame(data, s.c.id)
		switch f.kind {
		case frameRelay:
			if !s.deliver(f.msg) {
				return ErrClosed
			}
		case frameProbeEcho:
			s.echo(f.nonce)
		case frameRefused:
			s.c.emit(Event{Kind: EventServerError, Err: f.err})
		case frameOpen:
			// A server may confirm a takeover with OPEN after the echo.
		case frameIgnore:
			s.c.log.Debug("signal: frame ignored", "id", s.c.id, "reason", f.reason)
		}
	}
}

// deliver hands m to Messages(), waiting for room (backpressure).
func (s *session) deliver(m Message) bool {
	select {
	case s.c.messages <- m:
		return true
	default:
	}
	s.delivering.Store(true)
	defer s.delivering.Store(false)
	select {
	case s.c.messages <- m:
		return true
	case <-s.c.ctx.Done():
		return false
	}
}

func (s *session) echo(nonce string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if nonce == s.probe {
		s.probe, s.echoed = "", true
	}
}

// heartbeat sends HEARTBEAT every interval and keeps one probe in flight.
// A probe that stays unanswered for three intervals (at least
// minProbePatience) on a server that has
// echoed before, while the read loop was free to read, means another socket
// took the id over (npm peer tells the old socket nothing): the session ends
// with ErrSuperseded rather than steal the id back by reconnecting.
func (s *session) heartbeat(ctx context.Context) {
	interval := s.c.cfg.HeartbeatInterval
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		wctx, cancel := context.WithTimeout(ctx, s.c.cfg.HandshakeTimeout)
		err := writeJSON(wctx, s.conn, Message{Type: TypeHeartbeat})
		if err == nil {
			err = s.checkProbe(wctx, max(3*interval, minProbePatience))
		}
		cancel()
		if err != nil {
			// The read loop sees the same dead socket and reconnects.
			s.c.log.Debug("signal: heartbeat failed", "id", s.c.id, "err", err)
			return
		}
	}
}

func (s *session) checkProbe(ctx context.Context, patience time.Duration) error {
	s.mu.Lock()
	now := time.Now()
	if s.probe != "" && s.delivering.Load() {
		s.probeSentAt = now
	}
	if s.probe != "" && s.echoed && now.Sub(s.probeSentAt) > patience {
		s.mu.Unlock()
		s.superseded.Store(true)
		s.conn.closeNow()
		return ErrSuperseded
	}
	if s.probe != "" {
		s.mu.Unlock()
		return nil
	}
	s.probe, s.probeSentAt = newNonce(), now
	nonce := s.probe
	s.mu.Unlock()
	return writeJSON(ctx, s.conn, probeMessage(s.c.id, nonce))
}
