package mesh

import (
	"fmt"
	"sync/atomic"
	"time"
)

// Stats are a connection's counters since it was created.
type Stats struct {
	FramesSent, FramesReceived uint64
	BytesSent, BytesReceived   uint64 // payload bytes, headers excluded
	// Dropped counts received messages dropped as malformed.
	Dropped uint64
	// RTT is the smoothed round-trip time of pings; LastRTT the latest one.
	RTT, LastRTT time.Duration
}

type counters struct {
	framesSent, framesReceived atomic.Uint64
	bytesSent, bytesReceived   atomic.Uint64
	dropped                    atomic.Uint64
}

// Stats returns the connection's counters.
func (c *Conn) Stats() Stats {
	return Stats{
		FramesSent:     c.stats.framesSent.Load(),
		FramesReceived: c.stats.framesReceived.Load(),
		BytesSent:      c.stats.bytesSent.Load(),
		BytesReceived:  c.stats.bytesReceived.Load(),
		Dropped:        c.stats.dropped.Load(),
		RTT:            c.RTT(),
		LastRTT:        time.Duration(c.lastRTT.Load()),
	}
}

// Send sends a frame on the reliable ordered channel, chunked if it is larger
// than one message. t must be at least TypeUserMin. When the send buffer holds
// more than MaxBufferedAmount bytes, Send waits for it to drain, up to
// SendTimeout (ErrSendTimeout), so a big frame never balloons memory.
// Chunks of concurrent Sends interleave; each frame arrives whole and in the
// order its last chunk was sent.
func (c *Conn) Send(t FrameType, payload []byte) error {
	if err := c.checkSend(t, len(payload), c.cfg.MaxFrameSize); err != nil {
		return err
	}
	if err := c.sendReliable(t, payload); err != nil {
		return fmt.Errorf("send to %s: %w", c.remoteID, err)
	}
	c.countSent(len(payload))
	return nil
}

// sendReliable sends a frame of any type on the reliable channel, chunked
// if need be, waiting for the send buffer to drain as Send does.
func (c *Conn) sendReliable(t FrameType, payload []byte) error {
	deadline := sendDeadline{timeout: c.cfg.SendTimeout}
	var id uint32
	if len(payload) > MaxSinglePayload {
		if err := c.takeSlot(deadline.get()); err != nil {
			return err
		}
		defer func() { <-c.bigSlots }()
		id = c.nextID.Add(1)
	}
	return encodeFrame(t, id, payload, func(msg []byte) error {
		if err := c.waitWritable(&deadline); err != nil {
			return err
		}
		return c.rel.send(msg)
	})
}

// SendEphemeral sends a frame on the unordered channel, without
// retransmission: it may be lost or overtaken. The payload must fit one
// message (MaxSinglePayload bytes). When the send buffer is full it fails
// with ErrBackpressure instead of waiting: an ephemeral frame is not worth
// queueing.
func (c *Conn) SendEphemeral(t FrameType, payload []byte) error {
	if err := c.checkSend(t, len(payload), MaxSinglePayload); err != nil {
		return err
	}
	if c.eph.bufferedAmount() > uint64(c.cfg.MaxBufferedAmount) {
		return fmt.Errorf("send ephemeral to %s: %w", c.remoteID, ErrBackpressure)
	}
	if err := c.eph.send(encodeSingle(t, payload)); err != nil {
		return fmt.Errorf("send ephemeral to %s: %w", c.remoteID, err)
	}
	c.countSent(len(payload))
	return nil
}

func (c *Conn) checkSend(t FrameType, size, limit int) error {
	switch {
	case t < TypeUserMin:
		return fmt.Errorf("send type %#x: %w", uint8(t), ErrReservedType)
	case size > limit:
		return fmt.Errorf("send %d bytes, limit %d: %w", size, limit, ErrOversized)
	}
	select {
	case <-c.closed:
		return fmt.Errorf("send to %s: %w", c.remoteID, ErrClosed)
	default:
	}
	if !c.isReady() {
		return fmt.Errorf("send to %s: %w", c.remoteID, ErrNotReady)
	}
	return nil
}

func (c *Conn) countSent(n int) {
	c.stats.framesSent.Add(1)
	c.stats.bytesSent.Add(uint64(n))
}

// takeSlot waits for room to send one more chunked frame.
func (c *Conn) takeSlot(deadline time.Time) error {
	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	select {
	case c.bigSlots <- struct{}{}:
		return nil
	case <-t.C:
		return ErrSendTimeout
	case <-c.closed:
		return ErrClosed
	}
}

// sendDeadline is the deadline of one Send, read from the clock only when
// the Send first has to wait: in the browser every clock read is a call
// into JS, and most sends never wait.
type sendDeadline struct {
	timeout time.Duration
	at      time.Time
}

func (d *sendDeadline) get() time.Time {
	if d.at.IsZero() {
		d.at = time.Now().Add(d.timeout)
	}
	return d.at
}

// waitWritable waits until the reliable channel's buffer is at most
// MaxBufferedAmount. The buffered-amount-low event wakes it; a slow tick
// re-checks in case an event was coalesced away.
func (c *Conn) waitWritable(deadline *sendDeadline) error {
	for c.rel.bufferedAmount() > uint64(c.cfg.MaxBufferedAmount) {
		wait := time.Until(deadline.get())
		if wait <= 0 {
			return ErrSendTimeout
		}
		t := time.NewTimer(min(wait, 100*time.Millisecond))
		select {
		case <-c.relLow:
		case <-t.C:
		case <-c.closed:
			t.Stop()
			return ErrClosed
		}
		t.Stop()
	}
	return nil
}

// readLoop decodes queued messages, reassembles chunked frames and hands
// frames to the keepalive or to OnFrame.
func (c *Conn) readLoop() {
	defer c.wg.Done()
	reasm := newReassembler(c.cfg.MaxFrameSize, c.cfg.MaxPendingFrames)
	for {
		select {
		case m := <-c.in:
			if err := c.receive(reasm, m); err != nil {
				c.drop(err)
			}
		case <-c.closed:
			return
		}
	}
}

// receive handles one data-channel message.
func (c *Conn) receive(reasm *reassembler, in inbound) error {
	m, err := decodeMessage(in.data)
	if err != nil {
		return err
	}
	if in.ephemeral && m.chunked {
		return fmt.Errorf("%w: chunk on the ephemeral channel", ErrMalformed)
	}
	t, payload, done, err := reasm.add(m)
	if err != nil || !done {
		return err
	}
	if t < TypeUserMin {
		return c.handleControl(t, payload, in.ephemeral)
	}
	c.stats.framesReceived.Add(1)
	c.stats.bytesReceived.Add(uint64(len(payload)))
	if c.cfg.OnFrame != nil {
		c.cfg.OnFrame(Frame{From: c.remoteID, Type: t, Payload: payload, Ephemeral: in.ephemeral})
	}
	return nil
}

// handleControl handles the mesh's own frame types.
func (c *Conn) handleControl(t FrameType, payload []byte, ephemeral bool) error {
	switch {
	case ephemeral:
		return fmt.Errorf("%w: control frame %#x on the ephemeral channel", ErrMalformed, uint8(t))
	case t == TypePing:
		return c.answerPing(payload)
	case t == TypePong:
		return c.takePong(payload)
	case t == TypeBye:
		c.log.Debug("mesh: remote said bye")
		c.shutdown(false)
		return nil
	case t == TypeNegotiate:
		return c.queueRenegotiation(payload)
	}
	return fmt.Errorf("%w: unknown control type %#x", ErrMalformed, uint8(t))
}

// drop counts and reports a malformed message.
func (c *Conn) drop(err error) {
	c.stats.dropped.Add(1)
	c.log.Warn("mesh: dropped frame", "err", err)
	if c.cfg.OnBadFrame != nil {
		c.cfg.OnBadFrame(c.remoteID, err)
	}
}
