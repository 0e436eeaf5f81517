package mesh

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Errors returned by Conn methods.
var (
	// ErrClosed: the connection was closed, by either side.
	ErrClosed = errors.New("mesh: connection closed")
	// ErrNotReady: the data channels are not open yet; nothing was sent.
	ErrNotReady = errors.New("mesh: connection not open yet")
	// ErrReservedType: the frame type is below TypeUserMin.
	ErrReservedType = errors.New("mesh: frame type reserved for the mesh")
	// ErrBackpressure: SendEphemeral found the send buffer full and dropped
	// the frame.
	ErrBackpressure = errors.New("mesh: send buffer full")
	// ErrSendTimeout: Send waited SendTimeout for the buffer to drain; part
	// of a chunked frame may have been sent, and the remote discards it
	// once the connection is closed.
	ErrSendTimeout = errors.New("mesh: send timed out waiting for the buffer to drain")
	// ErrRole: the call or signal does not fit this side's role (offering
	// or answering) or the connection is not negotiated yet.
	ErrRole = errors.New("mesh: wrong role for this call")
)

// Labels and fixed stream ids of the two data channels. They are negotiated
// out of band (both sides create them with the same id), so neither side
// waits for an OnDataChannel event.
const (
	reliableLabel  = "rooms-reliable"
	ephemeralLabel = "rooms-ephemeral"
	reliableID     = 0
	ephemeralID    = 1
)

// role says which side of the offer/answer exchange a Conn is on.
type role int32

const (
	roleNone role = iota
	roleOfferer
	roleAnswerer
)

// inbound is one data-channel message waiting for the read loop.
type inbound struct {
	data      []byte
	ephemeral bool
}

// Conn is one WebRTC PeerConnection to one remote peer, carrying framed
// messages on a reliable ordered channel and an unordered ephemeral one.
// Its methods are safe for concurrent use.
type Conn struct {
	cfg        Config
	remoteID   string
	sendSignal func(Signal) error
	log        *slog.Logger
	start      time.Time // origin of ping timestamps

	pc  peerConnection
	rel dataChannel
	eph dataChannel

	role  atomic.Int32
	negMu sync.Mutex // one offer/answer step at a time

	opened    atomic.Int32 // channels open so far
	readyOnce sync.Once
	ready     chan struct{}
	closeOnce sync.Once
	closed    chan struct{}
	done      chan struct{}
	wg        sync.WaitGroup

	in     chan inbound
	relLow chan struct{} // the reliable channel's buffer drained below the low mark
	nextID atomic.Uint32 // id of the last chunked frame sent
	// bigSlots bounds the chunked frames in flight to what the remote's
	// reassembler accepts (MaxPendingFrames, if configured alike).
	bigSlots chan struct{}

	states stateTracker
	ice    atomic.Value // latest iceState
	iceBad chan struct{}

	reneg renegotiation

	lastPong atomic.Int64 // ns since start
	srtt     atomic.Int64 // smoothed RTT, ns
	lastRTT  atomic.Int64 // ns
	stats    counters

	// noPong is a test hook: while set, pings are not answered.
	noPong atomic.Bool
	// negotiationSent is a test hook: called with the type of each
	// renegotiation message before it is sent.
	negotiationSent atomic.Pointer[func(sdpType)]
}

// New creates a connection to remoteID, not yet negotiated: call Dial on one
// side and Accept on the other. Creating the Conn first lets the caller
// register it for incoming signals before any is sent. sendSignal carries
// signals to the remote side's Conn (Accept, then HandleSignal); it should
// not wait for the remote to act on them.
func New(cfg Config, remoteID string, sendSignal func(Signal) error) (*Conn, error) {
	cfg = cfg.withDefaults()
	pc, err := newPeerConnection(cfg)
	if err != nil {
		return nil, fmt.Errorf("mesh: peer connection to %s: %w", remoteID, err)
	}
	c := &Conn{
		cfg:        cfg,
		remoteID:   remoteID,
		sendSignal: sendSignal,
		log:        cfg.Logger.With("peer", remoteID),
		start:      time.Now(),
		pc:         pc,
		ready:      make(chan struct{}),
		closed:     make(chan struct{}),
		done:       make(chan struct{}),
		in:         make(chan inbound, 64),
		relLow:     make(chan struct{}, 1),
		bigSlots:   make(chan struct{}, cfg.MaxPendingFrames),
		iceBad:     make(chan struct{}, 1),
	}
	c.ice.Store(iceState("new"))
	c.reneg.init()
	c.states.init(remoteID, cfg.OnState)
	if err := c.openChannels(); err != nil {
		_ = pc.close()
		return nil, fmt.Errorf("mesh: data channels to %s: %w", remoteID, err)
	}
	c.watchPeerConnection()
	c.wg.Add(5)
	go func() { defer c.wg.Done(); c.states.run(c.closed) }()
	go c.readLoop()
	go c.keepalive()
	go c.restartLoop()
	go c.renegotiateLoop()
	go func() { c.wg.Wait(); close(c.done) }()
	return c, nil
}

// openChannels creates both negotiated data channels and their handlers.
func (c *Conn) openChannels() error {
	rel, err := c.pc.createDataChannel(channelOptions{label: reliableLabel, id: reliableID, reliable: true})
	if err != nil {
		return err
	}
	eph, err := c.pc.createDataChannel(channelOptions{label: ephemeralLabel, id: ephemeralID})
	if err != nil {
		return err
	}
	c.rel, c.eph = rel, eph
	c.watchChannel(rel, false)
	c.watchChannel(eph, true)
	rel.setBufferedAmountLowThreshold(uint64(c.cfg.MaxBufferedAmount / 2))
	rel.onBufferedAmountLow(func() { notify(c.relLow) })
	return nil
}

// watchChannel wires a channel's events. Messages come one at a time and
// in order (see rtc.go); the handler queues them for the read loop, which
// keeps the order even when the queue is full.
func (c *Conn) watchChannel(dc dataChannel, ephemeral bool) {
	var once sync.Once
	opened := func() {
		once.Do(func() {
			if c.opened.Add(1) == 2 {
				c.readyOnce.Do(c.becomeReady)
			}
		})
	}
	dc.onOpen(opened)
	if dc.isOpen() {
		opened()
	}
	dc.onMessage(func(data []byte) {
		select {
		case c.in <- inbound{data: data, ephemeral: ephemeral}:
		case <-c.closed:
		}
	})
	dc.onClose(func() {
		c.log.Debug("mesh: data channel closed", "label", dc.label())
		go c.shutdown(false)
	})
}

// becomeReady runs once, when both channels are open.
func (c *Conn) becomeReady() {
	c.lastPong.Store(int64(time.Since(c.start)))
	close(c.ready)
	c.states.update(func(s *stateInputs) { s.ready = true })
	c.log.Debug("mesh: channels open")
}

// watchPeerConnection follows the transport's state and its needs to
// renegotiate.
func (c *Conn) watchPeerConnection() {
	c.pc.onConnectionStateChange(func(s connectionState) {
		c.log.Debug("mesh: peer connection state", "state", s)
		if s == connectionClosed {
			go c.shutdown(false)
			return
		}
		c.states.update(func(in *stateInputs) { in.pc = s })
	})
	c.pc.onICEConnectionStateChange(func(s iceState) {
		c.ice.Store(s)
		if iceBroken(s) {
			notify(c.iceBad)
		}
	})
	c.pc.onNegotiationNeeded(c.negotiationNeeded)
}

// RemoteID returns the peer id this connection was created for.
func (c *Conn) RemoteID() string { return c.remoteID }

// Ready is closed once both data channels are open.
func (c *Conn) Ready() <-chan struct{} { return c.ready }

// Done is closed once the connection is closed and its goroutines have ended.
func (c *Conn) Done() <-chan struct{} { return c.done }

// State returns the connection's current state.
func (c *Conn) State() State { return c.states.current() }

// WaitReady blocks until both data channels are open, the connection is
// closed (ErrClosed) or ctx ends.
func (c *Conn) WaitReady(ctx context.Context) error {
	select {
	case <-c.ready:
		return nil
	case <-c.closed:
		return fmt.Errorf("wait for %s: %w", c.remoteID, ErrClosed)
	case <-ctx.Done():
		return fmt.Errorf("wait for %s: %w", c.remoteID, ctx.Err())
	}
}

// Close says goodbye to the remote (which then sees StateClosed) and closes
// the connection. It does not wait for the connection's goroutines, so it
// may be called from OnFrame or OnState; Done tells when they have ended.
func (c *Conn) Close() error {
	c.shutdown(true)
	return nil
}

// shutdown closes the connection once; bye says whether to tell the remote.
func (c *Conn) shutdown(bye bool) {
	c.closeOnce.Do(func() {
		if bye && c.isReady() {
			c.sayBye()
		}
		c.states.update(func(s *stateInputs) { s.closed = true })
		close(c.closed)
		if err := c.pc.close(); err != nil {
			c.log.Debug("mesh: close", "err", err)
		}
	})
}

// sayBye sends TypeBye so the remote closes at once. It is best effort: the
// transport is torn down right after, and a remote that misses the bye still
// sees the data channels close.
func (c *Conn) sayBye() {
	if err := c.rel.send(encodeSingle(TypeBye, nil)); err != nil {
		c.log.Debug("mesh: bye", "err", err)
	}
}

func (c *Conn) isReady() bool {
	select {
	case <-c.ready:
		return true
	default:
		return false
	}
}

// notify makes a non-blocking wake-up on a channel of capacity 1.
func notify(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}
