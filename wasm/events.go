//go:build js && wasm

package main

import (
	"encoding/json"
	"fmt"

	"github.com/rooms-dev/rooms/pkg/room"
)

// stateUpdateJSON is a state-update event for the shim: the patch to apply
// to its mirror, or (after a snapshot replaced the document) the whole
// state in State.
type stateUpdateJSON struct {
	Version  uint64          `json:"version"`
	Proposer string          `json:"proposer,omitempty"` // participant id, when known
	Seq      uint64          `json:"seq,omitempty"`
	Patch    json.RawMessage `json:"patch,omitempty"`
	Action   *actionJSON     `json:"action,omitempty"`
	State    json.RawMessage `json:"state,omitempty"`
}

type actionJSON struct {
	Name    string          `json:"name"`
	Payload json.RawMessage `json:"payload"`
}

// deliver hands one event to the shim, on the room's event goroutine.
func (m *member) deliver(e room.Event) {
	if m.r == nil { // Create or Join failed; nobody holds a handle
		return
	}
	body, err := m.eventJSON(e)
	if err != nil {
		body, _ = json.Marshal(map[string]string{"message": fmt.Sprintf("rooms: event %s: %v", e.Type, err)})
		e.Type = room.EventError
	}
	func() {
		// A throwing listener must not take the event goroutine down.
		defer func() { _ = recover() }()
		m.hooks.Call("event", string(e.Type), string(body))
	}()
	if e.Type == room.EventClosed {
		m.release()
	}
}

// eventJSON encodes an event's details for the shim.
func (m *member) eventJSON(e room.Event) ([]byte, error) {
	switch e.Type {
	case room.EventStateUpdate:
		return m.stateUpdate(e)
	case room.EventPeerJoin, room.EventPeerLeave, room.EventDoormanChange:
		return json.Marshal(map[string]any{
			"peer": e.Peer, "doorman": m.r.Doorman(), "peers": json.RawMessage(m.peersJSON()),
		})
	case room.EventMessage:
		return json.Marshal(map[string]any{"peer": e.Peer, "data": e.Data})
	case room.EventError, room.EventClosed:
		o := map[string]any{"message": nil}
		if e.Err != nil {
			o["message"], o["kind"] = e.Err.Error(), errorKind(e.Err)
		}
		return json.Marshal(o)
	}
	return []byte("{}"), nil
}

func (m *member) stateUpdate(e room.Event) ([]byte, error) {
	u := stateUpdateJSON{Version: e.Version}
	if e.Restored || e.Change == nil || e.Change.Proposer == "" {
		// A restored snapshot: no patch leads there, send the document.
		// The version read with it may be ahead of e.Version; the shim
		// skips the events it already has.
		var v uint64
		u.State, v = m.snapshot()
		u.Version = v
		return json.Marshal(u)
	}
	patch, err := json.Marshal(e.Patch)
	if err != nil {
		return nil, err
	}
	u.Patch, u.Seq = patch, e.Change.Seq
	u.Proposer = m.participant(e.Change.Proposer)
	if a := e.Change.Action; a != nil {
		u.Action = &actionJSON{Name: a.Name, Payload: a.Payload}
		if len(a.Payload) == 0 {
			u.Action.Payload = json.RawMessage("null")
		}
	}
	return json.Marshal(u)
}
