//go:build js && wasm

package signal

import (
	"net/http"

	"github.com/coder/websocket"
)

// dialOptions ignores the HTTP client in the browser: there coder/websocket
// opens a browser WebSocket, which has no HTTPClient option.
func dialOptions(*http.Client) *websocket.DialOptions {
	return &websocket.DialOptions{}
}
