package signal

import "context"

// socket is one registration WebSocket. The PeerJS protocol is JSON in text
// messages, so that is all a socket carries. Natively it is coder/websocket
// (client_socket_native.go); in the browser it is a thin binding of the
// browser's WebSocket (client_socket_js.go), so that the wasm build links
// neither net/http nor crypto/tls.
//
// dialSocket, one per build, opens a socket to a ws:// or wss:// URL within
// ctx. Its incoming messages are limited to MaxFrameSize: a larger one fails
// read and drops the socket.
type socket interface {
	// read returns the next incoming message. It fails once the socket is
	// closed, or with ctx's error when ctx ends first.
	read(ctx context.Context) ([]byte, error)
	// write sends data as one text message.
	write(ctx context.Context, data []byte) error
	// close sends a normal closure and waits, for a bounded time, until the
	// server has answered it, so the server frees the id at once.
	close() error
	// closeNow drops the socket without waiting.
	closeNow()
}
