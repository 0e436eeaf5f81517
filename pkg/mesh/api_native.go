//go:build !js

package mesh

import (
	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/webrtc/v4"
)

// newAPI returns the pion API for cfg. The connection carries data only, so
// the RTP interceptors pion installs by default (four goroutines per
// connection) are left out. LoopbackOnly keeps every candidate on
// 127.0.0.1: loopback candidates included, UDP over IPv4 only, mDNS off (it
// would multicast), and only the "lo" interface.
func newAPI(cfg Config) *webrtc.API {
	opts := []func(*webrtc.API){webrtc.WithInterceptorRegistry(&interceptor.Registry{})}
	if cfg.LoopbackOnly {
		var se webrtc.SettingEngine
		se.SetIncludeLoopbackCandidate(true)
		se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
		se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
		se.SetInterfaceFilter(func(name string) bool { return name == "lo" })
		opts = append(opts, webrtc.WithSettingEngine(se))
	}
	return webrtc.NewAPI(opts...)
}

// prepareChannel has nothing to do natively: pion delivers byte slices, in
// order, from one read loop per channel.
func prepareChannel(*webrtc.DataChannel) {}
