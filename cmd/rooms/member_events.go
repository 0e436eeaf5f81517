package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/rooms-dev/rooms/pkg/room"
	"github.com/rooms-dev/rooms/pkg/state"
)

// The stdout lines. Every line is one JSON object whose "event" names it;
// docs/cli.md is their manual.
type (
	readyLine struct {
		Event   string          `json:"event"`
		Self    string          `json:"self"`
		Doorman string          `json:"doorman"`
		Version uint64          `json:"version"`
		Peers   []peerInfo      `json:"peers"`
		State   json.RawMessage `json:"state"`
	}
	peerInfo struct {
		ID      string  `json:"id"`
		Voter   bool    `json:"voter"`
		Doorman bool    `json:"doorman"`
		Self    bool    `json:"self"`
		State   string  `json:"state"`
		RTT     float64 `json:"rttMs"`
	}
	updateLine struct {
		Event   string          `json:"event"`
		Version uint64          `json:"version"`
		Change  changeInfo      `json:"change"`
		State   json.RawMessage `json:"state"`
	}
	changeInfo struct {
		By       string          `json:"by,omitempty"`
		Seq      uint64          `json:"seq,omitempty"`
		Patch    state.Patch     `json:"patch,omitempty"`
		Action   string          `json:"action,omitempty"`
		Payload  json.RawMessage `json:"payload,omitempty"`
		Restored bool            `json:"restored,omitempty"`
	}
	peerLine struct {
		Event string `json:"event"`
		Peer  string `json:"peer"`
	}
	doormanLine struct {
		Event   string `json:"event"`
		Doorman string `json:"doorman"`
	}
	messageLine struct {
		Event string          `json:"event"`
		From  string          `json:"from"`
		Data  json.RawMessage `json:"data"`
	}
	errorLine struct {
		Event   string `json:"event"`
		Message string `json:"message"`
		Code    string `json:"code,omitempty"`
	}
	resultLine struct {
		Event   string          `json:"event"`
		Line    int             `json:"line"`
		OK      bool            `json:"ok"`
		Error   *string         `json:"error"`
		Code    string          `json:"code,omitempty"`
		Version uint64          `json:"version,omitempty"`
		State   json.RawMessage `json:"state,omitempty"`
		Peers   []peerInfo      `json:"peers,omitempty"`
	}
	closedLine struct {
		Event string  `json:"event"`
		Error *string `json:"error,omitempty"`
		Code  string  `json:"code,omitempty"`
	}
)

// errorCode is a stable, machine-readable name for an error's cause.
func errorCode(err error) string {
	codes := []struct {
		err  error
		code string
	}{
		{room.ErrRoomExists, "room-exists"}, {room.ErrRoomNotFound, "room-not-found"},
		{room.ErrWrongPassword, "wrong-password"}, {room.ErrRefused, "refused"}, {room.ErrClosed, "closed"}, {room.ErrTimeout, "timeout"},
		{state.ErrConflict, "conflict"}, {state.ErrMalformed, "malformed"}, {state.ErrTooLarge, "too-large"},
		{state.ErrUnknownAction, "unknown-action"}, {errBadLine, "bad-line"},
	}
	for _, c := range codes {
		if errors.Is(err, c.err) {
			return c.code
		}
	}
	return ""
}

// lineWriter writes one JSON object per line; its lock keeps lines whole
// whichever goroutine writes them.
type lineWriter struct {
	mu      sync.Mutex
	w       io.Writer
	buf     bytes.Buffer
	enc     *json.Encoder
	stopped bool
	err     error
}

func newLineWriter(w io.Writer) *lineWriter {
	lw := &lineWriter{w: w}
	lw.enc = json.NewEncoder(&lw.buf)
	lw.enc.SetEscapeHTML(false)
	return lw
}

func (lw *lineWriter) write(v any) {
	lw.mu.Lock()
	defer lw.mu.Unlock()
	if lw.stopped || lw.err != nil {
		return
	}
	lw.buf.Reset()
	if err := lw.enc.Encode(v); err != nil {
		lw.buf.Reset()
		_ = lw.enc.Encode(errorLine{Event: "error", Message: fmt.Sprintf("rooms: cannot encode a %T line: %v", v, err)})
	}
	_, lw.err = lw.w.Write(lw.buf.Bytes())
}

// stop makes later writes no-ops: the command has returned.
func (lw *lineWriter) stop() {
	lw.mu.Lock()
	lw.stopped = true
	lw.mu.Unlock()
}

// member turns a Room's events into stdout lines. Events reach it through a
// channel and are handled on serve's goroutine only, so its fields need no
// lock.
type member struct {
	out    *lineWriter
	events chan room.Event
	quit   chan struct{} // closed when the command returns: OnEvent stops blocking
	r      *room.Room

	// mirror is the document as of version, kept by replaying each event's
	// patch: events may lag the room, and each state-update line must show
	// the state right after its own change, not the room's latest.
	mirror  *state.Machine
	version uint64
	applied uint64 // changes applied to mirror: its own sequence numbers

	peers   map[string]bool   // other members, as last reported
	doorman string            // as last reported
	names   map[string]string // raft id (a change's Proposer) → participant
}

func newMember(out *lineWriter) *member {
	return &member{
		out: out, events: make(chan room.Event), quit: make(chan struct{}),
		peers: map[string]bool{}, names: map[string]string{},
	}
}

// onEvent is Options.OnEvent. Blocking here delays only later events (the
// room queues them), never the room.
func (m *member) onEvent(e room.Event) {
	select {
	case m.events <- e:
	case <-m.quit:
	}
}

// ready writes the ready line. Events queued before it (the catch-up of a
// joiner, the peers it met) are folded into it: state-updates up to its
// version and already-known peers are not reported again.
func (m *member) ready() error {
	m.settle()
	if err := m.resync(); err != nil {
		return err
	}
	peers := m.r.Peers()
	line := readyLine{Event: "ready", Self: m.r.Self(), Version: m.version, Peers: peerList(peers)}
	for _, p := range peers {
		m.names[strconv.FormatUint(p.RaftID, 10)] = p.Participant
		if !p.Self {
			m.peers[p.Participant] = true
		}
	}
	m.doorman = m.r.Doorman()
	line.Doorman = m.doorman
	line.State = m.state()
	m.out.write(line)
	return nil
}

// settleTimeout bounds settle.
const settleTimeout = 2 * time.Second

// settle waits until the room names its doorman and lists this member, so
// that the ready line is complete. room.Create returns before its member
// table and leader are filled in (they follow on the room's own goroutine),
// and no event says "this member is listed", so this polls; it returns at
// once when the room is already complete.
func (m *member) settle() {
	deadline := time.Now().Add(settleTimeout)
	for time.Now().Before(deadline) {
		if m.r.Doorman() != "" && slices.ContainsFunc(m.r.Peers(), func(p room.PeerInfo) bool { return p.Self }) {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func peerList(peers []room.PeerInfo) []peerInfo {
	out := []peerInfo{}
	for _, p := range peers {
		out = append(out, peerInfo{
			ID: p.Participant, Voter: p.Voter, Doorman: p.Doorman, Self: p.Self,
			State: p.State, RTT: float64(p.RTT.Microseconds()) / 1000,
		})
	}
	return out
}

// resync resets the mirror to the room's own copy of the state. The version
// is read on both sides of the state, so the pair is consistent.
func (m *member) resync() error {
	for {
		before := m.r.Version()
		doc, err := m.r.State()
		if err != nil {
			return fmt.Errorf("read state: %w", err)
		}
		if m.r.Version() != before {
			continue // a change landed in between: read again
		}
		mirror, err := state.New(doc)
		if err != nil {
			return fmt.Errorf("read state: %w", err)
		}
		m.mirror, m.version, m.applied = mirror, before, 0
		return nil
	}
}

func (m *member) state() json.RawMessage {
	doc, err := m.mirror.JSON()
	if err != nil {
		return json.RawMessage("null")
	}
	return doc
}

func (m *member) handle(e room.Event) {
	switch e.Type {
	case room.EventStateUpdate:
		m.stateUpdate(e)
	case room.EventPeerJoin:
		if !m.peers[e.Peer] && e.Peer != m.r.Self() {
			m.peers[e.Peer] = true
			m.out.write(peerLine{Event: "peer-join", Peer: e.Peer})
		}
	case room.EventPeerLeave:
		if m.peers[e.Peer] {
			delete(m.peers, e.Peer)
			m.out.write(peerLine{Event: "peer-leave", Peer: e.Peer})
		}
	case room.EventMessage:
		m.out.write(messageLine{Event: "message", From: e.Peer, Data: e.Data})
	case room.EventError:
		m.out.write(errorLine{Event: "error", Message: errText(e.Err), Code: errorCode(e.Err)})
	}
	m.reportDoorman()
}

// reportDoorman writes a doorman-change line when the doorman differs from
// the last one reported. It asks the room rather than trusting the event
// alone: a doorman-change seen before the member table can name nobody.
func (m *member) reportDoorman() {
	if d := m.r.Doorman(); d != m.doorman {
		m.doorman = d
		m.out.write(doormanLine{Event: "doorman-change", Doorman: d})
	}
}

func errText(err error) string {
	if err == nil {
		return "unknown error"
	}
	return err.Error()
}

// stateUpdate replays e on the mirror and reports it. A restored snapshot
// (no change) or a gap in versions resyncs the mirror from the room.
func (m *member) stateUpdate(e room.Event) {
	if e.Version <= m.version {
		return // already part of the state reported
	}
	restored := e.Restored || e.Change == nil || e.Change.Proposer == ""
	if restored || e.Version != m.version+1 || m.replay(e.Patch) != nil {
		if err := m.resync(); err != nil {
			m.out.write(errorLine{Event: "error", Message: err.Error()})
			return
		}
		m.out.write(updateLine{Event: "state-update", Version: m.version, Change: changeInfo{Restored: true}, State: m.state()})
		return
	}
	m.version = e.Version
	m.out.write(updateLine{Event: "state-update", Version: e.Version, Change: m.describe(e), State: m.state()})
}

func (m *member) replay(p state.Patch) error {
	if p == nil {
		p = state.Patch{}
	}
	m.applied++
	data, err := state.EncodeChange(state.Change{Proposer: "mirror", Seq: m.applied, Patch: p})
	if err != nil {
		return err
	}
	return m.mirror.ApplyEntry(m.applied, data).Err
}

func (m *member) describe(e room.Event) changeInfo {
	c := e.Change
	info := changeInfo{By: m.participant(c.Proposer), Seq: c.Seq, Patch: e.Patch}
	if info.Patch == nil {
		info.Patch = state.Patch{}
	}
	if c.Action != nil {
		info.Action, info.Payload = c.Action.Name, c.Action.Payload
	}
	return info
}

// participant names the member behind a change's Proposer (its raft id);
// the raw id when that member is no longer known.
func (m *member) participant(proposer string) string {
	if name, ok := m.names[proposer]; ok {
		return name
	}
	for _, p := range m.r.Peers() {
		m.names[strconv.FormatUint(p.RaftID, 10)] = p.Participant
	}
	if name, ok := m.names[proposer]; ok {
		return name
	}
	return proposer
}
