package signal

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"
)

// Sentinel errors of the client, compared with errors.Is.
var (
	// ErrIDTaken means the server holds the id for another token.
	ErrIDTaken = errors.New("signal: id is taken")
	// ErrInvalidKey means the server does not accept the API key.
	ErrInvalidKey = errors.New("signal: invalid key")
	// ErrClosed is returned by calls on a client closed with Close.
	ErrClosed = errors.New("signal: client closed")
	// ErrSuperseded means another connection with the same id and token
	// took the registration over while this one was still connected.
	ErrSuperseded = errors.New("signal: registration taken over by another connection")
	// ErrInvalidMessage means Send was given a message it must not relay.
	ErrInvalidMessage = errors.New("signal: invalid message")
	// ErrInvalidID means an id is not one a PeerJS server accepts.
	ErrInvalidID = errors.New("signal: invalid id")
)

// ServerError is an ERROR frame other than the invalid-key one, such as
// "Server has reached its concurrent user limit".
type ServerError struct {
	Msg string // the server's payload.msg, verbatim
}

func (e *ServerError) Error() string { return "signal: server error: " + e.Msg }

// Defaults of ClientConfig.
const (
	DefaultKey               = "peerjs"
	DefaultHeartbeatInterval = 5 * time.Second
	DefaultHandshakeTimeout  = 10 * time.Second
	DefaultReconnectMin      = 250 * time.Millisecond
	DefaultReconnectMax      = 10 * time.Second
	DefaultMessageBuffer     = 64
	// MaxFrameSize bounds one incoming frame; a larger one drops the socket
	// (and the client reconnects). SDP offers are a few KiB.
	MaxFrameSize = 256 << 10
)

// ClientConfig configures Dial. Only URL is required.
type ClientConfig struct {
	// URL is the base URL of the PeerJS server, e.g. "http://127.0.0.1:9000/"
	// or "https://0.peerjs.com/". A path prefix is honoured; http and ws
	// give ws://, https and wss give wss://.
	URL string
	// Key is the server's API key; empty means "peerjs".
	Key string
	// ID is the id to claim; empty means fetch a fresh one from the server.
	ID string
	// Token proves ownership of ID across reconnects; empty means random.
	// Reusing a token takes over the id from a socket that still holds it.
	Token string
	// HeartbeatInterval between HEARTBEAT frames (and registration probes);
	// zero means 5 s, negative disables both (only useful in tests).
	HeartbeatInterval time.Duration
	// HandshakeTimeout bounds connecting and confirming one registration;
	// zero means 10 s.
	HandshakeTimeout time.Duration
	// ReconnectMin and ReconnectMax bound the exponential backoff between
	// reconnect attempts; zero means 250 ms and 10 s.
	ReconnectMin, ReconnectMax time.Duration
	// MessageBuffer is the capacity of Messages(); zero means 64.
	MessageBuffer int
	// HTTPClient fetches ids and opens WebSockets natively; nil means
	// http.DefaultClient. In the browser build its type is a placeholder
	// that only nil fits: there the browser's fetch and WebSocket do the
	// work, and the build links no net/http. See HTTPClient.
	HTTPClient HTTPClient
	// Logger receives debug logs; nil discards them.
	Logger *slog.Logger
}

func (cfg ClientConfig) withDefaults() ClientConfig {
	if cfg.Key == "" {
		cfg.Key = DefaultKey
	}
	if cfg.HeartbeatInterval == 0 {
		cfg.HeartbeatInterval = DefaultHeartbeatInterval
	}
	if cfg.HandshakeTimeout <= 0 {
		cfg.HandshakeTimeout = DefaultHandshakeTimeout
	}
	if cfg.ReconnectMin <= 0 {
		cfg.ReconnectMin = DefaultReconnectMin
	}
	if cfg.ReconnectMax < cfg.ReconnectMin {
		cfg.ReconnectMax = max(DefaultReconnectMax, cfg.ReconnectMin)
	}
	if cfg.MessageBuffer <= 0 {
		cfg.MessageBuffer = DefaultMessageBuffer
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return cfg
}

// EventKind says what changed in a client's connection.
type EventKind int

// Event kinds, in the order a client goes through them.
const (
	// EventReconnecting: the socket dropped (Err says why); the client is
	// reconnecting with the same id and token. Send waits meanwhile.
	EventReconnecting EventKind = iota + 1
	// EventReconnected: the registration is confirmed again.
	EventReconnected
	// EventServerError: the server sent ERROR, ID-TAKEN or INVALID-KEY on
	// an established connection (Err); the client carries on.
	EventServerError
	// EventClosed: the client stopped for good; Err is the same as Err().
	EventClosed
)

func (k EventKind) String() string {
	switch k {
	case EventReconnecting:
		return "reconnecting"
	case EventReconnected:
		return "reconnected"
	case EventServerError:
		return "server-error"
	case EventClosed:
		return "closed"
	}
	return fmt.Sprintf("EventKind(%d)", int(k))
}

// Event is a change in a client's connection state.
type Event struct {
	Kind EventKind
	Err  error
}

// Client is a registration on a PeerJS-protocol server: one id, held over
// one WebSocket at a time, re-established after drops. Its methods are safe
// for concurrent use.
type Client struct {
	cfg      ClientConfig
	id       string
	token    string
	baseURL  serverURL
	log      *slog.Logger
	messages chan Message
	events   chan Event

	ctx    context.Context // cancelled when the client stops
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	conn    socket        // nil while reconnecting
	ready   chan struct{} // closed when conn is set
	err     error         // why the client stopped
	closing bool          // Close was called: a socket drop is not a reason to reconnect
	done    chan struct{} // closed when the client stops
}

// Dial registers cfg.ID (or a fetched id) on the server and returns once the
// server confirmed it: by OPEN for a fresh registration, or, when the same
// id and token are already registered (a takeover, for which PeerJS servers
// send nothing), by the echo of a probe the client sends to its own id.
// It fails with ErrIDTaken, ErrInvalidKey, ErrInvalidID or a *ServerError,
// or with the network or context error. Dial makes one attempt; reconnects
// happen only after a registration was established.
func Dial(ctx context.Context, cfg ClientConfig) (*Client, error) {
	cfg = cfg.withDefaults()
	base, err := parseServerURL(cfg.URL)
	if err != nil {
		return nil, err
	}
	c := &Client{cfg: cfg, baseURL: base, log: cfg.Logger, token: cfg.Token, id: cfg.ID}
	if err := c.resolveIdentity(ctx); err != nil {
		return nil, err
	}
	est, err := c.handshake(ctx)
	if err != nil {
		return nil, fmt.Errorf("signal dial %s as %s: %w", cfg.URL, c.id, err)
	}
	c.start(est)
	return c, nil
}

func (c *Client) resolveIdentity(ctx context.Context) error {
	if c.token == "" {
		c.token = randomToken()
	}
	if c.id == "" {
		id, err := fetchID(ctx, c.cfg.HTTPClient, c.baseURL.idURL(c.cfg.Key))
		if err != nil {
			return err
		}
		c.id = id
	}
	if err := validateID(c.id); err != nil {
		return fmt.Errorf("signal dial: %w", err)
	}
	if len(c.token) > maxIDLen {
		return fmt.Errorf("signal dial: token longer than %d bytes", maxIDLen)
	}
	return nil
}

func (c *Client) start(est *established) {
	c.ctx, c.cancel = context.WithCancel(context.Background())
	c.messages = make(chan Message, c.cfg.MessageBuffer)
	c.events = make(chan Event, 16)
	c.ready = make(chan struct{})
	c.done = make(chan struct{})
	c.wg.Add(1)
	go c.run(est)
}

// ID returns the registered id.
func (c *Client) ID() string { return c.id }

// Token returns the token that proves ownership of ID; give it to whoever
// must take the id over (another Dial with the same ID and Token).
func (c *Client) Token() string { return c.token }

// Messages returns the frames relayed to this id: OFFER, ANSWER, CANDIDATE
// and LEAVE from other clients (Src stamped by the server), and EXPIRE when
// a message sent to an absent id expired (Src is that absent id). Control
// frames never appear here.
//
// Overflow policy: backpressure. When the buffer (ClientConfig.MessageBuffer)
// is full, the client stops reading the socket until the caller catches up;
// nothing is dropped. Heartbeats continue meanwhile, so the registration
// stays alive. The channel is closed after the client stops (see Done).
func (c *Client) Messages() <-chan Message { return c.messages }

// Events returns connection state changes. The channel holds 16 events; if
// the caller does not keep up, further events are dropped (they are advisory:
// Done and Err are the authoritative record of the end). It is never closed.
func (c *Client) Events() <-chan Event { return c.events }

// Done is closed when the client stops: on Close, or when a reconnect is
// refused for good (ErrIDTaken, ErrInvalidKey) or the registration was taken
// over by another connection (ErrSuperseded).
func (c *Client) Done() <-chan struct{} { return c.done }

// Err returns why the client stopped (ErrClosed after Close), or nil while it
// runs.
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Close closes the WebSocket (a normal closure, which makes the server free
// the id at once), stops heartbeats and reconnects, and waits for the
// client's goroutines. It sends no other frame. Calling it again is a no-op.
func (c *Client) Close() error {
	c.mu.Lock()
	conn, stopped := c.conn, c.err != nil
	c.closing = true
	c.mu.Unlock()
	if conn != nil && !stopped {
		// Before cancelling, so the close handshake can complete while the
		// read loop still reads.
		_ = conn.close()
	}
	c.stop(ErrClosed)
	c.wg.Wait()
	return nil
}

// stop records why the client stops; the first reason wins.
func (c *Client) stop(err error) {
	c.mu.Lock()
	first := c.err == nil
	if first {
		c.err = err
		close(c.done)
	}
	c.mu.Unlock()
	c.cancel()
	if first {
		c.emit(Event{Kind: EventClosed, Err: err})
	}
}

func (c *Client) isClosing() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closing
}

func (c *Client) emit(ev Event) {
	select {
	case c.events <- ev:
	default:
		c.log.Debug("signal: event dropped, nobody reads Events", "event", ev.Kind)
	}
}

func (c *Client) setConn(conn socket) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if conn == nil && c.conn != nil {
		c.ready = make(chan struct{})
	}
	if conn != nil && c.conn == nil {
		close(c.ready)
	}
	c.conn = conn
}

// Send relays msg to msg.Dst. Type must be OFFER, ANSWER, CANDIDATE or LEAVE
// and Dst non-empty; Src is ignored (the server stamps it). While the client
// reconnects, Send waits for the new connection or for ctx. A write that
// fails on a dropping socket returns the error: the message may or may not
// have reached the server, so retrying is the caller's choice.
func (c *Client) Send(ctx context.Context, msg Message) error {
	if err := checkOutgoing(msg); err != nil {
		return err
	}
	msg.Src = ""
	data, err := json.Marshal(msg)
	if err != nil {
		return fmt.Errorf("signal send %s to %s: %w", msg.Type, msg.Dst, err)
	}
	conn, err := c.waitConn(ctx)
	if err != nil {
		return fmt.Errorf("signal send %s to %s: %w", msg.Type, msg.Dst, err)
	}
	if err := conn.write(ctx, data); err != nil {
		return fmt.Errorf("signal send %s to %s: %w", msg.Type, msg.Dst, err)
	}
	return nil
}

func checkOutgoing(msg Message) error {
	switch msg.Type {
	case TypeOffer, TypeAnswer, TypeCandidate, TypeLeave:
	default:
		return fmt.Errorf("send type %q: %w", msg.Type, ErrInvalidMessage)
	}
	if msg.Dst == "" {
		// A LEAVE without dst would make npm peer drop our own registration.
		return fmt.Errorf("send %s without dst: %w", msg.Type, ErrInvalidMessage)
	}
	return nil
}

func (c *Client) waitConn(ctx context.Context) (socket, error) {
	for {
		c.mu.Lock()
		conn, ready, err := c.conn, c.ready, c.err
		c.mu.Unlock()
		if err != nil {
			return nil, err
		}
		if conn != nil {
			return conn, nil
		}
		select {
		case <-ready:
		case <-c.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}
