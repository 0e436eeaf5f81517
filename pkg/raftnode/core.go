package raftnode

import (
	"cmp"
	crand "crypto/rand"
	"encoding/binary"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
	"go.etcd.io/raft/v3/tracker"
	"google.golang.org/protobuf/proto"
)

// StateMachine is the replicated application state that raft entries change.
type StateMachine interface {
	// Apply applies the payload of one committed entry at raft index
	// index. It must be deterministic — every member applies the same
	// entries in the same order and must reach the same state and result —
	// and must not panic on bad input: a rejected change is a result, not
	// a failure.
	Apply(index uint64, data []byte) any
	// Snapshot returns the whole state, to be restored on another member.
	Snapshot() ([]byte, error)
	// Restore replaces the state with one returned by Snapshot.
	Restore(snapshot []byte) error
}

// MembershipObserver may be implemented by a StateMachine that needs the
// replicated member table at each point of the log, for instance to check
// that an entry's proposer was a member, with the key it registered, when
// the entry applies. ApplyMembership is called on the applying goroutine
// with the whole table (sorted by id; contexts are copies), in apply order:
// after a snapshot is restored (NewCore's own included) and after every
// applied membership change, before the next entry is applied. index is the
// raft index of the snapshot or of the conf change entry. Every member sees
// the same table at the same index.
type MembershipObserver interface {
	ApplyMembership(index uint64, members []Member)
}

// Result is the outcome of a proposal, known once its entry is applied on
// the proposing member.
type Result struct {
	// Value is what StateMachine.Apply returned.
	Value any
	// Index is the raft index of the entry.
	Index uint64
	// Err is set when the outcome is a failure of raftnode itself
	// (ErrProposalDropped, ErrStopped, ...); rejections by the state
	// machine are in Value.
	Err error
}

// Role is a member's raft role.
type Role = raft.StateType

// Raft roles.
const (
	RoleFollower     = raft.StateFollower
	RoleCandidate    = raft.StateCandidate
	RoleLeader       = raft.StateLeader
	RolePreCandidate = raft.StatePreCandidate
)

// LeaderInfo describes who leads the room, as this member sees it.
type LeaderInfo struct {
	Leader uint64 // 0 when no leader is known
	Term   uint64
	Role   Role // this member's own role
}

// ChangeType says what a membership change did.
type ChangeType string

// Membership change types.
const (
	ChangeAddLearner ChangeType = "add-learner"
	ChangeAddVoter   ChangeType = "add-voter" // a new voter or a promoted learner
	ChangeRemove     ChangeType = "remove"
)

// MembershipChange reports one applied membership change.
type MembershipChange struct {
	Type   ChangeType
	Member Member
	// Rejected is non-nil when the change was refused identically on every
	// member (for example re-adding a removed id); nothing changed then.
	Rejected error
}

// Status is a snapshot of a member's view of the room.
type Status struct {
	ID      uint64
	Leader  uint64
	Term    uint64
	Role    Role
	Commit  uint64
	Applied uint64
	Members []Member // sorted by id
	NextID  uint64   // the next raft id never used in this room
	Removed bool     // this member has been removed from the room
	// RefusedLeader claimed to lead the room, but its proof of election
	// did not hold here (see Signer), and this member has heard from no
	// proven leader for an election timeout since. A member that missed a
	// change of voters is stuck like this: it must be let in again (as a
	// newcomer). Zero otherwise, and always on the leader.
	RefusedLeader uint64
	// LeadTransferee is the member this leader is handing leadership to, 0
	// when it is not (raft gives a transfer up after an election timeout).
	LeadTransferee uint64
	Progress       map[uint64]uint64
}

// Core is a raft member without goroutines or clocks: its driver calls Tick,
// Step, the request methods and then Process, all from one goroutine. Node
// drives a Core with a real clock; tests drive it with a simulated one, which
// makes whole-room runs deterministic.
type Core struct {
	cfg     Config
	log     *slog.Logger
	rn      *raft.RawNode
	storage Storage
	sm      StateMachine
	rng     *rand.Rand

	applied       uint64
	snapshotIndex uint64
	confState     *pb.ConfState
	members       *membership
	leader        LeaderInfo
	ticks         uint64
	removed       bool
	closed        bool
	proposals     map[uint64]func(Result)
	readWaiters   map[uint64]func(error)
	readsAtIndex  []pendingRead
	conf          []*confRequest
	proofs        *proofs // nil without Config.Signer
	// acked and notices leave out answers to commit notices (notice.go).
	acked   ackMark
	notices int
}

type pendingRead struct {
	index uint64
	done  func(error)
}

// Bootstrap writes the first snapshot of a new room into empty storage: the
// initial members (voters unless marked learner) and sm's current state. Every
// founding member bootstraps with the same arguments; later members start
// from empty storage and catch up from the leader.
func Bootstrap(storage Storage, sm StateMachine, members []Member) error {
	last, err := storage.LastIndex()
	if err != nil {
		return err
	}
	if last != 0 {
		return fmt.Errorf("raftnode: bootstrap: storage is not empty (last index %d)", last)
	}
	meta := newMembership()
	cs := &pb.ConfState{}
	for _, m := range members {
		if m.ID == 0 {
			return fmt.Errorf("raftnode: bootstrap: member id 0")
		}
		mem := m
		meta.Members[m.ID] = &mem
		meta.noteID(m.ID)
		if m.Learner {
			cs.Learners = append(cs.Learners, m.ID)
		} else {
			cs.Voters = append(cs.Voters, m.ID)
		}
	}
	if len(cs.Voters) == 0 {
		return fmt.Errorf("raftnode: bootstrap: no voter")
	}
	app, err := sm.Snapshot()
	if err != nil {
		return fmt.Errorf("raftnode: bootstrap: %w", err)
	}
	data, err := encodeSnapshot(meta, app)
	if err != nil {
		return err
	}
	snap := &pb.Snapshot{Data: data, Metadata: &pb.SnapshotMetadata{ConfState: cs, Index: new(uint64(1)), Term: new(uint64(1))}}
	hs := &pb.HardState{Term: new(uint64(1)), Commit: new(uint64(1))}
	return storage.Save(hs, nil, snap)
}

// NewCore starts a member on storage, restoring sm from storage's snapshot
// (if any) and replaying the committed log after it.
func NewCore(cfg Config, storage Storage, sm StateMachine) (*Core, error) {
	if cfg.ID == 0 {
		return nil, fmt.Errorf("raftnode: Config.ID must not be 0")
	}
	cfg = cfg.withDefaults()
	c := &Core{
		cfg: cfg, log: cfg.Logger.With("raft", cfg.ID), storage: storage, sm: sm,
		members: newMembership(), confState: &pb.ConfState{},
		proposals: map[uint64]func(Result){}, readWaiters: map[uint64]func(error){},
	}
	c.rng = rand.New(rand.NewPCG(seed(cfg.RandSeed), cfg.ID))
	if cfg.Signer != nil {
		c.proofs = newProofs(cfg.Signer)
	}
	snap, err := storage.Snapshot()
	if err != nil {
		return nil, err
	}
	if !raft.IsEmptySnap(snap) {
		if err := c.restore(snap); err != nil {
			return nil, err
		}
	}
	rn, err := raft.NewRawNode(c.raftConfig())
	if err != nil {
		return nil, fmt.Errorf("raftnode: %w", err)
	}
	c.rn = rn
	if len(c.confState.Voters) == 1 && c.confState.Voters[0] == cfg.ID {
		// Alone in the room: lead at once instead of waiting an election timeout.
		_ = rn.Campaign()
	}
	return c, nil
}

func seed(s int64) uint64 {
	if s != 0 {
		return uint64(s)
	}
	var b [8]byte
	_, _ = crand.Read(b[:])
	return binary.LittleEndian.Uint64(b[:])
}

func (c *Core) raftConfig() *raft.Config {
	return &raft.Config{
		ID:                        c.cfg.ID,
		ElectionTick:              c.cfg.ElectionTicks,
		HeartbeatTick:             c.cfg.HeartbeatTicks,
		Storage:                   c.storage,
		Applied:                   c.applied,
		MaxSizePerMsg:             c.cfg.MaxSizePerMsg,
		MaxUncommittedEntriesSize: c.cfg.MaxUncommittedEntriesSize,
		MaxInflightMsgs:           c.cfg.MaxInflightMsgs,
		CheckQuorum:               true,
		PreVote:                   true,
		StepDownOnRemoval:         true,
		ReadOnlyOption:            raft.ReadOnlySafe,
		Logger:                    raftLogger{c.log},
	}
}

// ID returns this member's raft id.
func (c *Core) ID() uint64 { return c.cfg.ID }

// Tick advances the member's logical clock by one tick.
func (c *Core) Tick() {
	if c.closed {
		return
	}
	c.ticks++
	c.rn.Tick()
	c.autoPromote()
	c.pumpConfChanges()
}

// Step feeds a message received from another member.
func (c *Core) Step(m *pb.Message) error {
	if c.closed {
		return ErrStopped
	}
	if m.GetTo() != c.cfg.ID {
		return fmt.Errorf("raftnode: message for %d delivered to %d", m.GetTo(), c.cfg.ID)
	}
	if m.GetFrom() == 0 || m.GetFrom() == c.cfg.ID {
		return fmt.Errorf("raftnode: message with bad sender %d", m.GetFrom())
	}
	if err := c.checkMessage(m); err != nil {
		return err
	}
	st := c.rn.BasicStatus() // once per message: this is the path of every change
	if err := c.checkProof(m, st); err != nil {
		return err
	}
	c.noteCommitNotice(m, st)
	return c.stepGuarded(m)
}

// Propose proposes data and calls done exactly once: with the result once
// the entry is applied here, or with an error (ErrProposalDropped,
// ErrStopped). It returns a request id for Cancel.
func (c *Core) Propose(data []byte, done func(Result)) uint64 {
	if c.closed {
		done(Result{Err: ErrStopped})
		return 0
	}
	id := c.newRequestID()
	if err := c.rn.Propose(encodeEntry(id, data)); err != nil {
		done(Result{Err: fmt.Errorf("%w: %v", ErrProposalDropped, err)})
		return 0
	}
	c.proposals[id] = done
	return id
}

// Read asks for a linearizable read: done(nil) is called once this member
// has applied every entry committed before the call, so reading the state
// machine then observes all completed writes. It returns a request id for
// Cancel.
func (c *Core) Read(done func(error)) uint64 {
	if c.closed {
		done(ErrStopped)
		return 0
	}
	if c.leader.Leader == 0 {
		done(ErrNoLeader)
		return 0
	}
	id := c.newRequestID()
	c.readWaiters[id] = done
	c.rn.ReadIndex(binary.BigEndian.AppendUint64(nil, id))
	return id
}

// Cancel forgets the caller of request id: its callback will not be called.
// The request itself may still take effect.
func (c *Core) Cancel(id uint64) {
	delete(c.proposals, id)
	delete(c.readWaiters, id)
	for _, r := range c.conf {
		if r.id == id {
			r.done = nil
		}
	}
}

// TransferLeadership asks the leader to hand leadership to member to, or to
// the most up-to-date other voter when to is 0 (ErrNoTransferee if there
// is none).
func (c *Core) TransferLeadership(to uint64) error {
	if to == 0 {
		to = c.bestTransferee()
	}
	if to == 0 {
		return ErrNoTransferee
	}
	c.rn.TransferLeader(to)
	return nil
}

func (c *Core) bestTransferee() uint64 {
	var best, bestMatch uint64
	c.rn.WithProgress(func(id uint64, typ raft.ProgressType, pr tracker.Progress) {
		if id == c.cfg.ID || pr.IsLearner {
			return
		}
		if best == 0 || pr.Match > bestMatch || (pr.Match == bestMatch && id < best) {
			best, bestMatch = id, pr.Match
		}
	})
	return best
}

// Leader returns who leads the room as this member sees it.
func (c *Core) Leader() LeaderInfo { return c.leader }

// Applied returns the index of the last entry applied to the state machine.
func (c *Core) Applied() uint64 { return c.applied }

// Status reports this member's view of the room.
func (c *Core) Status() Status {
	st := c.rn.Status()
	s := Status{
		ID: c.cfg.ID, Leader: st.Lead, Term: st.GetTerm(), Role: st.RaftState,
		Commit: st.GetCommit(), Applied: c.applied, NextID: c.members.NextID, Removed: c.removed,
		LeadTransferee: st.LeadTransferee,
	}
	s.RefusedLeader = c.stuckRefusing()
	for _, m := range c.members.Members {
		s.Members = append(s.Members, *m)
	}
	slices.SortFunc(s.Members, func(a, b Member) int { return cmp.Compare(a.ID, b.ID) })
	if len(st.Progress) > 0 {
		s.Progress = make(map[uint64]uint64, len(st.Progress))
		for id, pr := range st.Progress {
			s.Progress[id] = pr.Match
		}
	}
	return s
}

// ReportUnreachable tells raft that a message to id could not be delivered,
// so the leader probes it instead of streaming to it.
func (c *Core) ReportUnreachable(id uint64) { c.rn.ReportUnreachable(id) }

// ReportSnapshot tells raft whether a snapshot sent to id arrived.
func (c *Core) ReportSnapshot(id uint64, ok bool) {
	status := raft.SnapshotFinish
	if !ok {
		status = raft.SnapshotFailure
	}
	c.rn.ReportSnapshot(id, status)
}

// Close fails every waiting request with ErrStopped. The Core is unusable
// afterwards; its Storage is not touched and can be reopened by a new Core.
func (c *Core) Close() {
	if c.closed {
		return
	}
	c.closed = true
	c.failAll(ErrStopped)
}

func (c *Core) failAll(err error) {
	for id, done := range c.proposals {
		delete(c.proposals, id)
		done(Result{Err: err})
	}
	for id, done := range c.readWaiters {
		delete(c.readWaiters, id)
		done(err)
	}
	for _, r := range c.readsAtIndex {
		r.done(err)
	}
	c.readsAtIndex = nil
	for _, r := range c.conf {
		r.finish(err)
	}
	c.conf = nil
}

func (c *Core) newRequestID() uint64 {
	for {
		if id := c.rng.Uint64(); id != 0 {
			return id
		}
	}
}

// Process handles everything raft has ready, in the order raft requires:
// persist snapshot, hard state and entries; restore a received snapshot;
// send messages (via send); apply committed entries; answer reads; take a
// snapshot when due; advance. A storage error is returned and leaves the
// member unusable (its durability can no longer be trusted).
func (c *Core) Process(send func([]*pb.Message)) error {
	if c.closed {
		return ErrStopped
	}
	for c.rn.HasReady() {
		rd := c.rn.Ready()
		if err := c.storage.Save(rd.HardState, rd.Entries, rd.Snapshot); err != nil {
			c.Close()
			return fmt.Errorf("raftnode: persist: %w", err)
		}
		if !raft.IsEmptySnap(rd.Snapshot) {
			if err := c.restore(rd.Snapshot); err != nil {
				c.Close()
				return err
			}
			c.resendReads()
		}
		msgs, staleSnapshotsTo := c.withoutStaleSnapshots(rd.Messages)
		msgs = c.withoutNoticeAnswers(msgs)
		if len(msgs) > 0 {
			c.sealOutgoing(msgs)
			send(msgs)
		}
		for _, e := range rd.CommittedEntries {
			c.apply(e)
		}
		c.handleReadStates(rd.ReadStates)
		if rd.SoftState != nil {
			c.noteSoftState(rd.SoftState)
		}
		if err := c.maybeSnapshot(len(staleSnapshotsTo) > 0); err != nil {
			c.Close()
			return err
		}
		c.rn.Advance(rd)
		for _, to := range staleSnapshotsTo {
			c.rn.ReportSnapshot(to, raft.SnapshotFailure) // raft resends the fresh one
		}
	}
	if requests := c.proofs.takeRequests(); len(requests) > 0 {
		send(requests)
	}
	c.notices = 0
	c.pumpConfChanges()
	return nil
}

func (c *Core) noteSoftState(ss *raft.SoftState) {
	info := LeaderInfo{Leader: ss.Lead, Term: c.rn.BasicStatus().GetTerm(), Role: ss.RaftState}
	if info == c.leader {
		return
	}
	c.leader = info
	if info.Leader != 0 {
		c.resendReads()
	}
	if c.cfg.OnLeaderChange != nil {
		c.cfg.OnLeaderChange(info)
	}
}

// resendReads asks again for every read still waiting for its index. Raft
// does not retransmit read requests, and their answers are lost when they
// reach a member that has not yet installed the snapshot that names the
// leader, or was sent to a leader that has since stepped down.
func (c *Core) resendReads() {
	ids := make([]uint64, 0, len(c.readWaiters))
	for id := range c.readWaiters {
		ids = append(ids, id)
	}
	slices.Sort(ids) // a seeded simulation must not see map order
	for _, id := range ids {
		c.rn.ReadIndex(binary.BigEndian.AppendUint64(nil, id))
	}
}

func (c *Core) restore(snap *pb.Snapshot) error {
	meta, app, err := decodeSnapshot(snap.GetData())
	if err != nil {
		return err
	}
	if err := c.sm.Restore(app); err != nil {
		return fmt.Errorf("raftnode: restore state machine at %d: %w", snap.GetMetadata().GetIndex(), err)
	}
	c.members = meta
	c.confState = proto.Clone(snap.GetMetadata().GetConfState()).(*pb.ConfState)
	c.applied = snap.GetMetadata().GetIndex()
	c.snapshotIndex = c.applied
	c.removed = !c.isMember(c.cfg.ID) && c.members.isRemoved(c.cfg.ID)
	c.observeMembership(c.applied)
	c.flushReads()
	return nil
}

// observeMembership gives the member table to a state machine that wants it.
func (c *Core) observeMembership(index uint64) {
	o, ok := c.sm.(MembershipObserver)
	if !ok {
		return
	}
	members := make([]Member, 0, len(c.members.Members))
	for _, m := range c.members.Members {
		members = append(members, Member{ID: m.ID, Context: slices.Clone(m.Context), Learner: m.Learner})
	}
	slices.SortFunc(members, func(a, b Member) int { return cmp.Compare(a.ID, b.ID) })
	o.ApplyMembership(index, members)
}

func (c *Core) isMember(id uint64) bool {
	_, ok := c.members.Members[id]
	return ok
}

func (c *Core) apply(e *pb.Entry) {
	if e.GetIndex() <= c.applied {
		return
	}
	switch e.GetType() {
	case pb.EntryNormal:
		c.applyNormal(e)
	case pb.EntryConfChange:
		c.applyConfChange(e)
	default:
		c.log.Error("raftnode: unsupported entry type", "type", e.GetType(), "index", e.GetIndex())
	}
	c.applied = e.GetIndex()
	c.flushReads()
}

func (c *Core) applyNormal(e *pb.Entry) {
	if len(e.GetData()) == 0 {
		return // the empty entry a new leader appends
	}
	id, payload, err := decodeEntry(e.GetData())
	if err != nil {
		// Every member rejects the same bytes the same way, so the state stays consistent.
		c.log.Warn("raftnode: skipping malformed entry", "index", e.GetIndex(), "err", err)
		return
	}
	value := c.sm.Apply(e.GetIndex(), payload)
	if done, ok := c.proposals[id]; ok {
		delete(c.proposals, id)
		done(Result{Value: value, Index: e.GetIndex()})
	}
}

func (c *Core) handleReadStates(states []raft.ReadState) {
	for _, rs := range states {
		if len(rs.RequestCtx) != 8 {
			continue
		}
		id := binary.BigEndian.Uint64(rs.RequestCtx)
		done, ok := c.readWaiters[id]
		if !ok {
			continue
		}
		delete(c.readWaiters, id)
		c.readsAtIndex = append(c.readsAtIndex, pendingRead{index: rs.Index, done: done})
	}
	c.flushReads()
}

func (c *Core) flushReads() {
	kept := c.readsAtIndex[:0]
	var ready []func(error)
	for _, r := range c.readsAtIndex {
		if r.index <= c.applied {
			ready = append(ready, r.done)
		} else {
			kept = append(kept, r)
		}
	}
	c.readsAtIndex = kept
	for _, done := range ready {
		done(nil)
	}
}

// withoutStaleSnapshots holds back snapshot messages taken before their
// recipient joined: raft ignores a snapshot whose membership lacks it, so a
// newcomer added after the last snapshot would never catch up. The caller
// takes a fresh snapshot and reports the held-back ones as failed, which makes
// raft send the fresh one.
func (c *Core) withoutStaleSnapshots(msgs []*pb.Message) (kept []*pb.Message, staleTo []uint64) {
	for _, m := range msgs {
		if m.GetType() == pb.MsgSnap && !inConfState(m.GetSnapshot().GetMetadata().GetConfState(), m.GetTo()) {
			staleTo = append(staleTo, m.GetTo())
			continue
		}
		kept = append(kept, m)
	}
	return kept, staleTo
}

func inConfState(cs *pb.ConfState, id uint64) bool {
	return slices.Contains(cs.GetVoters(), id) || slices.Contains(cs.GetLearners(), id) ||
		slices.Contains(cs.GetVotersOutgoing(), id) || slices.Contains(cs.GetLearnersNext(), id)
}

func (c *Core) maybeSnapshot(force bool) error {
	if c.applied == c.snapshotIndex || (!force && c.applied-c.snapshotIndex < c.cfg.SnapshotEntries) {
		return nil
	}
	app, err := c.sm.Snapshot()
	if err != nil {
		return fmt.Errorf("raftnode: snapshot at %d: %w", c.applied, err)
	}
	data, err := encodeSnapshot(c.members, app)
	if err != nil {
		return err
	}
	if _, err := c.storage.CreateSnapshot(c.applied, c.confState, data); err != nil {
		return fmt.Errorf("raftnode: snapshot at %d: %w", c.applied, err)
	}
	c.snapshotIndex = c.applied
	if c.applied > c.cfg.CompactionMargin {
		return c.storage.Compact(c.applied - c.cfg.CompactionMargin)
	}
	return nil
}
