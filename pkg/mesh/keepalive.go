package mesh

import (
	"encoding/binary"
	"fmt"
	"time"
)

// keepalive pings the remote every KeepaliveInterval once the channels are
// open, and reports the peer unreachable while no pong came for PeerTimeout.
func (c *Conn) keepalive() {
	defer c.wg.Done()
	select {
	case <-c.ready:
	case <-c.closed:
		return
	}
	tick := time.NewTicker(c.cfg.KeepaliveInterval)
	defer tick.Stop()
	for {
		c.ping()
		select {
		case <-tick.C:
			c.checkPeer()
		case <-c.closed:
			return
		}
	}
}

// ping sends a ping stamped with our clock. It skips the backpressure wait
// of Send: a ping must not stall behind a snapshot's flow control, and it is
// tiny.
func (c *Conn) ping() {
	var stamp [8]byte
	binary.BigEndian.PutUint64(stamp[:], uint64(time.Since(c.start)))
	if err := c.rel.send(encodeSingle(TypePing, stamp[:])); err != nil {
		c.log.Debug("mesh: ping", "err", err)
	}
}

// checkPeer updates the unreachable flag from the time of the last pong.
func (c *Conn) checkPeer() {
	silent := time.Since(c.start) - time.Duration(c.lastPong.Load())
	unreachable := silent > c.cfg.PeerTimeout
	c.states.update(func(s *stateInputs) { s.unreachable = unreachable })
}

// answerPing echoes a ping's payload back, unless the test hook says not to.
func (c *Conn) answerPing(payload []byte) error {
	if len(payload) != 8 {
		return fmt.Errorf("%w: ping of %d bytes", ErrMalformed, len(payload))
	}
	if c.noPong.Load() {
		return nil
	}
	if err := c.rel.send(encodeSingle(TypePong, payload)); err != nil {
		c.log.Debug("mesh: pong", "err", err)
	}
	return nil
}

// takePong measures the round trip of one of our pings.
func (c *Conn) takePong(payload []byte) error {
	if len(payload) != 8 {
		return fmt.Errorf("%w: pong of %d bytes", ErrMalformed, len(payload))
	}
	now := time.Since(c.start)
	sent := time.Duration(binary.BigEndian.Uint64(payload))
	if sent < 0 || sent > now {
		return fmt.Errorf("%w: pong stamped %v, now %v", ErrMalformed, sent, now)
	}
	rtt := max(now-sent, time.Nanosecond) // a zero RTT would read as "none yet"
	c.lastRTT.Store(int64(rtt))
	// Smoothed like TCP's SRTT: 7/8 old + 1/8 new.
	if old := c.srtt.Load(); old == 0 {
		c.srtt.Store(int64(rtt))
	} else {
		c.srtt.Store(old + (int64(rtt)-old)/8)
	}
	c.lastPong.Store(int64(now))
	c.states.update(func(s *stateInputs) { s.unreachable = false })
	return nil
}

// RTT returns the smoothed round-trip time of keepalive pings, or 0 before
// the first pong.
func (c *Conn) RTT() time.Duration { return time.Duration(c.srtt.Load()) }
