package room

import (
	"crypto/ed25519"
	"encoding/json"
	"log/slog"
	"time"

	"github.com/rooms-dev/rooms/pkg/mesh"
	"github.com/rooms-dev/rooms/pkg/state"
)

// Options configures a member. The zero value works against the public
// PeerJS server; set SignalURL to self-host first contact.
type Options struct {
	// SignalURL is the base URL of a PeerJS-protocol signalling server,
	// e.g. "http://127.0.0.1:9000/". Default DefaultSignalURL.
	SignalURL string
	// SignalKey is the PeerJS API key. Default "peerjs".
	SignalKey string
	// AppID separates rooms of different apps on a shared signalling
	// server: the id a room claims there is derived from AppID and the room
	// id, so two apps' "lobby" rooms never meet and the room name is not
	// readable on the server. Default "rooms".
	AppID string

	// Password, when set, closes the room to anyone who does not know it.
	// Every member derives a key from it (and AppID and the room id), seals
	// what it sends through the signalling server with that key, and the
	// doorman admits a newcomer only once it has proved the key over its new
	// connection. Every member of a room must use the same password; a
	// mismatch is refused with ErrWrongPassword. See docs/security.md.
	Password string

	// Identity is this member's Ed25519 key pair. Its public key is
	// registered with the membership and signs the member's knock, relayed
	// signals and changes (PeerInfo.Key shows its fingerprint). Default: a
	// new key pair per Room; give one to be recognisable across rooms.
	Identity ed25519.PrivateKey

	// ICEServers are the STUN/TURN servers for peer connections.
	ICEServers []mesh.ICEServer
	// LoopbackOnly keeps every peer connection on 127.0.0.1 (tests, local
	// tools; native builds only).
	LoopbackOnly bool

	// Reducers are the named actions of Dispatch, registered before the
	// member replays any change: a newcomer catching up must be able to run
	// every action in the log. Register adds more later.
	Reducers map[string]state.Reducer

	// Admit, on the doorman, decides whether a newcomer may enter: a non-nil
	// error refuses it with the error's text as the reason. It runs after
	// the built-in checks (capacity, duplicate participant id).
	Admit func(Knock) error
	// MaxMembers caps the room's size (the doorman refuses newcomers beyond
	// it). Default 50.
	MaxMembers int
	// MaxVoters caps the number of voting members; the rest are learners.
	// Default 5.
	MaxVoters int

	// Recovery says what a member does when the room has lost its quorum
	// (for example one of two voters vanished) and it finds itself alone:
	// RecoveryAuto (the default) re-forms the room from this member's state
	// after RecoveryTimeout, in a new epoch, and the signalling server
	// arbitrates between members that try at once; RecoveryNever keeps
	// strict Raft: the room waits until a majority is back.
	Recovery Recovery
	// RecoveryTimeout is how long a member must be alone and leaderless
	// before it re-forms the room. Default 10s.
	RecoveryTimeout time.Duration

	// Metadata is free-form JSON a joiner shows the doorman's Admit hook.
	Metadata json.RawMessage

	// JoinTimeout bounds Create and Join. Default 30s.
	JoinTimeout time.Duration
	// PeerTimeout is how long a member may be unreachable before the doorman
	// removes it from the room. Default 15s.
	PeerTimeout time.Duration
	// TickInterval is the raft tick. Default 50ms (election after ~0.5-1s).
	TickInterval time.Duration
	// KeepaliveInterval is the mesh ping interval. Default 1s.
	KeepaliveInterval time.Duration

	// OnEvent receives the room's events in order, from one goroutine. It may
	// call the Room's methods; a slow OnEvent delays later events but never
	// the room, and no event is dropped.
	OnEvent func(Event)

	// Logger receives diagnostics. Default: discard.
	Logger *slog.Logger
}

// Recovery is a quorum-loss policy; see Options.Recovery.
type Recovery string

// Quorum-loss policies.
const (
	RecoveryAuto  Recovery = "auto"
	RecoveryNever Recovery = "never"
)

// DefaultSignalURL is the free public PeerJS server.
const DefaultSignalURL = "https://0.peerjs.com/"

func (o Options) withDefaults() Options {
	if o.SignalURL == "" {
		o.SignalURL = DefaultSignalURL
	}
	if o.SignalKey == "" {
		o.SignalKey = "peerjs"
	}
	if o.AppID == "" {
		o.AppID = "rooms"
	}
	if o.MaxMembers <= 0 {
		o.MaxMembers = 50
	}
	if o.MaxVoters <= 0 {
		o.MaxVoters = 5
	}
	if o.JoinTimeout <= 0 {
		o.JoinTimeout = 30 * time.Second
	}
	if o.PeerTimeout <= 0 {
		o.PeerTimeout = 15 * time.Second
	}
	if o.TickInterval <= 0 {
		o.TickInterval = 50 * time.Millisecond
	}
	if o.Recovery == "" {
		o.Recovery = RecoveryAuto
	}
	if o.RecoveryTimeout <= 0 {
		o.RecoveryTimeout = 10 * time.Second
	}
	if o.KeepaliveInterval <= 0 {
		o.KeepaliveInterval = time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}
