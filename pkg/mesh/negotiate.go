package mesh

import (
	"context"
	"fmt"
	"time"
)

// Dial makes this side the offerer: it sends an offer through sendSignal and
// returns; the answer must be passed to HandleSignal. ctx bounds the
// preparation of the offer (ICE gathering), not the connection: use
// WaitReady for that.
func (c *Conn) Dial(ctx context.Context) error {
	if !c.role.CompareAndSwap(int32(roleNone), int32(roleOfferer)) {
		return fmt.Errorf("dial %s: %w", c.remoteID, ErrRole)
	}
	if err := c.offer(ctx, false); err != nil {
		return fmt.Errorf("dial %s: %w", c.remoteID, err)
	}
	return nil
}

// Accept makes this side the answerer of offer: it answers through
// sendSignal. Later signals (ICE restart offers) go to HandleSignal.
func (c *Conn) Accept(ctx context.Context, offer Signal) error {
	if offer.Kind != SignalOffer {
		return fmt.Errorf("accept %s: %w: want an offer, got %q", c.remoteID, ErrBadSignal, offer.Kind)
	}
	if !c.role.CompareAndSwap(int32(roleNone), int32(roleAnswerer)) {
		return fmt.Errorf("accept %s: %w", c.remoteID, ErrRole)
	}
	if err := c.answer(ctx, offer); err != nil {
		return fmt.Errorf("accept %s: %w", c.remoteID, err)
	}
	return nil
}

// HandleSignal takes a signal from the remote side after Dial or Accept: the
// answer to our offer, an ICE-restart offer, or a request to restart ICE.
// A signal that does not fit this side's role or the negotiation's state is
// ErrBadSignal or ErrRole and changes nothing. Answering waits for ICE
// gathering, up to GatherTimeout.
func (c *Conn) HandleSignal(s Signal) error {
	select {
	case <-c.closed:
		return fmt.Errorf("signal from %s: %w", c.remoteID, ErrClosed)
	default:
	}
	var err error
	switch r := role(c.role.Load()); {
	case r == roleOfferer && s.Kind == SignalAnswer:
		err = c.takeAnswer(s)
	case r == roleOfferer && s.Kind == SignalRestart:
		err = c.Restart()
	case r == roleAnswerer && s.Kind == SignalOffer:
		ctx, cancel := context.WithTimeout(context.Background(), c.cfg.GatherTimeout)
		defer cancel()
		err = c.answer(ctx, s)
	default:
		err = fmt.Errorf("%w: %q on the %s side", ErrRole, s.Kind, r)
	}
	if err != nil {
		return fmt.Errorf("signal from %s: %w", c.remoteID, err)
	}
	return nil
}

// Restart restarts ICE: the offerer sends a new offer with fresh ICE
// credentials, the answerer asks the offerer to do so. The channels keep
// their state; frames sent meanwhile wait in the send buffer.
func (c *Conn) Restart() error {
	switch role(c.role.Load()) {
	case roleOfferer:
		ctx, cancel := context.WithTimeout(context.Background(), c.cfg.GatherTimeout)
		defer cancel()
		c.log.Debug("mesh: ICE restart")
		return c.offer(ctx, true)
	case roleAnswerer:
		return c.sendSignal(Signal{Kind: SignalRestart})
	}
	return fmt.Errorf("restart %s: %w: not negotiated yet", c.remoteID, ErrRole)
}

// offer creates and sends an offer. If an earlier offer is still waiting
// for its answer (its signal may have been lost), that offer is sent again
// instead: a second one would not be answerable.
func (c *Conn) offer(ctx context.Context, iceRestart bool) error {
	sdp, err := c.prepareOffer(ctx, iceRestart)
	if err != nil {
		return err
	}
	return c.sendSignal(Signal{Kind: SignalOffer, SDP: sdp})
}

func (c *Conn) prepareOffer(ctx context.Context, iceRestart bool) (string, error) {
	c.negMu.Lock()
	defer c.negMu.Unlock()
	if c.pc.signalingState() == signalingHaveLocalOffer {
		return c.pc.localDescription(), nil
	}
	return c.makeOffer(ctx, iceRestart)
}

// makeOffer creates an offer and applies it; negMu is held.
func (c *Conn) makeOffer(ctx context.Context, iceRestart bool) (string, error) {
	offer, err := c.pc.createOffer(iceRestart)
	if err != nil {
		return "", fmt.Errorf("create offer: %w", err)
	}
	return c.setLocal(ctx, offer)
}

// answer applies a remote offer and sends our answer.
func (c *Conn) answer(ctx context.Context, offer Signal) error {
	sdp, err := c.prepareAnswer(ctx, offer)
	if err != nil {
		return err
	}
	return c.sendSignal(Signal{Kind: SignalAnswer, SDP: sdp})
}

func (c *Conn) prepareAnswer(ctx context.Context, offer Signal) (string, error) {
	desc, err := offer.description()
	if err != nil {
		return "", err
	}
	c.negMu.Lock()
	defer c.negMu.Unlock()
	return c.answerOffer(ctx, desc)
}

// answerOffer applies a remote offer and returns our answer; negMu is held.
// Only the answering side can get here with an offer of its own pending: a
// renegotiation offer, overtaken by an ICE-restart offer that came through
// signals. Ours yields, where the peer connection can roll it back (the
// browser can; pion cannot, and the restart then fails until ours is
// answered).
func (c *Conn) answerOffer(ctx context.Context, offer description) (string, error) {
	if c.pc.signalingState() == signalingHaveLocalOffer {
		if err := c.pc.rollback(); err != nil {
			return "", fmt.Errorf("roll back our offer: %w", err)
		}
	}
	if err := c.pc.setRemoteDescription(offer); err != nil {
		return "", fmt.Errorf("%w: set remote offer: %v", ErrBadSignal, err)
	}
	answer, err := c.pc.createAnswer()
	if err != nil {
		return "", fmt.Errorf("create answer: %w", err)
	}
	c.armRenegotiation()
	return c.setLocal(ctx, answer)
}

// setLocal applies a local description and waits for ICE gathering to
// complete (or ctx to end), then returns the SDP with every candidate found:
// candidates are not trickled.
func (c *Conn) setLocal(ctx context.Context, desc description) (string, error) {
	gathered, err := c.pc.setLocalDescription(desc)
	if err != nil {
		return "", fmt.Errorf("set local %s: %w", desc.Type, err)
	}
	select {
	case <-gathered:
	case <-ctx.Done():
		c.log.Warn("mesh: ICE gathering incomplete, sending what we have", "err", ctx.Err())
	case <-c.closed:
		return "", ErrClosed
	}
	return c.pc.localDescription(), nil
}

// takeAnswer applies the answer to our pending offer.
func (c *Conn) takeAnswer(s Signal) error {
	desc, err := s.description()
	if err != nil {
		return err
	}
	c.negMu.Lock()
	err = c.applyAnswer(desc)
	var grant description
	if err == nil {
		grant = c.grantIfAsked()
	}
	c.negMu.Unlock()
	if grant.Type != "" {
		c.sendNegotiation(grant)
	}
	return err
}

// applyAnswer applies the answer to our pending offer; negMu is held.
func (c *Conn) applyAnswer(answer description) error {
	if c.pc.signalingState() != signalingHaveLocalOffer {
		return errNoPendingOffer
	}
	c.armRenegotiation()
	if err := c.pc.setRemoteDescription(answer); err != nil {
		return fmt.Errorf("%w: set remote answer: %v", ErrBadSignal, err)
	}
	return nil
}

// restartLoop restarts ICE on the offering side while it stays broken: after
// RestartDelay when disconnected (it often recovers alone), at once when
// failed, then with a doubling delay up to PeerTimeout.
func (c *Conn) restartLoop() {
	defer c.wg.Done()
	for {
		select {
		case <-c.iceBad:
		case <-c.closed:
			return
		}
		if role(c.role.Load()) != roleOfferer {
			continue
		}
		c.restartWhileBroken()
	}
}

func (c *Conn) restartWhileBroken() {
	delay := c.cfg.RestartDelay
	if c.iceNow() == iceFailed {
		delay = 0
	}
	for iceBroken(c.iceNow()) {
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-c.closed:
			t.Stop()
			return
		}
		if !iceBroken(c.iceNow()) {
			return
		}
		if err := c.Restart(); err != nil {
			c.log.Warn("mesh: ICE restart", "err", err)
		}
		delay = min(max(2*delay, c.cfg.RestartDelay), c.cfg.PeerTimeout)
	}
}

// iceNow returns the latest ICE connection state.
func (c *Conn) iceNow() iceState { return c.ice.Load().(iceState) }

func iceBroken(s iceState) bool {
	return s == iceDisconnected || s == iceFailed
}

func (r role) String() string {
	switch r {
	case roleOfferer:
		return "offering"
	case roleAnswerer:
		return "answering"
	}
	return "unnegotiated"
}
