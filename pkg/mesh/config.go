package mesh

import (
	"log/slog"
	"math"
	"time"
)

// Defaults applied by New to zero fields of Config.
const (
	DefaultKeepaliveInterval = time.Second
	DefaultPeerTimeout       = 10 * time.Second
	DefaultGatherTimeout     = 5 * time.Second
	DefaultSendTimeout       = 30 * time.Second
	DefaultRestartDelay      = 2 * time.Second
	DefaultMaxBufferedAmount = 1 << 20
)

// Config configures connections. One Config may be shared by all the
// connections of a member: every callback is told which remote peer it is
// about. Zero fields take the defaults above.
type Config struct {
	// ICEServers are the STUN/TURN servers; none is needed on loopback or a LAN.
	ICEServers []ICEServer
	// LoopbackOnly restricts ICE to 127.0.0.1 over UDP with mDNS off, so
	// that nothing leaves the machine (tests, local tools). Native builds
	// only; in a browser, loopback is up to Chromium's flags (see doc.go).
	LoopbackOnly bool

	// KeepaliveInterval is the time between pings on the reliable channel.
	KeepaliveInterval time.Duration
	// PeerTimeout is how long a peer may go without answering pings before
	// its connection is reported StateUnreachable.
	PeerTimeout time.Duration
	// GatherTimeout bounds the wait for ICE gathering before an offer or an
	// answer is sent with the candidates found so far.
	GatherTimeout time.Duration
	// SendTimeout bounds how long Send waits for the send buffer to drain.
	SendTimeout time.Duration
	// RestartDelay is how long ICE may stay disconnected before the offering
	// side restarts it; a failed ICE is restarted at once. Later attempts back
	// off, doubling up to PeerTimeout.
	RestartDelay time.Duration

	// MaxFrameSize caps a reassembled frame, sent or received.
	MaxFrameSize int
	// MaxPendingFrames caps the chunked frames a peer may have half-sent.
	MaxPendingFrames int
	// MaxBufferedAmount is the send-buffer level above which Send waits and
	// SendEphemeral fails with ErrBackpressure.
	MaxBufferedAmount int

	// OnFrame receives every frame of an upper-layer type, from one goroutine
	// per connection, in the order the reliable channel delivered them. It
	// should hand the frame off quickly: while it runs, this connection reads
	// nothing (pongs included). The frame's payload is the callee's to keep.
	OnFrame func(Frame)
	// OnState is told every change of a connection's state, in order, from one
	// goroutine per connection.
	OnState func(remoteID string, s State)
	// OnBadFrame is told about each message dropped as malformed (unknown
	// version, bad chunk sequence, oversized...), so the layer above can
	// decide to drop a misbehaving peer. It must not block.
	OnBadFrame func(remoteID string, err error)
	// Logger receives diagnostics; nil discards them.
	Logger *slog.Logger
}

// withDefaults returns cfg with zero fields set to their defaults.
func (cfg Config) withDefaults() Config {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.KeepaliveInterval, DefaultKeepaliveInterval)
	def(&cfg.PeerTimeout, DefaultPeerTimeout)
	def(&cfg.GatherTimeout, DefaultGatherTimeout)
	def(&cfg.SendTimeout, DefaultSendTimeout)
	def(&cfg.RestartDelay, DefaultRestartDelay)
	if cfg.MaxFrameSize <= 0 {
		cfg.MaxFrameSize = DefaultMaxFrameSize
	}
	// The chunk header counts the frame's length in 32 bits.
	cfg.MaxFrameSize = int(min(int64(cfg.MaxFrameSize), math.MaxUint32))
	if cfg.MaxPendingFrames <= 0 {
		cfg.MaxPendingFrames = DefaultMaxPendingFrames
	}
	if cfg.MaxBufferedAmount <= 0 {
		cfg.MaxBufferedAmount = DefaultMaxBufferedAmount
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return cfg
}

// Frame is one frame delivered to Config.OnFrame.
type Frame struct {
	// From is the remote peer id the connection was created for: the only
	// peer that can have sent this frame.
	From string
	// Type is the upper layer's frame type (≥ TypeUserMin).
	Type FrameType
	// Payload is the frame's body, reassembled if it was chunked.
	Payload []byte
	// Ephemeral is true for frames that came on the unordered channel.
	Ephemeral bool
}

// State is the state of a connection as reported to Config.OnState.
type State int

// Connection states.
const (
	// StateConnecting: negotiating, or ICE checking; the channels are not open yet.
	StateConnecting State = iota
	// StateConnected: both channels are open and the peer answers pings.
	StateConnected
	// StateDisconnected: ICE lost the path; it may come back by itself or after
	// an ICE restart.
	StateDisconnected
	// StateFailed: ICE failed; the offering side restarts it.
	StateFailed
	// StateUnreachable: the peer has not answered a ping for PeerTimeout,
	// whatever ICE says. Layers above use it to give up on the peer.
	StateUnreachable
	// StateClosed: closed by either side; final.
	StateClosed
)

// String returns the state's name as used in events.
func (s State) String() string {
	switch s {
	case StateConnecting:
		return "connecting"
	case StateConnected:
		return "connected"
	case StateDisconnected:
		return "disconnected"
	case StateFailed:
		return "failed"
	case StateUnreachable:
		return "unreachable"
	case StateClosed:
		return "closed"
	}
	return "unknown"
}
