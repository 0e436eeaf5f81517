package room

import (
	"encoding/json"
	"time"

	"github.com/rooms-dev/rooms/pkg/state"
)

// EventType names an event; the names are the JS API's.
type EventType string

// Event types.
const (
	EventStateUpdate   EventType = "state-update"   // a change was applied: Change, Patch, Version
	EventPeerJoin      EventType = "peer-join"      // Peer entered the room
	EventPeerLeave     EventType = "peer-leave"     // Peer left or was removed
	EventDoormanChange EventType = "doorman-change" // Doorman is the new doorman ("" while electing)
	EventMessage       EventType = "message"        // Peer sent Data outside the log
	EventError         EventType = "error"          // Err happened; the room goes on
	EventClosed        EventType = "closed"         // the room is closed for this member (Err says why, nil after Leave)
	EventRecovered     EventType = "recovered"      // quorum was lost; the room was re-formed (Epoch) from this member's state or rejoined
)

// Event is one thing that happened in the room, as this member saw it.
// Options.OnEvent receives events in order, from one goroutine.
type Event struct {
	Type EventType
	// Peer is the participant id the event is about (peer-join,
	// peer-leave, message).
	Peer string
	// Doorman is the participant id of the doorman (doorman-change).
	Doorman string
	// Change, Patch and Version describe a state-update: the change as
	// proposed, the patch it applied (an action's reducer output for
	// actions) and the document version after it.
	Change  *state.Change
	Patch   state.Patch
	Version uint64
	// Restored marks a state-update where a snapshot replaced the whole
	// document (a newcomer catching up, a member far behind): no patch leads
	// there, read the state instead. Change is nil then.
	Restored bool
	// Data is an ephemeral message's payload (message).
	Data json.RawMessage
	// Err is the error (error, closed).
	Err error
	// Epoch is the room's epoch after a re-formation (recovered).
	Epoch uint64
	// At is when this member saw the event.
	At time.Time
}

// PeerInfo describes one member of the room.
type PeerInfo struct {
	Participant string
	RaftID      uint64
	// Key is a short fingerprint of the member's Ed25519 public key (16 hex
	// digits of its SHA-256): the same for a member across rooms when it
	// reuses Options.Identity, so apps can show or pin identities.
	Key     string
	Voter   bool
	Doorman bool
	Self    bool
	// State is the mesh connection's state ("connected", ...); "self" for
	// this member.
	State string
	RTT   time.Duration
}
