package mesh

// The peer connection and data channels a Conn drives, reduced to what it
// uses. Natively pion implements them (rtc_pion.go); in the browser a thin
// syscall/js binding of the page's RTCPeerConnection does (rtc_js.go), so
// the browser build carries none of pion's ICE, DTLS and SCTP stacks.
//
// Event handlers are set once, right after creation, before any event can
// matter. Implementations call them from their own goroutines, one event at
// a time per object and in order, never from inside a JS callback: a handler
// may block (a full queue), which only delays that object's later events.

// ICEServer is one STUN or TURN server, in the shape of the browser's
// RTCIceServer.
type ICEServer struct {
	// URLs are the server's "stun:", "turn:" or "turns:" URLs.
	URLs []string
	// Username and Credential authenticate to a TURN server.
	Username, Credential string
}

// sdpType is a session description's type, spelled as in JS and pion.
type sdpType string

const (
	sdpOffer  sdpType = "offer"
	sdpAnswer sdpType = "answer"
)

// description is a session description.
type description struct {
	Type sdpType
	SDP  string
}

// signalingState is RTCSignalingState, spelled as in JS and pion.
type signalingState string

const (
	signalingStable         signalingState = "stable"
	signalingHaveLocalOffer signalingState = "have-local-offer"
)

// connectionState is RTCPeerConnectionState, spelled as in JS and pion.
type connectionState string

const (
	connectionDisconnected connectionState = "disconnected"
	connectionFailed       connectionState = "failed"
	connectionClosed       connectionState = "closed"
)

// iceState is RTCIceConnectionState, spelled as in JS and pion.
type iceState string

const (
	iceDisconnected iceState = "disconnected"
	iceFailed       iceState = "failed"
)

// channelOptions are the options of a data channel negotiated out of band.
type channelOptions struct {
	label string
	id    uint16
	// reliable channels are ordered and retransmit; the others are
	// unordered and never retransmit.
	reliable bool
}

// peerConnection is what a Conn uses of an RTCPeerConnection.
type peerConnection interface {
	createDataChannel(opts channelOptions) (dataChannel, error)
	createOffer(iceRestart bool) (description, error)
	createAnswer() (description, error)
	// setLocalDescription applies d and returns a channel closed once ICE
	// gathering is complete for it (at once if nothing is left to gather).
	setLocalDescription(d description) (gathered <-chan struct{}, err error)
	setRemoteDescription(d description) error
	// rollback drops our pending local offer (pion cannot).
	rollback() error
	// localDescription and remoteDescription return the pending
	// description if any, else the current one ("" when none).
	localDescription() string
	remoteDescription() string
	signalingState() signalingState

	onConnectionStateChange(func(connectionState))
	onICEConnectionStateChange(func(iceState))
	onNegotiationNeeded(func())
	close() error
}

// dataChannel is what a Conn uses of an RTCDataChannel.
type dataChannel interface {
	// send queues one binary message.
	send(msg []byte) error
	bufferedAmount() uint64
	setBufferedAmountLowThreshold(n uint64)

	onBufferedAmountLow(func())
	onOpen(func())
	// onMessage receives each message's bytes, the handler's to keep.
	onMessage(func([]byte))
	onClose(func())
	isOpen() bool
	label() string
}
