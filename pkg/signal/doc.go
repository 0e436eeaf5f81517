/*
Package signal is the client side of first contact: it holds an id on a
PeerJS-protocol signalling server (the npm `peer` server, the public PeerJS
cloud server, or ours in pkg/signal/server) and relays OFFER, ANSWER,
CANDIDATE and LEAVE frames to other ids. Rooms uses it only until a newcomer
is admitted; after that, signalling goes over the mesh.

The same code runs natively and in the browser (GOOS=js GOARCH=wasm); only
the transport differs, behind a small internal interface with one file per
build. Natively the WebSocket is github.com/coder/websocket and ids are
fetched with net/http, through ClientConfig.HTTPClient. In the browser the
package binds the browser's own WebSocket and fetch with syscall/js, so the
wasm binary links neither net/http nor crypto/tls, crypto/x509, regexp or
net/url (about 1.3 MB of brotli-compressed wasm: raw wasm keeps every
exported method of every reachable type, since the protobuf runtime of etcd
raft defeats the linker's dead-method elimination). There
ClientConfig.HTTPClient has a placeholder type that only nil fits. The
package imports neither the server nor Redis, for the same reason.

# Usage

	c, err := signal.Dial(ctx, signal.ClientConfig{
		URL:   "https://0.peerjs.com/",
		ID:    roomID,    // empty: the server hands out a fresh id
		Token: roomToken, // empty: random; the secret that owns the id
	})
	switch {
	case errors.Is(err, signal.ErrIDTaken): // someone else holds the id
	case err != nil: // network, ErrInvalidKey, *ServerError, ...
	}
	defer c.Close()
	err = c.Send(ctx, signal.Message{Type: signal.TypeOffer, Dst: other, Payload: sdp})
	for m := range c.Messages() { // closed when the client stops
		// m.Src is stamped by the server. m.Type == TypeExpire means a
		// message to m.Src expired: nobody holds that id.
	}

Events reports reconnects; Done and Err report the end.

# Protocol

Dial opens a WebSocket at {URL}peerjs?key=K&id=ID&token=T (https gives wss).
The server answers OPEN for a fresh registration, ID-TAKEN if the id is held
with another token, or ERROR ("Invalid key provided" becomes ErrInvalidKey,
anything else a *ServerError). The client sends HEARTBEAT every 5 s; servers
close sockets that stay silent (npm peer: 60 s). A message to an absent id
is queued by the server and answered with EXPIRE (Src = the absent id) after
about 5 s; it is delivered if the id registers before then.

# Takeover and the registration probe

A second connection with the same id and the same token replaces the first.
This is how a new doorman takes a room id over while the old doorman's dead
socket may still be registered, and how a client reconnects. The npm server
swaps the socket silently: it sends no OPEN, and the old socket stays open
but receives nothing. So silence cannot confirm a takeover, and waiting for
a grace period would be a guess. Instead, right after connecting, the client
sends a probe: an EXPIRE frame addressed to its own id with a random nonce.
Servers relay EXPIRE like any message (and never queue it for an absent id),
so the echo arriving on this socket proves the server now routes the id
here. A registration counts as confirmed on OPEN or on that echo, whichever
comes first; ID-TAKEN or ERROR before it is a refusal.

The client keeps one probe in flight, renewed with each heartbeat. If a
probe goes unanswered for three heartbeat intervals (and at least 2 s) on a
server that has echoed before, while the client was free to read, another
socket has taken the id over: the client stops with ErrSuperseded. It does
not reconnect, since that would steal the id back from the new holder.

Right after connecting the client also sends a HEARTBEAT: on npm peer a
takeover inherits the old socket's last-ping time, and a new doorman must
not be dropped by the alive timeout before its first tick.

# Reconnects

When the socket drops, the client emits EventReconnecting and reconnects
with the same id and token, with exponential backoff (250 ms doubling to
10 s, jittered to between half and all of it), until it succeeds
(EventReconnected), the server refuses for good (ErrIDTaken or
ErrInvalidKey: the client stops with that error), or Close. Send waits for
the new connection or its context meanwhile. Dial itself makes one attempt.

# Backpressure

Messages has a bounded buffer (ClientConfig.MessageBuffer). When it is full
the client stops reading the socket until the caller catches up; nothing is
dropped, and heartbeats go on, so the registration stays alive. The server
then buffers, and may disconnect a client that stays behind too long (the
client then reconnects; messages the server dropped are lost there, as with
any PeerJS client).

# Hostile input

Incoming frames larger than MaxFrameSize drop the socket (and the client
reconnects). Malformed JSON, unknown types and relayed frames without src are
ignored and logged at debug level; ERROR/ID-TAKEN after a registration was
confirmed become EventServerError. Send refuses control frames, and frames
without Dst (a LEAVE without dst would make npm peer forget our id), with
ErrInvalidMessage; the server stamps Src, so the client never sets it.
*/
package signal
