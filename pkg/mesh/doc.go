/*
Package mesh connects one member of a room to one other peer: a WebRTC
PeerConnection (pion/webrtc v4) carrying typed, versioned frames on two data
channels, with keepalive, RTT measurement, connection-state events and ICE
restart. A member holds one Conn per peer it talks to.

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
and carries every candidate in its SDP. pion's js build cannot serialise every
candidate faithfully (IPv6, TCP), and one message per step is also simpler to
relay. Only the offering side (the one that called Dial) ever makes offers,
so offers never collide.

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
the mesh's own (TypePing, TypePong, TypeBye); the layers above choose theirs
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

# Native and browser builds

The same code runs natively and in the browser (GOOS=js GOARCH=wasm), where
pion drives the page's RTCPeerConnection. The differences live in
api_native.go and api_js.go:

  - Natively, Config.LoopbackOnly makes candidates 127.0.0.1 only: loopback
    candidates included, mDNS off, UDP over IPv4, the "lo" interface only.
    Tests use it, and run in a network namespace that has only loopback. In
    the browser it is ignored: loopback in tests comes from Chromium's
    --allow-loopback-in-peer-connection --use-fake-ui-for-media-stream.
  - Natively the connection carries data only, so pion's default RTP
    interceptors are not installed. In the browser, media uses
    PeerConnection().JSValue() directly.
  - In the browser every pion call awaits a JS promise, so pion is only called
    from goroutines, never from inside a JS callback. pion's js build runs each
    message handler on a new goroutine; the handler only queues the message on
    a channel, which keeps the order (a goroutine runs until it blocks before
    the next JS event is taken, and blocked senders are served first in,
    first out). Channels are set to deliver ArrayBuffers, never Blobs, whose
    asynchronous reading could reorder messages.
  - Browsers throttle timers in hidden tabs (once a second, then once a
    minute), so a hidden page's pings slow down and its peers may find it
    unreachable; the room layer hands leadership away from hidden pages.
*/
package mesh
