//go:build !js

package mesh

import (
	"errors"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/webrtc/v4"
)

var errNoRollback = errors.New("mesh: pion cannot roll back a local offer")

// newPeerConnection creates a pion PeerConnection for cfg.
func newPeerConnection(cfg Config) (*pionPeer, error) {
	api, err := newAPI(cfg)
	if err != nil {
		return nil, err
	}
	servers := make([]webrtc.ICEServer, 0, len(cfg.ICEServers))
	for _, s := range cfg.ICEServers {
		servers = append(servers, webrtc.ICEServer{URLs: s.URLs, Username: s.Username, Credential: s.Credential})
	}
	pc, err := api.NewPeerConnection(webrtc.Configuration{ICEServers: servers})
	if err != nil {
		return nil, err
	}
	return &pionPeer{pc: pc}, nil
}

// newAPI returns the pion API for cfg. The default codecs are registered so
// that an application can add media tracks (PeerConnection().AddTrack), but
// the RTP interceptors pion installs by default (four goroutines per
// connection) are left out: most connections carry data only.
// LoopbackOnly keeps every candidate on 127.0.0.1: loopback candidates
// included, UDP over IPv4 only, mDNS off (it would multicast), and only the
// "lo" interface.
func newAPI(cfg Config) (*webrtc.API, error) {
	var media webrtc.MediaEngine
	if err := media.RegisterDefaultCodecs(); err != nil {
		return nil, err
	}
	opts := []func(*webrtc.API){
		webrtc.WithMediaEngine(&media),
		webrtc.WithInterceptorRegistry(&interceptor.Registry{}),
	}
	if cfg.LoopbackOnly {
		var se webrtc.SettingEngine
		se.SetIncludeLoopbackCandidate(true)
		se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
		se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
		se.SetInterfaceFilter(func(name string) bool { return name == "lo" })
		opts = append(opts, webrtc.WithSettingEngine(se))
	}
	return webrtc.NewAPI(opts...), nil
}

// pionPeer is a peerConnection over pion. pion calls handlers from its own
// goroutines, so they may block.
type pionPeer struct {
	pc *webrtc.PeerConnection
}

func (p *pionPeer) createDataChannel(opts channelOptions) (dataChannel, error) {
	negotiated, id := true, opts.id
	init := &webrtc.DataChannelInit{Ordered: &opts.reliable, Negotiated: &negotiated, ID: &id}
	if !opts.reliable {
		var retransmits uint16
		init.MaxRetransmits = &retransmits
	}
	dc, err := p.pc.CreateDataChannel(opts.label, init)
	if err != nil {
		return nil, err
	}
	return pionChannel{dc}, nil
}

func (p *pionPeer) createOffer(iceRestart bool) (description, error) {
	d, err := p.pc.CreateOffer(&webrtc.OfferOptions{ICERestart: iceRestart})
	return description{Type: sdpOffer, SDP: d.SDP}, err
}

func (p *pionPeer) createAnswer() (description, error) {
	d, err := p.pc.CreateAnswer(nil)
	return description{Type: sdpAnswer, SDP: d.SDP}, err
}

func (p *pionPeer) setLocalDescription(d description) (<-chan struct{}, error) {
	desc := webrtc.SessionDescription{Type: webrtc.NewSDPType(string(d.Type)), SDP: d.SDP}
	gathered := webrtc.GatheringCompletePromise(p.pc)
	if err := p.pc.SetLocalDescription(desc); err != nil {
		return nil, err
	}
	return gathered, nil
}

// rollback fails: pion v4 rejects the transition, and keeps the media ids
// CreateOffer assigned anyway.
func (p *pionPeer) rollback() error { return errNoRollback }

func (p *pionPeer) setRemoteDescription(d description) error {
	return p.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.NewSDPType(string(d.Type)), SDP: d.SDP})
}

func (p *pionPeer) localDescription() string  { return sdpOf(p.pc.LocalDescription()) }
func (p *pionPeer) remoteDescription() string { return sdpOf(p.pc.RemoteDescription()) }

func sdpOf(d *webrtc.SessionDescription) string {
	if d == nil {
		return ""
	}
	return d.SDP
}

func (p *pionPeer) signalingState() signalingState {
	return signalingState(p.pc.SignalingState().String())
}

func (p *pionPeer) onConnectionStateChange(f func(connectionState)) {
	p.pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) { f(connectionState(s.String())) })
}

func (p *pionPeer) onICEConnectionStateChange(f func(iceState)) {
	p.pc.OnICEConnectionStateChange(func(s webrtc.ICEConnectionState) { f(iceState(s.String())) })
}

func (p *pionPeer) onNegotiationNeeded(f func()) { p.pc.OnNegotiationNeeded(f) }

func (p *pionPeer) close() error { return p.pc.Close() }

// pionChannel is a dataChannel over pion, which delivers byte slices in
// order from one read loop per channel.
type pionChannel struct {
	dc *webrtc.DataChannel
}

func (c pionChannel) send(msg []byte) error  { return c.dc.Send(msg) }
func (c pionChannel) bufferedAmount() uint64 { return c.dc.BufferedAmount() }
func (c pionChannel) setBufferedAmountLowThreshold(n uint64) {
	c.dc.SetBufferedAmountLowThreshold(n)
}
func (c pionChannel) onBufferedAmountLow(f func()) { c.dc.OnBufferedAmountLow(f) }
func (c pionChannel) onOpen(f func())              { c.dc.OnOpen(f) }
func (c pionChannel) onMessage(f func([]byte)) {
	c.dc.OnMessage(func(m webrtc.DataChannelMessage) { f(m.Data) })
}
func (c pionChannel) onClose(f func()) { c.dc.OnClose(f) }
func (c pionChannel) isOpen() bool     { return c.dc.ReadyState() == webrtc.DataChannelStateOpen }
func (c pionChannel) label() string    { return c.dc.Label() }
