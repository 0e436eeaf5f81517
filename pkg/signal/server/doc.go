/*
Package server is a signalling server that speaks the PeerJS server protocol
(the protocol of the npm package "peer" and of the public PeerJS cloud
server). Rooms uses it for first contact only: a newcomer's knock to a
room's doorman and the doorman's answer. Browsers running the stock "peerjs"
client work against it unchanged, and so does the Rooms client in
package signal.

# Serving

A Server is an http.Handler. Its routes are relative to where it is mounted:

	GET /                  JSON description (as npm peer)
	GET /{key}/id          a fresh random id (a UUID, as text)
	GET /{key}/peers       401: peer discovery is not offered
	/peerjs?key=K&id=ID&token=T   the WebSocket

Serve it at the root, or under a prefix with http.StripPrefix; the PeerJS
client's "path" option is then that prefix:

	sig, err := server.New(server.Config{AllowOrigins: []string{"app.example.com"}})
	if err != nil { ... }
	defer sig.Close()
	mux := http.NewServeMux()
	mux.Handle("/signal/", http.StripPrefix("/signal", sig))
	hs := server.NewHTTPServer(":9000", mux) // header timeout against slowloris
	log.Fatal(hs.ListenAndServe())

	// in the page: new Peer({host: 'app.example.com', port: 9000, path: '/signal/'})

The command `rooms signal` does exactly this (see cmd/rooms and
docs/self-hosting.md). Use NewHTTPServer, or set ReadHeaderTimeout on your
own http.Server: a client that never finishes its request headers is
otherwise held forever.

# Protocol, and where it follows npm peer

The behaviour follows npm peer 1.0.2 (node_modules/peer/dist/index.cjs),
which the PeerJS clients are written against:

  - A socket with a free id gets OPEN. A socket with an id that is held
    and the same token takes the id over as a reconnect: it gets no OPEN,
    and the old socket stays open but receives nothing (its frames are
    dropped), so a client that does not know it was replaced does not start
    a reconnect fight. A different token gets ID-TAKEN
    ({"msg":"ID is taken"}) and the socket is closed.
  - Problems at connect time get ERROR with {"msg": ...} and a close; the
    texts are the Msg* constants (npm's own texts where npm has one, e.g.
    "Invalid key provided"). PeerJS clients treat ERROR as fatal, so every
    ERROR is followed by a close.
  - OFFER, ANSWER, CANDIDATE, LEAVE and EXPIRE frames are relayed to dst
    with src set by the server: a client can never send as another id.
    HEARTBEAT only keeps the socket alive. Unknown types and frames without
    dst are ignored (debug log); invalid JSON is ignored with a warning.
    LEAVE without dst gives the sender's id up, as in npm peer.
  - A frame for an id nobody holds is queued (except LEAVE and EXPIRE). If
    the id registers within ExpireTimeout (default 5 s) the queue is
    delivered right after OPEN; otherwise each sender gets one EXPIRE with
    src set to the absent id.
  - If the destination's socket is dead or cannot keep up, the sender gets
    LEAVE from it (npm's "Peer dead" path) and the id is freed.
  - No LEAVE is sent to anyone when a socket closes, as in npm peer: the
    server does not know who a client's peers are, and a PeerJS client may
    drop its server socket while keeping its data connections.
  - A socket that sends no frame for AliveTimeout (default 60 s; clients
    send HEARTBEAT every 5 s) is closed and its id freed.

# Allow-list

With Config.AllowRooms or Config.AllowID set, an id may be claimed only if
it is listed, AllowID accepts it, or this server (any instance, with Redis)
handed it out from GET /{key}/id within IssuedIDTTL. The last rule keeps
newcomers' throwaway ids possible: the PeerJS client fetches one when no id
is given, and the Rooms client should do the same on such servers. Rooms
derives the id it claims from the app id and the room id, so list those
derived ids, or decide in AllowID.

# Limits

Each limit sends a clear ERROR (or closes with a close status) and logs one
line with the client's id and address:

	MaxMessageBytes    64 KiB   ERROR "Message too large", close 1009
	MessagesPerSecond  50/s, burst MessageBurst 200; ERROR "Rate limit exceeded", close 1008
	MaxClientsPerIP    100      ERROR "Too many connections from your address"
	MaxClients         5000     ERROR "Server has reached its concurrent user limit"
	AllowOrigins       any      ERROR "Origin not allowed" (403 on HTTP routes)
	SendQueue          256      a client that does not read is closed
	QueuePerID         100      frames waiting for one absent id; more are dropped

Zero means the default, a negative value no limit. Behind a reverse proxy
set TrustForwardedFor so that per-address limits see real clients.

# Logs

Logs go to Config.Logger (log/slog). Info and Warn lines cover rejections
and limits; Debug covers every registration and every dropped frame.

# Scaling out with Redis

With Config.RedisURL (or Config.Redis) several instances behind a load
balancer act as one server. Redis holds the id registry: one hash per id
with token, owning instance and a generation, under a lease (IDLease,
default 30 s) that the owner refreshes, so the ids of a crashed instance are
freed after at most one lease; Close releases an instance's ids at once.
Each instance subscribes to its own channel. A frame for an id held on
another instance is published to that instance's channel; a frame for an
absent id is queued in a Redis list that the id's next registration takes
atomically (one Lua script each: claim+dequeue, lookup+publish-or-enqueue),
so the token rules, ID-TAKEN, queued delivery and EXPIRE hold across
instances. A reconnect on another instance notifies the old one, which
stops delivering to the replaced socket. Keys and channels are under
"<RedisPrefix>:<Key>:". Redis Cluster is not supported (the scripts touch
keys of several slots).

# Resources

An idle client costs about 18 KB on the server (the WebSocket's read and
write buffers and one goroutine), so 10,000 idle clients fit in about
180 MB. Run `make bench` for relay latency and throughput figures.
*/
package server
