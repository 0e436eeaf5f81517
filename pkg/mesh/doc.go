/*
Package mesh connects one member of a room to one other peer: a WebRTC
peer connection carrying typed, versioned frames on two data channels, with
keepalive, RTT measurement, connection-state events, ICE restart and
renegotiation for media. Natively the peer connection is pion/webrtc v4's;
in the browser it is the page's own RTCPeerConnection. A member holds one
Conn per peer it talks to.

The package knows nothing of raft, rooms or signalling servers. It is given a
function that carries Signal values to the remote side, and is fed the
remote's signals; the room layer carries them over the PeerJS server for the
first contact and relays them over the mesh afterwards.

# Setting up a connection

Creating a Conn and negotiating it are two steps, so that the caller can
register the Conn for incoming signals before the first one is sent:

	c, err := mesh.New(cfg, remoteID, send) // send: func(mesh.Signal) error
	peers[remoteID] = c                     // route the remote's signals here
	err = c.Dial(ctx)                       // offering side: sends an offer
	// or, on the answering side, with the offer received:
	err = c.Accept(ctx, offer)              // sends the answer
	// every later signal from the remote (the answer, ICE restarts):
	err = c.HandleSignal(sig)
	err = c.WaitReady(ctx)                  // both channels open

A Conn whose remote never answers stays StateConnecting: bound the wait with
WaitReady's ctx, then Close it.

Signals are not trickled: an offer or answer is sent once ICE gathering is
complete (or after Config.GatherTimeout, with the candidates found so far),
and carries every candidate in its SDP: one message per step is simpler to
relay than a trickle of candidates. Until the connection is ready, only the
offering side (the one that called Dial) makes offers, so offers never
collide; renegotiations after that are described under "Media and
renegotiation".

send should queue the signal and return; it must not wait for the remote to
act on it. Signals of one Conn must be handed to HandleSignal in the order
they were sent.

# Channels

Each connection has two data channels, negotiated out of band with fixed
stream ids (both sides create them; no OnDataChannel event is involved):

	rooms-reliable   id 0  ordered, reliable     Send: raft, control, big frames
	rooms-ephemeral  id 1  unordered, no retransmits  SendEphemeral: cursors, typing

The connection is ready (Ready, WaitReady, StateConnected) once both are
open. Each channel's "open" is counted once (sync.Once), since an open
channel can still report OnOpen later.

# Frames

Every data-channel message starts with a 4-byte header; chunks of a frame too
big for one message carry 12 more bytes. Integers are big-endian.

	 0        1        2        3
	+--------+--------+--------+--------+
	|version |  type  | flags  |   0    |  version = 1; flags bit 0 = chunk
	+--------+--------+--------+--------+
	|  payload ... (whole frame)        |  when flags = 0
	+-----------------------------------+

	+--------+--------+--------+--------+
	|   1    |  type  |   1    |   0    |
	+--------+--------+--------+--------+
	|        frame id (u32)             |  chosen by the sender, per frame
	+-----------------------------------+
	|        chunk index (u32)          |  0, 1, 2, ...
	+-----------------------------------+
	|        frame length (u32)         |  of the whole payload, in every chunk
	+-----------------------------------+
	|  part of the payload (≥ 1 byte)   |
	+-----------------------------------+

A message is at most MaxMessageSize (16 KiB) bytes, header included: the size
browsers and pion interoperate on. Frame types below TypeUserMin (0x10) are
the mesh's own (TypePing, TypePong, TypeBye, TypeNegotiate); the layers above choose theirs
from [TypeUserMin, 0xFF] (raft messages, room control, ephemeral messages,
signal relay...) and pass only the type and the payload. Any other version,
an unknown flag, a non-zero reserved byte or a truncated header is an error:
the message is dropped, counted in Stats.Dropped, logged and reported to
Config.OnBadFrame; the connection goes on. Nothing a peer sends can panic the
receiver (see FuzzDecodeFrame, FuzzReassembly).

# Chunking

Send splits a payload larger than MaxSinglePayload into chunks and the
receiver reassembles them. Chunks of different frames may interleave, so a
small raft message is not stuck behind a whole snapshot; the chunks of one frame
come in order because the channel is ordered. The receiver checks that each
chunk is the next one of its frame, with the same type and length, and that
the frame does not overrun its length; it caps a frame at
Config.MaxFrameSize (64 MiB by default) and the frames being reassembled at
Config.MaxPendingFrames (16). Buffers grow with the data actually received,
not with the length a peer announces. A broken sequence drops that frame. A
sender keeps at most its own MaxPendingFrames chunked frames in flight, so
peers configured alike never exceed each other's limit.
Ephemeral frames are never chunked: SendEphemeral refuses a payload that
does not fit one message.

# Backpressure

Send waits while the reliable channel's send buffer (bufferedAmount) holds
more than Config.MaxBufferedAmount (1 MiB), woken by the channel's
buffered-amount-low event at half that level, and gives up with
ErrSendTimeout after Config.SendTimeout. A big snapshot therefore occupies
about 1 MiB of memory in flight, not its whole size twice. SendEphemeral
does not wait: with a full buffer it fails with ErrBackpressure. Pings and
pongs skip the wait, so that two peers pushing snapshots at each other still
answer each other's pings.

Config.OnFrame runs on the connection's read goroutine: while it blocks,
nothing else is read from that peer, which is how a slow consumer slows the
sender down, but also how it starves the keepalive. Hand frames off quickly.

# Keepalive

Once ready, each side sends a ping with its clock's timestamp every
Config.KeepaliveInterval on the reliable channel; the other echoes it in a
pong. RTT returns the smoothed round trip (like TCP's SRTT, 1/8 weight to
each new sample); Stats also gives the latest. When no pong has come for
Config.PeerTimeout the state becomes StateUnreachable, whatever ICE says; it
goes back to StateConnected with the next pong. Layers above remove a peer
that stays unreachable.

# Connection states

Config.OnState receives each change, in order, from one goroutine per
connection: StateConnecting (initial, not reported), StateConnected,
StateDisconnected and StateFailed (from the PeerConnection's state),
StateUnreachable (keepalive), StateClosed (final). Close sends a TypeBye
frame and closes the PeerConnection; the remote closes on the bye, or when
its data channels close if the bye is lost. Close does not wait for the
connection's goroutines (so OnState and OnFrame may call it); Done is closed
when they have ended.

# ICE restart

When ICE goes "disconnected" and stays so for Config.RestartDelay, or goes
"failed", the offering side creates an offer with ICERestart set, waits for
gathering and sends it through the send function; the answering side answers
in HandleSignal, and the state returns to connected. Further attempts back
off, doubling up to PeerTimeout, while ICE stays broken. Restart starts one
by hand; on the answering side it sends a SignalRestart asking the offerer to
do so. If an earlier offer is still unanswered (its signal lost), a restart
sends that offer again. The data channels survive a restart.

# Media and renegotiation

The data channels need no renegotiation, but an application may send media
on the same peer connection: in the browser it adds tracks to
JSPeerConnection() (addTrack, removeTrack) and listens for the remote's with
addEventListener("track", ...); natively it uses PeerConnection() (AddTrack,
OnTrack). The Conn then renegotiates by itself: it listens to the peer
connection's negotiationneeded event and exchanges the new offer and answer
over its reliable channel, in TypeNegotiate frames whose payload is JSON

	{"type": "offer", "sdp": "..."}    {"type": "answer", "sdp": "..."}
	{"type": "request"}                {"type": "grant"}

Before the connection is ready, negotiation goes through signals as above;
an event from before the first exchange completed is dropped, since the
browser and pion fire it again once that exchange brings the connection
back to stable if anything is still missing.

The roles follow the "perfect negotiation" pattern: the side that dialed is
impolite, the side that accepted polite. The impolite side offers as soon as
its peer connection asks. The polite side first sends a request and offers
when granted; the impolite side grants at once when stable, or as soon as
its own pending offer is answered, and makes no offer of its own until it
has answered the polite side's. Offers therefore never cross, and nobody has
to roll back: unlike MDN's pattern, where the polite side rolls its offer
back when offers collide. That cannot work with pion v4 on the polite side:
it rejects a rollback of a local offer, and it assigns media ids when it
creates an offer, so a yielding pion peer would map the remote's sections
onto its own transceivers. Tracks added on both sides at once therefore
take two rounds, the impolite side's first. An offer that nonetheless
crosses an offer of the impolite side's (from an old or broken peer) is
ignored there, as in perfect negotiation.

ICE restarts stay on signals, since a broken ICE path is exactly when the
data channel cannot carry them. An ICE-restart offer that reaches the polite
side while its renegotiation offer is pending makes it roll that offer back
(the browser can; a pion peer cannot, and the restart then fails until the
connection is re-made). A TypeNegotiate frame that is not valid JSON, has an
unknown type or lacks its SDP, does not fit the receiver's role (a request
to the polite side, a grant to the impolite one), or carries an SDP the peer
connection refuses is dropped and reported like any malformed frame; a
stray answer (an offer resent by an ICE restart can be answered twice) is
only logged.

# Native and browser builds

The Conn drives a small internal interface over a peer connection and its
data channels (rtc.go), implemented by pion natively (rtc_pion.go) and by a
thin syscall/js binding of RTCPeerConnection and RTCDataChannel in the
browser (rtc_js.go), so that the browser build links none of pion's ICE,
DTLS and SCTP stacks. Config.ICEServers is the package's own ICEServer,
turned into pion's type natively and into an RTCIceServer in the browser.
The other differences:

  - Natively, Config.LoopbackOnly makes candidates 127.0.0.1 only: loopback
    candidates included, mDNS off, UDP over IPv4, the "lo" interface only.
    Tests use it, and run in a network namespace that has only loopback. In
    the browser it is ignored: loopback in tests comes from Chromium's
    --allow-loopback-in-peer-connection --use-fake-ui-for-media-stream.
  - Natively pion's default codecs are registered (for media) but not its
    default RTP interceptors, which would cost four goroutines per
    connection that most connections, carrying data only, do not need.
  - The browser binding adds its listeners with addEventListener, never by
    setting onX properties, so that the page can add its own (track...).
    A listener only copies what it needs out of the event (message bytes
    with js.CopyBytesToGo, a state string) and queues the Go handler; each
    object's handlers run in order on one goroutine, since nothing may
    block inside a JS callback. Promises are awaited on the calling
    goroutine, and closing the connection ends those waits (a closed
    RTCPeerConnection never settles them). Close removes and releases
    every listener. Channels are set to deliver ArrayBuffers, never Blobs,
    whose asynchronous reading could reorder messages.
  - In the browser, ICE gathering is complete when the gathering state
    says so and the local description holds candidates: after an ICE
    restart the state may still read "complete" from the previous round
    for a moment.
  - Browsers throttle timers in hidden tabs (once a second, then once a
    minute), so a hidden page's pings slow down and its peers may find it
    unreachable; the room layer hands leadership away from hidden pages.
*/
package mesh
