//go:build js && wasm

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"syscall/js"
	"time"

	"github.com/rooms-dev/rooms/pkg/room"
	"github.com/rooms-dev/rooms/pkg/state"
)

// jsCreate is __rooms.create(participant, roomID, initialJSON, optionsJSON, hooks).
func jsCreate(_ js.Value, args []js.Value) any {
	s, err := stringArgs("create", args, 4)
	if err != nil {
		return rejected(err)
	}
	if len(args) < 5 || args[4].Type() != js.TypeObject {
		return rejected(fmt.Errorf("%w: create: hooks object missing", errBadArgument))
	}
	return start(args[4], s[3], func(ctx context.Context, opts room.Options) (*room.Room, error) {
		return room.Create(ctx, s[0], s[1], json.RawMessage(s[2]), opts)
	})
}

// jsJoin is __rooms.join(participant, roomID, optionsJSON, hooks).
func jsJoin(_ js.Value, args []js.Value) any {
	s, err := stringArgs("join", args, 3)
	if err != nil {
		return rejected(err)
	}
	if len(args) < 4 || args[3].Type() != js.TypeObject {
		return rejected(fmt.Errorf("%w: join: hooks object missing", errBadArgument))
	}
	return start(args[3], s[2], func(ctx context.Context, opts room.Options) (*room.Room, error) {
		return room.Join(ctx, s[0], s[1], opts)
	})
}

// member is one room of the page as this bridge sees it.
type member struct {
	r       *room.Room
	hooks   js.Value
	timeout time.Duration // for update, dispatch, read

	mu    sync.Mutex
	names map[string]string // raft id → participant, for event proposers
	funcs []js.Func
}

// start opens a room (create or join) in a goroutine and resolves with
// the handle and the state the member starts from.
func start(hooks js.Value, rawOpts string, open func(context.Context, room.Options) (*room.Room, error)) js.Value {
	opts, timeout, err := parseOptions(rawOpts)
	if err != nil {
		return rejected(err)
	}
	m := &member{hooks: hooks, timeout: timeout, names: map[string]string{}}
	if hooks.Get("admit").Type() == js.TypeFunction {
		joinTimeout := opts.JoinTimeout
		if joinTimeout <= 0 {
			joinTimeout = 30 * time.Second
		}
		opts.Admit = admitHook(hooks, joinTimeout)
	}
	ready := make(chan struct{})
	opts.OnEvent = func(e room.Event) {
		<-ready // m.r is set before any event is handled
		m.deliver(e)
	}
	return promise(func() (any, error) {
		r, err := open(context.Background(), opts)
		if err != nil {
			close(ready)
			return nil, err
		}
		m.r = r
		awaitMembers(r)
		close(ready)
		go m.watchPeers()
		o := js.Global().Get("Object").New()
		o.Set("handle", m.handle())
		whole, version := m.snapshot()
		o.Set("state", string(whole))
		o.Set("version", float64(version))
		o.Set("peers", m.peersJSON())
		o.Set("doorman", r.Doorman())
		o.Set("self", r.Self())
		o.Set("raft", raftStatusJSON(r))
		return o, nil
	})
}

// awaitMembers waits (briefly) until r knows its member table and doorman:
// room.Create returns before its member table is first refreshed, and a
// ready Room should list itself in room.peers. There is no event for it,
// hence the poll; a room that stays without a doorman is reported as it is.
func awaitMembers(r *room.Room) {
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		if r.Doorman() != "" && slices.ContainsFunc(r.Peers(), func(p room.PeerInfo) bool { return p.Self }) {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// watchPeers refreshes the shim's view of the room four times a second
// while the room is open: voter promotions, connection states, RTTs and the
// raft indexes change without an event, and new connections need the page's
// media. Only what changed is sent.
func (m *member) watchPeers() {
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	lastPeers, lastRaft := "", ""
	var l links
	for {
		select {
		case <-m.r.Done():
			return
		case <-t.C:
		}
		if peers := m.peersJSON(); peers != lastPeers {
			lastPeers = peers
			body, _ := json.Marshal(map[string]any{"doorman": m.r.Doorman(), "peers": json.RawMessage(peers)})
			callHook(m.hooks, "event", "peers", string(body))
		}
		if raft := raftStatusJSON(m.r); raft != lastRaft {
			lastRaft = raft
			callHook(m.hooks, "event", "raft", raft)
		}
		l.announce(m.r, m.hooks)
	}
}

// snapshot is the state and its version. On wasm nothing runs between the
// two reads (no preemption, and neither blocks), so they match.
func (m *member) snapshot() (json.RawMessage, uint64) {
	whole, _ := m.r.State()
	return whole, m.r.Version()
}

// peerJSON is how the shim sees a member.
type peerJSON struct {
	ID      string  `json:"id"`
	Voter   bool    `json:"voter"`
	Doorman bool    `json:"doorman"`
	Self    bool    `json:"self"`
	State   string  `json:"state"`
	RTT     float64 `json:"rtt"` // milliseconds
	Key     string  `json:"key"` // fingerprint of the member's public key
}

func (m *member) peersJSON() string {
	peers := m.r.Peers()
	out := make([]peerJSON, 0, len(peers))
	m.mu.Lock()
	for _, p := range peers {
		m.names[fmt.Sprint(p.RaftID)] = p.Participant
		out = append(out, peerJSON{p.Participant, p.Voter, p.Doorman, p.Self, p.State, float64(p.RTT) / float64(time.Millisecond), p.Key})
	}
	m.mu.Unlock()
	b, _ := json.Marshal(out)
	return string(b)
}

// participant names the proposer of a change (a raft id) when known.
func (m *member) participant(raftID string) string {
	m.mu.Lock()
	name, ok := m.names[raftID]
	m.mu.Unlock()
	if !ok {
		m.peersJSON()
		m.mu.Lock()
		name = m.names[raftID]
		m.mu.Unlock()
	}
	return name
}

// fn makes a js.Func that lives as long as the member.
func (m *member) fn(f func(args []js.Value) any) js.Func {
	jf := js.FuncOf(func(_ js.Value, args []js.Value) any { return f(args) })
	m.mu.Lock()
	m.funcs = append(m.funcs, jf)
	m.mu.Unlock()
	return jf
}

// release frees the handle's functions once the room is closed and every
// event has been delivered.
func (m *member) release() {
	m.mu.Lock()
	funcs := m.funcs
	m.funcs = nil
	m.mu.Unlock()
	for _, f := range funcs {
		f.Release()
	}
}

// handle is the object the shim drives a room with:
//
//	update(patchJSON) → Promise<version>
//	dispatch(name, payloadJSON) → Promise<version>
//	register(name, fn) → undefined, or an error object (fn: see jsReducer)
//	read() → Promise<version>   (after every change committed before the call)
//	snapshot() → Promise<{state, version}>
//	send(to, dataJSON) → Promise<void>   (to "" = everyone)
//	leave() → Promise<void>
//	handOver() → Promise<void>   (a doorman makes another voter the doorman)
func (m *member) handle() js.Value {
	h := js.Global().Get("Object").New()
	h.Set("update", m.fn(m.jsUpdate))
	h.Set("dispatch", m.fn(m.jsDispatch))
	h.Set("register", m.fn(m.jsRegister))
	h.Set("read", m.fn(m.jsRead))
	h.Set("snapshot", m.fn(m.jsSnapshot))
	h.Set("send", m.fn(m.jsSend))
	h.Set("leave", m.fn(m.jsLeave))
	h.Set("handOver", m.fn(m.jsHandOver))
	return h
}

func (m *member) jsUpdate(args []js.Value) any {
	s, err := stringArgs("update", args, 1)
	if err != nil {
		return rejected(err)
	}
	return promise(func() (any, error) {
		patch, err := state.ParsePatch([]byte(s[0]))
		if err != nil {
			return nil, err
		}
		ctx, cancel := context.WithTimeout(context.Background(), m.timeout)
		defer cancel()
		v, err := m.r.Update(ctx, patch)
		return float64(v), err
	})
}

func (m *member) jsDispatch(args []js.Value) any {
	s, err := stringArgs("dispatch", args, 2)
	if err != nil {
		return rejected(err)
	}
	return promise(func() (any, error) {
		if !json.Valid([]byte(s[1])) {
			return nil, fmt.Errorf("%w: dispatch %s: payload is not JSON", errBadArgument, s[0])
		}
		ctx, cancel := context.WithTimeout(context.Background(), m.timeout)
		defer cancel()
		v, err := m.r.Dispatch(ctx, s[0], json.RawMessage(s[1]))
		return float64(v), err
	})
}

// jsRegister is synchronous: the reducer must be in place before the next
// dispatch. Register takes the state machine's lock, which no parked
// goroutine holds except while a reducer runs; the shim refuses register
// calls from inside a reducer.
func (m *member) jsRegister(args []js.Value) any {
	if len(args) < 2 || args[0].Type() != js.TypeString || args[1].Type() != js.TypeFunction {
		// A panic here would end the page's Go runtime: answer with the error.
		return errorValue(fmt.Errorf("%w: register(name, fn): name must be a string and fn a function", errBadArgument))
	}
	m.r.Register(args[0].String(), jsReducer{fn: args[1]})
	return nil
}

func (m *member) jsRead([]js.Value) any {
	return promise(func() (any, error) {
		ctx, cancel := context.WithTimeout(context.Background(), m.timeout)
		defer cancel()
		if _, err := m.r.Read(ctx); err != nil {
			return nil, err
		}
		return float64(m.r.Version()), nil
	})
}

func (m *member) jsSnapshot([]js.Value) any {
	return promise(func() (any, error) {
		whole, version := m.snapshot()
		o := js.Global().Get("Object").New()
		o.Set("state", string(whole))
		o.Set("version", float64(version))
		return o, nil
	})
}

func (m *member) jsSend(args []js.Value) any {
	s, err := stringArgs("send", args, 2)
	if err != nil {
		return rejected(err)
	}
	return promise(func() (any, error) {
		return nil, m.r.Send(s[0], json.RawMessage(s[1]))
	})
}

func (m *member) jsHandOver([]js.Value) any {
	return promise(func() (any, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return nil, m.r.HandOver(ctx)
	})
}

func (m *member) jsLeave([]js.Value) any {
	return promise(func() (any, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return nil, m.r.Leave(ctx)
	})
}
