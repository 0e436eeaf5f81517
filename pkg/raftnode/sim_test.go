package raftnode

import (
	"container/heap"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"slices"
	"testing"

	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// The simulation runs a whole room of Cores in one goroutine on a virtual
// clock. Every random choice comes from one seeded generator, so a seed
// replays the exact same run. Messages go through proto encoding (as on the
// wire) and a network that drops, delays, reorders, duplicates and cuts
// links.

const simTickMs = 10

type simOptions struct {
	members       int
	drop, dup     float64 // per message
	minDelayMs    int64
	maxDelayMs    int64
	snapshotEvery uint64
	// jsonState runs the room's real JSON state machine (pkg/state)
	// instead of the test's key-value machine.
	jsonState bool
	// membership, when set, records what every member's state machine is
	// told of the member table (MembershipObserver), and when.
	membership *membershipLog
}

type simMember struct {
	id      uint64
	storage *MemoryStorage
	core    *Core // nil while crashed
	sm      simMachine
	gone    bool // removed from the room and shut down for good
	// sponsor is the leader that added a member after the founding.
	sponsor uint64
	// stuckSince is when the member was first seen refusing the leader's
	// proof (0: it is not).
	stuckSince int64
}

type simEvent struct {
	at  int64
	seq uint64
	fn  func()
}

type eventQueue []*simEvent

func (q eventQueue) Len() int { return len(q) }
func (q eventQueue) Less(i, j int) bool {
	if q[i].at != q[j].at {
		return q[i].at < q[j].at
	}
	return q[i].seq < q[j].seq
}
func (q eventQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *eventQueue) Push(x any)   { *q = append(*q, x.(*simEvent)) }
func (q *eventQueue) Pop() any {
	old := *q
	e := old[len(old)-1]
	*q = old[:len(old)-1]
	return e
}

type sim struct {
	seed    uint64
	opts    simOptions
	rng     *rand.Rand
	now     int64
	nextSeq uint64
	events  eventQueue
	members map[uint64]*simMember
	cut     map[[2]uint64]bool
	logger  *slog.Logger
	// executed maps raft index → the command executed there, across all
	// members: two members executing different commands at one index is a
	// safety violation.
	executed map[uint64]string
	// executions counts how often each command executed (must be ≤ 1).
	executions map[string]int
	violations []string
	stats      simStats
}

type simStats struct {
	Delivered, Dropped, Crashes, Restarts, Partitions, Added, Removed, Rejoined, SnapshotsSent int
}

func newSim(seed uint64, opts simOptions) *sim {
	s := &sim{
		seed: seed, opts: opts, rng: rand.New(rand.NewPCG(seed, 0x5eed)),
		members: map[uint64]*simMember{}, cut: map[[2]uint64]bool{},
		logger:   slog.New(slog.NewTextHandler(io.Discard, nil)),
		executed: map[uint64]string{}, executions: map[string]int{},
	}
	var founders []Member
	for i := 1; i <= opts.members; i++ {
		founders = append(founders, Member{ID: uint64(i), Context: []byte(fmt.Sprintf("member-%d", i))})
	}
	for _, f := range founders {
		m := &simMember{id: f.ID, storage: NewMemoryStorage()}
		if err := Bootstrap(m.storage, s.newMachine(nil), founders); err != nil {
			panic(err)
		}
		s.members[f.ID] = m
		s.start(m)
	}
	return s
}

// config gives every member a Signer, so that every simulated election,
// transfer and catch-up also runs through the leader proofs (proof.go).
func (s *sim) config(m *simMember) Config {
	return Config{
		ID: m.id, Signer: testSigner{m.id}, Sponsor: m.sponsor, ElectionTicks: 10, HeartbeatTicks: 1, MaxVoters: max(5, s.opts.members),
		SnapshotEntries: s.opts.snapshotEvery, CompactionMargin: 20,
		MaxSizePerMsg: 4 << 10, RandSeed: int64(s.rng.Uint64() | 1), Logger: s.logger,
	}
}

// start (re)starts a member's Core on its storage, with a fresh state
// machine that the Core restores from the storage's snapshot.
func (s *sim) start(m *simMember) {
	m.sm = s.newMachine(func(index uint64, id string) { s.noteExecuted(m.id, index, id) })
	if s.opts.membership != nil {
		m.sm = s.opts.membership.wrap(m.id, m.sm)
	}
	core, err := NewCore(s.config(m), m.storage, m.sm)
	if err != nil {
		s.violate("restart %d: %v", m.id, err)
		return
	}
	m.core = core
	s.scheduleTick(m, core, s.rng.Int64N(simTickMs)+1)
	s.process(m)
}

func (s *sim) scheduleTick(m *simMember, core *Core, after int64) {
	s.after(after, func() {
		if m.core != core { // crashed (and maybe restarted) since
			return
		}
		core.Tick()
		s.process(m)
		s.scheduleTick(m, core, simTickMs)
	})
}

func (s *sim) noteExecuted(member, index uint64, id string) {
	if prev, ok := s.executed[index]; ok {
		if prev != id {
			s.violate("member %d executed %s at index %d where another member executed %s", member, id, index, prev)
		}
		return
	}
	s.executed[index] = id
	s.executions[id]++
	if s.executions[id] > 1 {
		s.violate("command %s executed twice (again at index %d)", id, index)
	}
}

func (s *sim) violate(format string, args ...any) {
	s.violations = append(s.violations, fmt.Sprintf("t=%dms: ", s.now)+fmt.Sprintf(format, args...))
}

func (s *sim) after(delay int64, fn func()) {
	s.nextSeq++
	heap.Push(&s.events, &simEvent{at: s.now + delay, seq: s.nextSeq, fn: fn})
}

// runUntil processes events until the virtual clock passes end or done
// returns true.
func (s *sim) runUntil(end int64, done func() bool) {
	for s.events.Len() > 0 {
		if done != nil && done() {
			return
		}
		e := heap.Pop(&s.events).(*simEvent)
		if e.at > end {
			heap.Push(&s.events, e)
			s.now = end
			return
		}
		s.now = e.at
		e.fn()
	}
}

func (s *sim) process(m *simMember) {
	if m.core == nil {
		return
	}
	if err := m.core.Process(func(msgs []*pb.Message) { s.send(msgs) }); err != nil {
		s.violate("member %d: process: %v", m.id, err)
	}
}

func (s *sim) send(msgs []*pb.Message) {
	for _, msg := range msgs {
		wire, err := proto.Marshal(msg)
		if err != nil {
			s.violate("marshal: %v", err)
			continue
		}
		from, to, isSnap := msg.GetFrom(), msg.GetTo(), msg.GetType() == pb.MsgSnap
		if isSnap {
			s.stats.SnapshotsSent++
		}
		copies := 1
		if s.rng.Float64() < s.opts.dup {
			copies = 2
		}
		for range copies {
			if s.rng.Float64() < s.opts.drop {
				s.stats.Dropped++
				if isSnap {
					s.after(s.delay(), func() { s.reportSnapshot(from, to, false) })
				}
				continue
			}
			s.after(s.delay(), func() { s.deliver(from, to, wire, isSnap) })
		}
	}
}

func (s *sim) delay() int64 {
	return s.opts.minDelayMs + s.rng.Int64N(s.opts.maxDelayMs-s.opts.minDelayMs+1)
}

func (s *sim) deliver(from, to uint64, wire []byte, isSnap bool) {
	target := s.members[to]
	if target == nil || target.core == nil || s.cut[[2]uint64{from, to}] {
		s.stats.Dropped++
		if isSnap {
			s.reportSnapshot(from, to, false)
		}
		return
	}
	msg := &pb.Message{}
	if err := proto.Unmarshal(wire, msg); err != nil {
		s.violate("unmarshal: %v", err)
		return
	}
	s.stats.Delivered++
	_ = target.core.Step(msg) // messages for a removed member are refused; that is fine
	s.process(target)
	if isSnap {
		s.reportSnapshot(from, to, true)
	}
}

func (s *sim) reportSnapshot(from, to uint64, ok bool) {
	if sender := s.members[from]; sender != nil && sender.core != nil {
		sender.core.ReportSnapshot(to, ok)
		s.process(sender)
	}
}

// liveIDs returns the ids of running members, sorted (map order must never
// leak into a seeded run).
func (s *sim) liveIDs() []uint64 {
	var ids []uint64
	for id, m := range s.members {
		if m.core != nil {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

func (s *sim) allIDs() []uint64 {
	var ids []uint64
	for id, m := range s.members {
		if !m.gone {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

func (s *sim) randomLive() *simMember {
	ids := s.liveIDs()
	if len(ids) == 0 {
		return nil
	}
	return s.members[ids[s.rng.IntN(len(ids))]]
}

// leader returns the live member that believes it leads with the highest
// term, or nil.
func (s *sim) leader() *simMember {
	var best *simMember
	for _, id := range s.liveIDs() {
		m := s.members[id]
		li := m.core.Leader()
		if li.Role == RoleLeader && (best == nil || li.Term > best.core.Leader().Term) {
			best = m
		}
	}
	return best
}

func (s *sim) crash(m *simMember) {
	m.core.Close()
	m.core = nil
	s.stats.Crashes++
}

func (s *sim) isolate(id uint64) {
	for _, other := range s.allIDs() {
		if other != id {
			s.cut[[2]uint64{id, other}], s.cut[[2]uint64{other, id}] = true, true
		}
	}
}

func (s *sim) split() {
	ids := s.allIDs()
	s.rng.Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
	k := 1 + s.rng.IntN(len(ids)-1)
	for _, a := range ids[:k] {
		for _, b := range ids[k:] {
			s.cut[[2]uint64{a, b}], s.cut[[2]uint64{b, a}] = true, true
		}
	}
}

func (s *sim) heal() { clear(s.cut) }

// converged reports whether every running member has applied the same,
// latest index and holds identical state.
func (s *sim) converged() bool {
	ids := s.liveIDs()
	if len(ids) == 0 || s.leader() == nil {
		return false
	}
	var applied uint64
	var state []byte
	for i, id := range ids {
		m := s.members[id]
		st := m.core.Status()
		if st.Removed {
			continue
		}
		snap, _ := m.sm.Snapshot()
		if i == 0 {
			applied, state = st.Applied, snap
			continue
		}
		if st.Applied != applied || string(snap) != string(state) || st.Commit != st.Applied {
			return false
		}
	}
	return true
}

func (s *sim) describe() string {
	b, _ := json.Marshal(s.stats)
	return fmt.Sprintf("seed=%d members=%d drop=%.2f dup=%.2f stats=%s", s.seed, s.opts.members, s.opts.drop, s.opts.dup, b)
}

func (s *sim) check(t *testing.T) {
	t.Helper()
	for _, v := range s.violations {
		t.Errorf("%s\n  replay: go test ./pkg/raftnode -run 'TestLinearizable' with seed %d", v, s.seed)
	}
}

func (s *sim) dump() string {
	out := ""
	for _, id := range s.allIDs() {
		m := s.members[id]
		if m.core == nil {
			out += fmt.Sprintf("\n  %d: down", id)
			continue
		}
		st := m.core.Status()
		out += fmt.Sprintf("\n  %d: role=%v lead=%d term=%d commit=%d applied=%d removed=%v members=%v conf=%d", id, st.Role, st.Leader, st.Term, st.Commit, st.Applied, st.Removed, st.Members, len(m.core.conf))
	}
	return out
}
