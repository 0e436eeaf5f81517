package signal

import "encoding/json"

// MessageType is the "type" field of a PeerJS server protocol frame.
type MessageType = string

// Frame types of the PeerJS server protocol. Clients send OFFER, ANSWER,
// CANDIDATE, LEAVE and HEARTBEAT; the server sends OPEN, ID-TAKEN,
// INVALID-KEY, ERROR and EXPIRE, and relays the client types with Src set.
const (
	TypeOpen       MessageType = "OPEN"
	TypeIDTaken    MessageType = "ID-TAKEN"
	TypeInvalidKey MessageType = "INVALID-KEY"
	TypeError      MessageType = "ERROR"
	TypeExpire     MessageType = "EXPIRE"
	TypeLeave      MessageType = "LEAVE"
	TypeOffer      MessageType = "OFFER"
	TypeAnswer     MessageType = "ANSWER"
	TypeCandidate  MessageType = "CANDIDATE"
	TypeHeartbeat  MessageType = "HEARTBEAT"
)

// Message is one frame of the PeerJS server protocol, as JSON on the
// WebSocket. Payload is opaque to the server: it is relayed unchanged.
type Message struct {
	Type    MessageType     `json:"type"`
	Src     string          `json:"src,omitempty"`
	Dst     string          `json:"dst,omitempty"`
	Payload json.RawMessage `json:"payload,omitempty"`
}
