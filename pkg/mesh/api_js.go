//go:build js && wasm

package mesh

import "github.com/pion/webrtc/v4"

// newAPI returns the pion API for cfg. In the browser, pion drives the page's
// RTCPeerConnection, which has no candidate filters: LoopbackOnly is ignored,
// and loopback-only tests use Chromium's flags instead (see doc.go).
func newAPI(Config) *webrtc.API {
	return webrtc.NewAPI()
}

// prepareChannel makes the browser deliver binary messages as ArrayBuffers.
// Firefox defaults to Blobs, which pion reads with an await before calling
// the message handler: messages could then overtake each other.
func prepareChannel(dc *webrtc.DataChannel) {
	dc.JSValue().Set("binaryType", "arraybuffer")
}
