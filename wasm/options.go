//go:build js && wasm

package main

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/rooms-dev/rooms/pkg/mesh"
	"github.com/rooms-dev/rooms/pkg/room"
)

// jsOptions is the options object as the shim encodes it (already checked
// and defaulted there; durations in milliseconds).
type jsOptions struct {
	SignalURL   string          `json:"signalURL"`
	Key         string          `json:"key"`
	AppID       string          `json:"appId"`
	Password    string          `json:"password"`
	Identity    string          `json:"identity"` // base64 Ed25519 seed
	ICEServers  []jsICEServer   `json:"iceServers"`
	MaxVoters   int             `json:"maxVoters"`
	MaxMembers  int             `json:"maxMembers"`
	Metadata    json.RawMessage `json:"metadata"`
	JoinTimeout float64         `json:"joinTimeout"`
	PeerTimeout float64         `json:"peerTimeout"`
	// UpdateTimeout bounds update, dispatch and read; the shim's concern,
	// carried here so the Go side owns every deadline.
	UpdateTimeout float64 `json:"updateTimeout"`
	Debug         bool    `json:"debug"`
}

type jsICEServer struct {
	URLs       []string `json:"urls"`
	Username   string   `json:"username"`
	Credential string   `json:"credential"`
}

// parseOptions decodes the shim's options into room.Options and the
// update deadline.
func parseOptions(raw string) (room.Options, time.Duration, error) {
	var o jsOptions
	if raw != "" {
		if err := json.Unmarshal([]byte(raw), &o); err != nil {
			return room.Options{}, 0, fmt.Errorf("%w: options: %v", errBadArgument, err)
		}
	}
	opts := room.Options{
		SignalURL: o.SignalURL, SignalKey: o.Key, AppID: o.AppID, Password: o.Password,
		MaxVoters: o.MaxVoters, MaxMembers: o.MaxMembers, Metadata: o.Metadata,
		JoinTimeout: millis(o.JoinTimeout), PeerTimeout: millis(o.PeerTimeout),
	}
	if o.Identity != "" {
		seed, err := base64.StdEncoding.DecodeString(o.Identity)
		if err != nil || len(seed) != ed25519.SeedSize {
			return room.Options{}, 0, fmt.Errorf("%w: options: identity must be a 32-byte Ed25519 seed", errBadArgument)
		}
		opts.Identity = ed25519.NewKeyFromSeed(seed)
	}
	for _, s := range o.ICEServers {
		opts.ICEServers = append(opts.ICEServers, mesh.ICEServer{URLs: s.URLs, Username: s.Username, Credential: s.Credential})
	}
	if o.Debug {
		opts.Logger = slog.Default()
	}
	update := millis(o.UpdateTimeout)
	if update <= 0 {
		update = 30 * time.Second
	}
	return opts, update, nil
}

func millis(ms float64) time.Duration { return time.Duration(ms * float64(time.Millisecond)) }
