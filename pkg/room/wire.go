package room

import (
	"crypto/ed25519"
	"encoding/json"
	"fmt"

	"github.com/rooms-dev/rooms/pkg/mesh"
	"github.com/rooms-dev/rooms/pkg/signal"
)

// protocolVersion is carried by every knock; a doorman refuses a version it
// does not speak, with a reason that says so.
const protocolVersion = 1

// Mesh frame types of the room protocol.
const (
	frameRaft      mesh.FrameType = mesh.TypeUserMin + iota // a raft message (protobuf)
	frameRelay                                              // signalling relayed over the mesh (JSON relayFrame)
	frameEphemeral                                          // an app message outside the log (JSON ephemeralFrame)
	frameChain                                              // where the sender's chain of applied entries stands (fork.go)
)

// Knock is what a newcomer tells the doorman about itself. Admit hooks see it.
type Knock struct {
	Version     int    `json:"v"`
	Participant string `json:"participant"`
	// Metadata is free-form app data from the joiner (display name...).
	Metadata json.RawMessage `json:"metadata,omitempty"`
	// Key is the joiner's Ed25519 public key, registered with its
	// membership; KeyProof signs the DTLS fingerprints of the knock's offer
	// with it (identity.go), so nobody can knock with another's key or
	// swap the offer.
	Key      ed25519.PublicKey `json:"key,omitempty"`
	KeyProof []byte            `json:"keyProof,omitempty"`
}

// knockPayload is the payload of the OFFER a newcomer sends to the room id.
type knockPayload struct {
	Knock   Knock       `json:"knock"`
	Session string      `json:"session"`
	Signal  mesh.Signal `json:"signal"`
}

// answerPayload is the doorman's ANSWER to a knock: admitted with a raft id
// and the doorman's SDP answer, or refused with a reason.
type answerPayload struct {
	Admitted *admission `json:"admitted,omitempty"`
	Refused  string     `json:"refused,omitempty"`
	// Retry marks a refusal that says nothing about the newcomer (the
	// doorman is stepping down, for one): knock again shortly.
	Retry  bool        `json:"retry,omitempty"`
	Signal mesh.Signal `json:"signal"`
	// Session is the knock's session: a newcomer takes no answer to
	// another knock (an old sealed answer, replayed).
	Session string `json:"session,omitempty"`
	// Proof is the doorman's signature of an admission (identity.go),
	// which the newcomer checks once it knows the doorman's key.
	Proof []byte `json:"proof,omitempty"`
	// Pending says the doorman is still deciding (its Admit hook runs, or
	// the connection is being set up); it comes every pendingInterval
	// until the answer, so that a newcomer whose doorman went away knocks
	// again instead of waiting out its JoinTimeout.
	Pending bool `json:"pending,omitempty"`
}

type admission struct {
	RaftID    uint64 `json:"raftID"`
	DoormanID uint64 `json:"doormanID"`
}

// relayFrame carries a mesh signal between two members through the doorman.
// The doorman overwrites From with the member the frame came from, so a
// member cannot speak for another.
type relayFrame struct {
	From uint64 `json:"from"`
	To   uint64 `json:"to"`
	// Session identifies the connection the signal belongs to.
	Session string      `json:"session"`
	Signal  mesh.Signal `json:"signal"`
	// Sig is the sender's signature of the signal (identity.go).
	Sig []byte `json:"sig,omitempty"`
}

// ephemeralFrame is an app message outside the log.
type ephemeralFrame struct {
	Data json.RawMessage `json:"data"`
}

// memberInfo is stored with each raft member (raftnode.Member.Context).
type memberInfo struct {
	Participant string `json:"participant"`
	// Key is the member's Ed25519 public key.
	Key ed25519.PublicKey `json:"key,omitempty"`
}

func decodeMemberInfo(b []byte) (memberInfo, error) {
	var mi memberInfo
	if err := json.Unmarshal(b, &mi); err != nil {
		return mi, fmt.Errorf("%w: member info: %v", ErrBadMessage, err)
	}
	return mi, nil
}

// signalID is the id a room claims on the signalling server.
func signalID(appID, roomID string) string { return signal.RoomID(appID, roomID) }
