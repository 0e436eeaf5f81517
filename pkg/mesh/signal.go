package mesh

import (
	"errors"
	"fmt"
)

// SignalKind names a signalling message exchanged between the two sides of a
// connection before (and, for ICE restarts, after) it is up.
type SignalKind string

// Signal kinds.
const (
	// SignalOffer carries the offerer's full SDP, ICE candidates included.
	// The first offer goes to Accept; later ones (ICE restarts) to HandleSignal.
	SignalOffer SignalKind = "offer"
	// SignalAnswer carries the answerer's full SDP, for HandleSignal.
	SignalAnswer SignalKind = "answer"
	// SignalRestart asks the offering side to restart ICE; the answering side
	// sends it because only the offerer creates offers (no glare).
	SignalRestart SignalKind = "restart"
)

// ErrBadSignal reports a signalling message that cannot be used.
var ErrBadSignal = errors.New("mesh: bad signal")

// errNoPendingOffer: an answer came while no offer of ours waits for one.
var errNoPendingOffer = fmt.Errorf("%w: answer without a pending offer", ErrBadSignal)

// Signal is one signalling message. It is plain JSON so that any carrier (the
// PeerJS server, a relay over the mesh) can forward it unchanged. SDP is not
// trickled: each offer and answer carries all candidates gathered, because
// pion's js build cannot serialise every candidate faithfully.
type Signal struct {
	Kind SignalKind `json:"kind"`
	SDP  string     `json:"sdp,omitempty"`
}

// description returns the session description carried by s.
func (s Signal) description() (description, error) {
	var t sdpType
	switch s.Kind {
	case SignalOffer:
		t = sdpOffer
	case SignalAnswer:
		t = sdpAnswer
	default:
		return description{}, fmt.Errorf("%w: kind %q has no SDP", ErrBadSignal, s.Kind)
	}
	if s.SDP == "" {
		return description{}, fmt.Errorf("%w: empty %s", ErrBadSignal, s.Kind)
	}
	return description{Type: t, SDP: s.SDP}, nil
}
