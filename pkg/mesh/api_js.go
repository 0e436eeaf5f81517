//go:build js && wasm

package mesh

import "syscall/js"

// JSPeerConnection returns the page's RTCPeerConnection, for media: add
// tracks with addTrack and the Conn renegotiates by itself (see doc.go);
// listen for the remote's with addEventListener("track", ...). Its data
// channels and descriptions are the Conn's own: do not create offers or
// answers on it, nor assign its on... handler properties.
func (c *Conn) JSPeerConnection() js.Value { return c.pc.(*jsPeer).pc }
