//go:build !js

package mesh

import "github.com/pion/webrtc/v4"

// PeerConnection returns the underlying pion PeerConnection, for media: add
// tracks with AddTrack and the Conn renegotiates by itself (see doc.go);
// take the remote's with OnTrack. Its data channels and descriptions are the
// Conn's own: do not create offers or answers on it.
func (c *Conn) PeerConnection() *webrtc.PeerConnection { return c.pc.(*pionPeer).pc }
