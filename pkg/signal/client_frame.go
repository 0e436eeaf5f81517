package signal

import (
	"encoding/json"
	"errors"
)

// invalidKeyMsg is the ERROR payload npm peer sends for a wrong key.
const invalidKeyMsg = "Invalid key provided"

// frameKind is what the client does with one incoming frame.
type frameKind int

const (
	frameIgnore    frameKind = iota // malformed, unknown type, or useless
	frameOpen                       // OPEN: a fresh registration
	frameRefused                    // ID-TAKEN, INVALID-KEY, ERROR: err says which
	frameRelay                      // a message for Messages()
	frameProbeEcho                  // our own probe, routed back to us
)

// frame is one decoded incoming frame.
type frame struct {
	kind   frameKind
	msg    Message // frameRelay
	err    error   // frameRefused
	nonce  string  // frameProbeEcho
	reason string  // frameIgnore, for the debug log
}

// probePayload marks a registration probe: an EXPIRE the client sends to
// its own id. PeerJS servers relay EXPIRE like OFFER (and never queue it for
// an absent id), so the echo proves that the server routes this id to this
// socket; no peer ever sees it.
type probePayload struct {
	Probe string `json:"roomsProbe"`
}

// probeMessage is the probe frame with the given nonce.
func probeMessage(self, nonce string) Message {
	p, _ := json.Marshal(probePayload{Probe: nonce}) // cannot fail
	return Message{Type: TypeExpire, Dst: self, Payload: p}
}

// parseFrame decodes one incoming frame for the client registered as self.
// It never panics and never fails: anything it cannot use is frameIgnore.
func parseFrame(data []byte, self string) frame {
	var m Message
	if err := json.Unmarshal(data, &m); err != nil {
		return frame{kind: frameIgnore, reason: "malformed JSON: " + err.Error()}
	}
	switch m.Type {
	case TypeOpen:
		return frame{kind: frameOpen}
	case TypeIDTaken:
		return frame{kind: frameRefused, err: ErrIDTaken}
	case TypeInvalidKey:
		return frame{kind: frameRefused, err: ErrInvalidKey}
	case TypeError:
		return frame{kind: frameRefused, err: errorFrame(m.Payload)}
	case TypeExpire:
		if nonce, ok := probeNonce(m, self); ok {
			return frame{kind: frameProbeEcho, nonce: nonce}
		}
		return relayFrame(m)
	case TypeOffer, TypeAnswer, TypeCandidate, TypeLeave:
		return relayFrame(m)
	}
	return frame{kind: frameIgnore, reason: "unknown type " + m.Type}
}

func relayFrame(m Message) frame {
	if m.Src == "" {
		// Without a sender nobody can answer it.
		return frame{kind: frameIgnore, reason: m.Type + " without src"}
	}
	return frame{kind: frameRelay, msg: m}
}

// probeNonce reports whether m is a probe sent with our id as source; those
// also come from an older socket of ours that was taken over, so they are
// never passed on, whatever their nonce.
func probeNonce(m Message, self string) (string, bool) {
	if m.Src != self || len(m.Payload) == 0 {
		return "", false
	}
	var p probePayload
	if json.Unmarshal(m.Payload, &p) != nil || p.Probe == "" {
		return "", false
	}
	return p.Probe, true
}

// errorFrame maps an ERROR payload {"msg": "..."} to a typed error.
func errorFrame(payload json.RawMessage) error {
	var p struct {
		Msg string `json:"msg"`
	}
	_ = json.Unmarshal(payload, &p) // a missing or odd payload leaves Msg empty
	if p.Msg == invalidKeyMsg {
		return ErrInvalidKey
	}
	if p.Msg == "" {
		p.Msg = "(no message)"
	}
	return &ServerError{Msg: p.Msg}
}

// permanent reports whether a refusal will not change by retrying.
func permanent(err error) bool {
	return errors.Is(err, ErrIDTaken) || errors.Is(err, ErrInvalidKey)
}
