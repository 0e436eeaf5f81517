//go:build !js

package room

import (
	"github.com/pion/webrtc/v4"

	"github.com/rooms-dev/rooms/pkg/mesh"
)

// openAdmissionLink creates the admission data channel on c's pion
// PeerConnection.
func openAdmissionLink(c *mesh.Conn, on admissionEvents) (admissionLink, error) {
	negotiated, id := true, uint16(admissionID)
	dc, err := c.PeerConnection().CreateDataChannel(admissionLabel, &webrtc.DataChannelInit{Negotiated: &negotiated, ID: &id})
	if err != nil {
		return nil, err
	}
	dc.OnOpen(on.opened)
	dc.OnClose(on.closed)
	dc.OnMessage(func(m webrtc.DataChannelMessage) { on.message(m.Data) })
	if dc.ReadyState() == webrtc.DataChannelStateOpen {
		on.opened()
	}
	return pionLink{dc}, nil
}

type pionLink struct{ dc *webrtc.DataChannel }

func (l pionLink) send(b []byte) error { return l.dc.Send(b) }
func (l pionLink) close()              { _ = l.dc.Close() }
