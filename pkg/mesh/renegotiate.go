package mesh

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"
)

// Kinds of TypeNegotiate messages besides offers and answers: the polite
// side asks for its turn to offer, and the impolite side gives it.
const (
	negotiateRequest sdpType = "request"
	negotiateGrant   sdpType = "grant"
)

// renegotiation is the state of renegotiations after the connection is
// ready; they go over the reliable channel (see doc.go). The side that
// dialed is impolite: it offers whenever its peer connection needs to. The
// side that accepted is polite: it asks first, and offers once granted, so
// that offers never cross. (Perfect negotiation lets them cross and rolls
// the polite side's offer back, but pion cannot roll back, and it keeps
// the media ids an offer assigned, so a pion peer could not yield.)
type renegotiation struct {
	// needed wakes the renegotiation loop: the peer connection asked for
	// a negotiation.
	needed chan struct{}
	// in holds the remote's messages, in the order they came.
	in chan description
	// armed is set once the first offer/answer exchange reaches its last
	// step. A negotiationneeded event from before is stale: the browser
	// (and pion) check again when the exchange brings the connection back
	// to stable, and fire again if anything is still missing.
	armed atomic.Bool

	// The fields below are guarded by negMu.
	// requested: the polite side asked for its turn and waits for it.
	requested bool
	// granted: the impolite side gave the polite one its turn and makes
	// no offer until it has answered the polite side's.
	granted bool
	// grantAfterAnswer: the polite side asked while an offer of ours was
	// pending; it gets its turn once that offer is answered.
	grantAfterAnswer bool
}

// maxQueuedRenegotiations bounds the messages waiting for the
// renegotiation loop; a peer that sends more is flooding.
const maxQueuedRenegotiations = 8

func (r *renegotiation) init() {
	r.needed = make(chan struct{}, 1)
	r.in = make(chan description, maxQueuedRenegotiations)
}

// negotiationJSON is the payload of a TypeNegotiate frame.
type negotiationJSON struct {
	Type sdpType `json:"type"`
	SDP  string  `json:"sdp,omitempty"`
}

func (c *Conn) armRenegotiation() { c.reneg.armed.Store(true) }

// polite tells whether this side asks before offering: the side that
// accepted the connection.
func (c *Conn) polite() bool { return role(c.role.Load()) == roleAnswerer }

// negotiationNeeded is the peer connection's negotiationneeded handler.
func (c *Conn) negotiationNeeded() {
	if c.reneg.armed.Load() {
		notify(c.reneg.needed)
	}
}

// queueRenegotiation checks a TypeNegotiate frame from the read loop and
// queues it for the renegotiation loop.
func (c *Conn) queueRenegotiation(payload []byte) error {
	var m negotiationJSON
	if err := json.Unmarshal(payload, &m); err != nil {
		return fmt.Errorf("%w: renegotiation: %v", ErrMalformed, err)
	}
	switch m.Type {
	case sdpOffer, sdpAnswer:
		if m.SDP == "" {
			return fmt.Errorf("%w: renegotiation %s without SDP", ErrMalformed, m.Type)
		}
	case negotiateRequest, negotiateGrant:
	default:
		return fmt.Errorf("%w: renegotiation of type %q", ErrMalformed, m.Type)
	}
	select {
	case c.reneg.in <- description(m):
		return nil
	default:
		return fmt.Errorf("%w: more than %d renegotiation messages queued", ErrMalformed, maxQueuedRenegotiations)
	}
}

// renegotiateLoop runs renegotiations, one step at a time, once the
// connection is ready; before, negotiation goes through signals.
func (c *Conn) renegotiateLoop() {
	defer c.wg.Done()
	select {
	case <-c.ready:
	case <-c.closed:
		return
	}
	for {
		select {
		case <-c.reneg.needed:
			c.renegotiate()
		case d := <-c.reneg.in:
			c.takeRenegotiation(d)
		case <-c.closed:
			return
		}
	}
}

// renegotiate starts a renegotiation: an offer from the impolite side, a
// request for its turn from the polite one. It does nothing while a
// negotiation is under way: the event comes again once it is over, if
// still needed.
func (c *Conn) renegotiate() {
	msg, err := c.prepareRenegotiation()
	if err != nil {
		c.log.Warn("mesh: renegotiation", "err", err)
		return
	}
	if msg.Type != "" {
		c.sendNegotiation(msg)
	}
}

func (c *Conn) prepareRenegotiation() (description, error) {
	c.negMu.Lock()
	defer c.negMu.Unlock()
	if c.pc.signalingState() != signalingStable {
		return description{}, nil
	}
	if c.polite() {
		if c.reneg.requested {
			return description{}, nil
		}
		c.reneg.requested = true
		return description{Type: negotiateRequest}, nil
	}
	if c.reneg.granted {
		return description{}, nil
	}
	return c.offerRenegotiation()
}

// offerRenegotiation makes an offer; negMu is held.
func (c *Conn) offerRenegotiation() (description, error) {
	ctx, cancel := context.WithTimeout(context.Background(), c.cfg.GatherTimeout)
	defer cancel()
	c.log.Debug("mesh: renegotiating")
	sdp, err := c.makeOffer(ctx, false)
	if err != nil {
		return description{}, err
	}
	return description{Type: sdpOffer, SDP: sdp}, nil
}

// takeRenegotiation handles a message from the remote and sends the reply,
// if any. A message that does not fit this side's role, or a description
// the peer connection rejects, is reported like a malformed frame; a stray
// answer (possible when an ICE restart resent an offer) is only logged.
func (c *Conn) takeRenegotiation(m description) {
	reply, err := c.replyRenegotiation(m)
	switch {
	case err == nil:
		if reply.Type != "" {
			c.sendNegotiation(reply)
		}
	case errors.Is(err, errNoPendingOffer):
		c.log.Debug("mesh: renegotiation answer without an offer")
	case errors.Is(err, ErrBadSignal), errors.Is(err, ErrRole):
		c.drop(fmt.Errorf("%w: renegotiation %s: %v", ErrMalformed, m.Type, err))
	default:
		c.log.Warn("mesh: renegotiation", "type", m.Type, "err", err)
	}
}

func (c *Conn) replyRenegotiation(m description) (description, error) {
	c.negMu.Lock()
	defer c.negMu.Unlock()
	polite := c.polite()
	switch {
	case m.Type == sdpOffer:
		return c.answerRenegotiation(m)
	case m.Type == sdpAnswer:
		if err := c.applyAnswer(m); err != nil {
			return description{}, err
		}
		return c.grantIfAsked(), nil
	case m.Type == negotiateRequest && !polite:
		if c.pc.signalingState() != signalingStable {
			c.reneg.grantAfterAnswer = true
			return description{}, nil
		}
		c.reneg.granted = true
		return description{Type: negotiateGrant}, nil
	case m.Type == negotiateGrant && polite:
		c.reneg.requested = false
		if c.pc.signalingState() != signalingStable {
			return description{}, fmt.Errorf("%w: granted while negotiating", ErrRole)
		}
		return c.offerRenegotiation()
	}
	return description{}, fmt.Errorf("%w: %q on the %s side", ErrRole, m.Type, role(c.role.Load()))
}

// answerRenegotiation answers a remote offer; negMu is held. The impolite
// side ignores an offer that crosses its own (the polite side asks first,
// so only an old or broken peer sends one).
func (c *Conn) answerRenegotiation(offer description) (description, error) {
	if !c.polite() {
		c.reneg.granted = false
		if c.pc.signalingState() != signalingStable {
			c.log.Debug("mesh: renegotiation offer crossed ours; ignored")
			return description{}, nil
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.cfg.GatherTimeout)
	defer cancel()
	sdp, err := c.answerOffer(ctx, offer)
	if err != nil {
		return description{}, err
	}
	return description{Type: sdpAnswer, SDP: sdp}, nil
}

// grantIfAsked gives the polite side the turn it asked for while our offer
// was pending; negMu is held.
func (c *Conn) grantIfAsked() description {
	if c.polite() || !c.reneg.grantAfterAnswer {
		return description{}
	}
	c.reneg.grantAfterAnswer = false
	c.reneg.granted = true
	return description{Type: negotiateGrant}
}

// sendNegotiation sends a message to the remote on the reliable channel.
func (c *Conn) sendNegotiation(m description) {
	if hook := c.negotiationSent.Load(); hook != nil {
		(*hook)(m.Type)
	}
	payload, err := json.Marshal(negotiationJSON(m))
	if err != nil {
		c.log.Warn("mesh: renegotiation", "err", err)
		return
	}
	if err := c.sendReliable(TypeNegotiate, payload); err != nil {
		c.log.Debug("mesh: renegotiation", "type", m.Type, "err", err)
	}
}
