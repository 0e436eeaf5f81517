//go:build js && wasm

package main

import (
	"encoding/json"
	"syscall/js"

	"github.com/rooms-dev/rooms/pkg/mesh"
	"github.com/rooms-dev/rooms/pkg/room"
)

// links tracks which mesh connections the shim has been shown, so that it
// can attach the page's media streams to each new one. A member's
// connection is replaced when the link is re-made; the shim is told again.
type links struct {
	seen map[string]*mesh.Conn
}

// announce tells the shim about every connection it has not seen:
// hooks.link(participant, RTCPeerConnection). Renegotiation after tracks are
// added is the mesh's job.
func (l *links) announce(r *room.Room, hooks js.Value) {
	if l.seen == nil {
		l.seen = map[string]*mesh.Conn{}
	}
	current := r.Connections()
	for name, c := range current {
		if l.seen[name] == c {
			continue
		}
		l.seen[name] = c
		callHook(hooks, "link", name, peerConnectionValue(c))
	}
	for name := range l.seen {
		if _, ok := current[name]; !ok {
			delete(l.seen, name)
		}
	}
}

// raftJSON is room.raft in the shim.
type raftJSON struct {
	Term    float64 `json:"term"`
	Commit  float64 `json:"commit"`
	Applied float64 `json:"applied"`
	Leader  string  `json:"leader"`
}

func raftStatusJSON(r *room.Room) string {
	st := r.Raft()
	b, _ := json.Marshal(raftJSON{float64(st.Term), float64(st.Commit), float64(st.Applied), st.Leader})
	return string(b)
}

// callHook calls a shim hook if it exists; a throwing hook must not take the
// calling goroutine down.
func callHook(hooks js.Value, name string, args ...any) {
	defer func() { _ = recover() }()
	if hooks.Get(name).Type() == js.TypeFunction {
		hooks.Call(name, args...)
	}
}

// peerConnectionValue is the page's RTCPeerConnection behind c.
func peerConnectionValue(c *mesh.Conn) js.Value { return c.JSPeerConnection() }
