package room

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"github.com/rooms-dev/rooms/pkg/mesh"
	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// peer is this member's connection to another member. Its raft id is fixed
// when the connection is made (for a newcomer's knock, when the doorman's
// answer arrives): every raft frame on the connection must come from it.
type peer struct {
	id      atomic.Uint64
	session string // chosen by the dialing side; tells a new connection from an ICE restart
	conn    *mesh.Conn
	out     chan outbound
	done    chan struct{}
}

type outbound struct {
	wire   []byte
	to     uint64
	isSnap bool
}

// raftQueue bounds the raft messages waiting for one peer's connection;
// beyond it messages are dropped and the peer reported unreachable, which
// raft handles by probing instead of streaming.
const raftQueue = 1024

func (p *peer) close() {
	select {
	case <-p.done:
	default:
		close(p.done)
	}
	_ = p.conn.Close()
}

// newPeer creates the connection to member id (0 while unknown) and starts
// its writer. sendSignal carries the connection's signalling.
func (r *Room) newPeer(id uint64, session string, sendSignal func(mesh.Signal) error) (*peer, error) {
	p := &peer{session: session, out: make(chan outbound, raftQueue), done: make(chan struct{})}
	p.id.Store(id)
	cfg := mesh.Config{
		ICEServers: r.opts.ICEServers, LoopbackOnly: r.opts.LoopbackOnly,
		KeepaliveInterval: r.opts.KeepaliveInterval, PeerTimeout: r.opts.PeerTimeout,
		Logger:     r.log,
		OnFrame:    func(f mesh.Frame) { r.onFrame(p, f) },
		OnState:    func(_ string, s mesh.State) { r.onPeerState(p, s) },
		OnBadFrame: func(_ string, err error) { r.misbehaved(p.id.Load(), "malformed frame", err) },
	}
	conn, err := mesh.New(cfg, peerName(id), sendSignal)
	if err != nil {
		return nil, err
	}
	p.conn = conn
	r.wg.Go(func() { r.writeRaft(p) })
	return p, nil
}

// writeRaft sends queued raft messages in order; a slow connection delays
// only its own peer, never the raft loop.
func (r *Room) writeRaft(p *peer) {
	for {
		select {
		case m := <-p.out:
			err := p.conn.Send(frameRaft, m.wire)
			if n := r.node.Load(); n != nil {
				if m.isSnap {
					n.ReportSnapshot(m.to, err == nil)
				} else if err != nil {
					n.ReportUnreachable(m.to)
				}
			}
		case <-p.done:
			return
		case <-r.stop:
			return
		}
	}
}

// sendRaft is the raft transport. It runs on the raft goroutine, so it
// never blocks and never calls the node synchronously.
func (r *Room) sendRaft(msgs []*pb.Message) {
	hold := r.hooks.holdRaft.Load()
	for _, m := range msgs {
		to := m.GetTo()
		if hold != nil && (*hold)(to) {
			continue
		}
		wire, err := proto.Marshal(m)
		if err != nil {
			r.log.Error("room: marshal raft message", "err", err)
			continue
		}
		r.mu.Lock()
		p := r.peers[to]
		r.mu.Unlock()
		delivered := false
		if p != nil {
			select {
			case p.out <- outbound{wire: wire, to: to, isSnap: m.GetType() == pb.MsgSnap}:
				delivered = true
			default:
			}
		}
		if !delivered {
			go r.reportUnreachable(to, m.GetType() == pb.MsgSnap)
		}
	}
}

func (r *Room) reportUnreachable(id uint64, snap bool) {
	if n := r.node.Load(); n != nil {
		if snap {
			n.ReportSnapshot(id, false)
		}
		n.ReportUnreachable(id)
	}
}

// onFrame handles a frame from peer p, on p's connection goroutine.
func (r *Room) onFrame(p *peer, f mesh.Frame) {
	from := p.id.Load()
	switch f.Type {
	case frameRaft:
		r.onRaftFrame(from, f.Payload)
	case frameChain:
		r.onChainFrame(from, f.Payload)
	case frameRelay:
		var rf relayFrame
		if err := json.Unmarshal(f.Payload, &rf); err != nil {
			r.misbehaved(from, "bad relay frame", err)
			return
		}
		r.onRelay(from, rf)
	case frameEphemeral:
		var ef ephemeralFrame
		if err := json.Unmarshal(f.Payload, &ef); err != nil {
			r.misbehaved(from, "bad ephemeral frame", err)
			return
		}
		r.mu.Lock()
		name := r.members[from].Participant
		r.mu.Unlock()
		if name != "" {
			r.emit(Event{Type: EventMessage, Peer: name, Data: ef.Data})
		}
	default:
		r.misbehaved(from, "unknown frame type", fmt.Errorf("type %#x", f.Type))
	}
}

// onRaftFrame steps a raft message, but only one that claims to come from
// the peer this connection was admitted for: a member cannot speak for
// another.
func (r *Room) onRaftFrame(from uint64, payload []byte) {
	m := &pb.Message{}
	if err := proto.Unmarshal(payload, m); err != nil {
		r.misbehaved(from, "undecodable raft frame", err)
		return
	}
	if m.GetFrom() != from || from == 0 {
		r.misbehaved(from, "forged raft frame", fmt.Errorf("claims to come from %d", m.GetFrom()))
		return
	}
	if m.GetTo() != r.self.Load() {
		r.misbehaved(from, "raft frame for another member", fmt.Errorf("addressed to %d", m.GetTo()))
		return
	}
	if n := r.node.Load(); n != nil {
		n.Step(m)
	}
}

// onRelay handles relayed signalling. A frame for this member is handled; a
// frame for another member is forwarded once, and only if it really comes
// from the member it names (one hop, no spoofing) and carries its signature.
// Each hop checks the signature, so a bad one is blamed on the member that
// handed it over: the sender here, the relay at the receiver.
func (r *Room) onRelay(from uint64, rf relayFrame) {
	self := r.self.Load()
	if rf.To == self {
		go r.handleRelayedSignal(from, rf)
		return
	}
	if rf.From != from {
		r.misbehaved(from, "relayed signal with a forged sender", fmt.Errorf("claims to come from %d", rf.From))
		return
	}
	// A sender this member has no key for yet is left to the receiver.
	if err := r.checkSignal(rf, 0); err != nil && !errors.Is(err, errUnknownSender) {
		r.misbehaved(from, "signal to relay with a bad signature", fmt.Errorf("%s for member %d: %w", rf.Signal.Kind, rf.To, err))
		return
	}
	if tamper := r.hooks.tamperRelay.Load(); tamper != nil {
		(*tamper)(&rf)
	}
	r.mu.Lock()
	target := r.peers[rf.To]
	r.mu.Unlock()
	if target == nil {
		r.log.Debug("room: no route for relayed signal", "to", rf.To)
		return
	}
	if err := sendJSON(target.conn, frameRelay, rf); err != nil {
		r.log.Debug("room: relay", "to", rf.To, "err", err)
	}
}

func sendJSON(c *mesh.Conn, t mesh.FrameType, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return c.Send(t, b)
}

// relaySignal returns the sendSignal of a connection to member to: signals
// go through the doorman, or through any other connected member when the
// doorman is the other end.
func (r *Room) relaySignal(to uint64, session string) func(mesh.Signal) error {
	return func(s mesh.Signal) error {
		rf := r.signSignal(relayFrame{From: r.self.Load(), To: to, Session: session, Signal: s})
		for _, via := range r.relayRoute(to) {
			if err := sendJSON(via.conn, frameRelay, rf); err == nil {
				return nil
			}
		}
		return ErrNoRoute
	}
}

// relayRoute lists the peers that can forward a signal to member to, the
// doorman first.
func (r *Room) relayRoute(to uint64) []*peer {
	r.mu.Lock()
	defer r.mu.Unlock()
	var route []*peer
	if l := r.peers[r.leader]; l != nil && r.leader != to && l.conn.State() == mesh.StateConnected {
		route = append(route, l)
	}
	ids := sortedIDs(r.peers)
	for _, id := range ids {
		p := r.peers[id]
		if id != to && id != r.leader && p.conn.State() == mesh.StateConnected {
			route = append(route, p)
		}
	}
	return route
}

func sortedIDs[V any](m map[uint64]V) []uint64 {
	ids := make([]uint64, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// handleRelayedSignal applies a signal from another member, relayed by
// member via, once its signature checks out against the sender's key: an
// offer with a new session opens a new connection; anything else goes to
// the existing connection of that session (answers, ICE restarts).
func (r *Room) handleRelayedSignal(via uint64, rf relayFrame) {
	if err := r.checkSignal(rf, dialTimeout); err != nil {
		if r.isClosed() {
			return
		}
		r.misbehaved(via, "relayed signal with a bad signature", fmt.Errorf("%s from member %d: %w", rf.Signal.Kind, rf.From, err))
		return
	}
	r.mu.Lock()
	p := r.peers[rf.From]
	r.mu.Unlock()
	if p != nil && p.session == rf.Session {
		if err := p.conn.HandleSignal(rf.Signal); err != nil {
			r.log.Debug("room: signal", "peer", rf.From, "err", err)
		}
		return
	}
	// A relayed offer is vouched for by the relaying member, which checked
	// the sender's identity; the newest members may not know the sender yet.
	if rf.Signal.Kind != mesh.SignalOffer || rf.From == 0 {
		r.log.Debug("room: ignoring signal for no connection", "peer", rf.From, "kind", rf.Signal.Kind)
		return
	}
	np, err := r.newPeer(rf.From, rf.Session, r.relaySignal(rf.From, rf.Session))
	if err != nil {
		r.log.Warn("room: accept connection", "peer", rf.From, "err", err)
		return
	}
	if !r.setPeer(rf.From, np) {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), r.opts.JoinTimeout)
	defer cancel()
	if err := np.conn.Accept(ctx, rf.Signal); err != nil {
		r.log.Debug("room: accept", "peer", rf.From, "err", err)
		r.dropPeer(rf.From, np)
	}
}

// setPeer installs p as the connection to id, closing an older one. It
// returns false (and closes p) when the room is closed.
func (r *Room) setPeer(id uint64, p *peer) bool {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		p.close()
		return false
	}
	old := r.peers[id]
	r.peers[id] = p
	delete(r.missing, id)
	r.mu.Unlock()
	if old != nil && old != p {
		old.close()
	}
	return true
}

// dropPeer removes p if it is still the connection to id.
func (r *Room) dropPeer(id uint64, p *peer) {
	r.mu.Lock()
	if r.peers[id] == p {
		delete(r.peers, id)
	}
	r.mu.Unlock()
	p.close()
}

func (r *Room) onPeerState(p *peer, s mesh.State) {
	if s == mesh.StateClosed {
		r.dropPeer(p.id.Load(), p)
	}
}

// dialTimeout bounds one attempt to connect to a member; reconcile tries again.
const dialTimeout = 10 * time.Second

// dial connects to member id, which has a higher raft id than this member:
// between two members, the older one (lower id) always dials, so they never
// both do.
func (r *Room) dial(id uint64) {
	session := randomHex(8)
	p, err := r.newPeer(id, session, r.relaySignal(id, session))
	if err != nil {
		r.log.Warn("room: dial", "peer", id, "err", err)
		return
	}
	if !r.setPeer(id, p) {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), dialTimeout)
	defer cancel()
	if err := p.conn.Dial(ctx); err != nil {
		r.log.Debug("room: dial", "peer", id, "err", err)
		r.dropPeer(id, p)
		return
	}
	if err := p.conn.WaitReady(ctx); err != nil {
		r.log.Debug("room: dial: not ready", "peer", id, "err", err)
		r.dropPeer(id, p)
	}
}

// reconcileConnections dials every member this member should dial and has
// no connection to, and notes since when each member has had none.
func (r *Room) reconcileConnections(now time.Time) {
	self := r.self.Load()
	r.mu.Lock()
	var toDial []uint64
	for _, id := range sortedIDs(r.members) {
		if id == self {
			continue
		}
		if _, ok := r.peers[id]; ok {
			continue
		}
		if _, ok := r.missing[id]; !ok {
			r.missing[id] = now
		}
		if self < id && !r.dialing[id] {
			r.dialing[id] = true
			toDial = append(toDial, id)
		}
	}
	r.mu.Unlock()
	for _, id := range toDial {
		r.wg.Go(func() {
			r.dial(id)
			r.mu.Lock()
			delete(r.dialing, id)
			r.mu.Unlock()
		})
	}
}

// removeUnreachable, on the doorman, removes members it has had no working
// connection to for PeerTimeout.
func (r *Room) removeUnreachable(now time.Time) {
	self := r.self.Load()
	r.mu.Lock()
	if r.leader != self {
		r.mu.Unlock()
		return
	}
	var gone []uint64
	for id := range r.members {
		if id == self {
			continue
		}
		since, missing := r.missing[id]
		if p := r.peers[id]; p != nil {
			switch p.conn.State() {
			case mesh.StateUnreachable, mesh.StateFailed, mesh.StateClosed:
				since, missing = now.Add(-r.opts.PeerTimeout), true
			default:
				missing = false
			}
		}
		if missing && now.Sub(since) >= r.opts.PeerTimeout {
			gone = append(gone, id)
		}
	}
	r.mu.Unlock()
	for _, id := range gone {
		r.log.Info("room: removing unreachable member", "peer", id)
		r.wg.Go(func() {
			if err := r.removeMember(id); err != nil {
				r.log.Debug("room: remove", "peer", id, "err", err)
			}
		})
	}
}

// removeMember removes member id from the room, waiting a few seconds at
// most for the change to apply.
func (r *Room) removeMember(id uint64) error {
	n := r.node.Load()
	if n == nil {
		return ErrClosed
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return n.Remove(ctx, id)
}

// maxStrikes is how many bad frames a peer may send before it is cut off:
// a few can be a bug or a version skew, a stream is an attack.
const maxStrikes = 20

// misbehaved logs a frame dropped from member id and counts it against the
// member. At maxStrikes this member closes its connection to it, and the
// doorman removes it from the room.
func (r *Room) misbehaved(id uint64, what string, err error) {
	r.mu.Lock()
	r.strikes[id]++
	strikes := r.strikes[id]
	p, isLeader := r.peers[id], r.leader == r.self.Load()
	r.mu.Unlock()
	r.log.Warn("room: dropped "+what, "peer", id, "strikes", strikes, "err", err)
	if strikes != maxStrikes || id == 0 {
		return
	}
	r.log.Warn("room: cutting off a misbehaving member", "peer", id, "strikes", strikes)
	r.emit(Event{Type: EventError, Err: fmt.Errorf("%w: member %d sent %d bad frames (last: %s)", ErrBadMessage, id, strikes, what)})
	if p != nil {
		r.dropPeer(id, p)
	}
	if isLeader {
		r.wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if n := r.node.Load(); n != nil {
				_ = n.Remove(ctx, id)
			}
		})
	}
}
