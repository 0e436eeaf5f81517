//go:build !js

package signal

import (
	"net/http"

	"github.com/coder/websocket"
)

// dialOptions passes the configured HTTP client to the WebSocket dialer.
// Natively coder/websocket dials through it (proxies, TLS config, timeouts).
func dialOptions(hc *http.Client) *websocket.DialOptions {
	return &websocket.DialOptions{HTTPClient: hc}
}
