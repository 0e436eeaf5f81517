package raftnode

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"testing/cryptotest"
	"time"

	"github.com/anishathalye/porcupine"
)

// The linearizability proof: clients run puts, compare-and-sets and
// linearizable reads against a simulated room while the network drops,
// delays, reorders and duplicates messages, partitions cut members off
// (the leader above all), members crash and restart from their storage, and
// members are added and removed. The recorded history must be linearizable
// (porcupine), every member must execute the same command at each index,
// no command may execute twice, and after the faults heal every member must
// hold the same state.

type kvInput struct {
	Op     string // get | put | cas
	Key    string
	Value  string
	Expect string
}

type kvOutput struct {
	OK    bool
	Value string
}

var kvModel = porcupine.Model{
	Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
		byKey := map[string][]porcupine.Operation{}
		var keys []string
		for _, op := range history {
			k := op.Input.(kvInput).Key
			if _, ok := byKey[k]; !ok {
				keys = append(keys, k)
			}
			byKey[k] = append(byKey[k], op)
		}
		var parts [][]porcupine.Operation
		for _, k := range keys {
			parts = append(parts, byKey[k])
		}
		return parts
	},
	Init: func() any { return "" },
	Step: func(state, input, output any) (bool, any) {
		st, in, out := state.(string), input.(kvInput), output.(kvOutput)
		switch in.Op {
		case "get":
			return out.Value == st, st
		case "put":
			return true, in.Value
		case "cas":
			if out.OK {
				return st == in.Expect, in.Value
			}
			return st != in.Expect, st
		}
		return false, st
	},
	DescribeOperation: func(input, output any) string {
		in, out := input.(kvInput), output.(kvOutput)
		switch in.Op {
		case "get":
			return fmt.Sprintf("get(%s) → %q", in.Key, out.Value)
		case "put":
			return fmt.Sprintf("put(%s, %q)", in.Key, in.Value)
		}
		return fmt.Sprintf("cas(%s, %q→%q) → %v", in.Key, in.Expect, in.Value, out.OK)
	},
	DescribeState: func(state any) string { return fmt.Sprintf("%q", state) },
}

type simClient struct {
	id       int
	seq      uint64
	busy     bool
	lastSeen map[string]string
}

type workload struct {
	s        *sim
	clients  []*simClient
	history  []porcupine.Operation
	pending  int
	stopping bool
	changing bool // a membership change is in flight
	added    int
	ops      int
	acked    []string // ids of acknowledged writes
}

const (
	opTimeoutMs = 250
	workMs      = 10000
	settleMs    = 30000
	// A member refusing the leader's proof this long is let in again.
	stuckMs      = 2000
	stuckCheckMs = 250
)

var simKeys = []string{"a", "b", "c"}

func runSim(t *testing.T, seed uint64, opts simOptions) *sim {
	t.Helper()
	// etcd raft draws election timeouts from crypto/rand; seeding it makes
	// the whole run a function of the seed.
	cryptotest.SetGlobalRandom(t, seed)
	s := newSim(seed, opts)
	w := &workload{s: s}
	for i := range 6 {
		c := &simClient{id: i, lastSeen: map[string]string{}}
		w.clients = append(w.clients, c)
		s.after(int64(s.rng.IntN(100)), func() { w.next(c) })
	}
	s.after(300, w.fault)
	s.after(stuckCheckMs, w.rejoinStuck)
	s.runUntil(workMs, nil)
	w.stopping = true
	s.heal()
	for _, id := range s.allIDs() {
		if m := s.members[id]; m.core == nil {
			s.start(m)
		}
	}
	s.runUntil(s.now+settleMs, func() bool { return w.pending == 0 && s.converged() })
	if w.pending != 0 {
		s.violate("%d client operations never completed after the faults healed", w.pending)
	}
	if !s.converged() {
		s.violate("members did not converge within %d ms after the faults healed:%s", settleMs, s.dump())
	}
	w.checkHistory(t)
	w.checkAcknowledged()
	s.check(t)
	t.Logf("%s ops=%d added=%d virtual=%dms", s.describe(), w.ops, w.added, s.now)
	return s
}

func (w *workload) next(c *simClient) {
	if w.stopping {
		return
	}
	s := w.s
	key := simKeys[s.rng.IntN(len(simKeys))]
	w.ops++
	switch r := s.rng.IntN(10); {
	case r < 4:
		w.read(c, key)
	case r < 7:
		c.seq++
		w.write(c, kvCommand{Client: c.id, Seq: c.seq, Op: "put", Key: key, Value: fmt.Sprintf("c%d-%d", c.id, c.seq)})
	default:
		c.seq++
		w.write(c, kvCommand{Client: c.id, Seq: c.seq, Op: "cas", Key: key, Expect: c.lastSeen[key], Value: fmt.Sprintf("c%d-%d", c.id, c.seq)})
	}
}

func (w *workload) finish(c *simClient, call int64, in kvInput, out kvOutput) {
	s := w.s
	w.history = append(w.history, porcupine.Operation{ClientId: c.id, Input: in, Output: out, Call: call, Return: s.now})
	c.busy = false
	w.pending--
	if in.Op == "get" {
		c.lastSeen[in.Key] = out.Value
	} else if out.OK {
		c.lastSeen[in.Key] = in.Value
	}
	s.after(1+int64(s.rng.IntN(30)), func() { w.next(c) })
}

// write proposes cmd on a random member, and again (same seq: the state
// machine applies it once) on timeout or error, until it is acknowledged.
func (w *workload) write(c *simClient, cmd kvCommand) {
	s := w.s
	call, data := s.now, s.encode(cmd)
	in := kvInput{Op: cmd.Op, Key: cmd.Key, Value: cmd.Value, Expect: cmd.Expect}
	c.busy = true
	w.pending++
	attempt := 0
	var try func()
	try = func() {
		attempt++
		mine, m := attempt, s.randomLive()
		if m == nil {
			s.after(20, try)
			return
		}
		core := m.core
		settled := false
		id := core.Propose(data, func(r Result) {
			s.after(0, func() {
				if settled || mine != attempt {
					return
				}
				settled = true
				if r.Err != nil {
					s.after(5+int64(s.rng.IntN(40)), try)
					return
				}
				res := s.result(r.Value)
				if res.Stale || res.Err != "" {
					s.violate("client %d command %s answered %+v", c.id, cmd.id(), res)
				}
				w.acked = append(w.acked, cmd.id())
				w.finish(c, call, in, kvOutput{OK: res.OK})
			})
		})
		s.after(opTimeoutMs, func() {
			if settled || mine != attempt {
				return
			}
			settled = true
			if m.core == core {
				core.Cancel(id)
			}
			try()
		})
	}
	try()
}

// read asks a random member for a linearizable read and, once it may, reads
// that member's state machine directly.
func (w *workload) read(c *simClient, key string) {
	s := w.s
	call := s.now
	c.busy = true
	w.pending++
	attempt := 0
	var try func()
	try = func() {
		attempt++
		mine, m := attempt, s.randomLive()
		if m == nil {
			s.after(20, try)
			return
		}
		core, sm := m.core, m.sm
		settled := false
		id := core.Read(func(err error) {
			value := sm.get(key) // read now: the state at the moment the read may be served
			s.after(0, func() {
				if settled || mine != attempt {
					return
				}
				settled = true
				if err != nil {
					s.after(5+int64(s.rng.IntN(40)), try)
					return
				}
				w.finish(c, call, kvInput{Op: "get", Key: key}, kvOutput{Value: value})
			})
		})
		s.after(opTimeoutMs, func() {
			if settled || mine != attempt {
				return
			}
			settled = true
			if m.core == core {
				core.Cancel(id)
			}
			try()
		})
	}
	try()
}

// fault injects one fault and schedules its repair and the next fault.
func (w *workload) fault() {
	s := w.s
	if w.stopping {
		return
	}
	switch r := s.rng.IntN(10); {
	case r < 2:
		w.crashOne()
	case r < 4:
		if l := s.leader(); l != nil {
			s.isolate(l.id)
			s.stats.Partitions++
			s.after(200+int64(s.rng.IntN(800)), s.heal)
		}
	case r < 6:
		s.split()
		s.stats.Partitions++
		s.after(200+int64(s.rng.IntN(800)), s.heal)
	case r < 8:
		w.changeMembership()
	}
	s.after(200+int64(s.rng.IntN(500)), w.fault)
}

func (w *workload) crashOne() {
	s := w.s
	down := len(s.allIDs()) - len(s.liveIDs())
	if down >= (len(s.allIDs())-1)/2 {
		return
	}
	m := s.randomLive()
	if m == nil {
		return
	}
	s.crash(m)
	s.after(100+int64(s.rng.IntN(1200)), func() {
		if m.core == nil && !m.gone && !w.stopping {
			s.start(m)
			s.stats.Restarts++
		}
	})
}

func (w *workload) changeMembership() {
	s := w.s
	leader := s.leader()
	if leader == nil || w.changing {
		return
	}
	st := leader.core.Status()
	voters := 0
	var candidates []uint64
	for _, m := range st.Members {
		if !m.Learner {
			voters++
		}
		if m.ID != leader.id {
			candidates = append(candidates, m.ID)
		}
	}
	w.changing = true
	done := func(err error) { s.after(0, func() { w.changing = false }) }
	if w.added < 3 && s.rng.IntN(2) == 0 {
		w.added++
		s.stats.Added++
		w.admitNewcomer(leader, "newcomer", done)
		return
	}
	if voters <= 3 || len(candidates) == 0 {
		w.changing = false
		return
	}
	victim := candidates[s.rng.IntN(len(candidates))]
	leader.core.Remove(victim, func(err error) {
		done(err)
		if err == nil {
			s.after(0, func() {
				if m := s.members[victim]; m != nil && !m.gone {
					if m.core != nil {
						s.crash(m)
					}
					m.gone = true
					s.stats.Removed++
				}
			})
		}
	})
	s.process(leader)
}

// rejoinStuck lets a member that cannot follow the leader in again as a
// newcomer, as a room does (its recovery knocks on the room id): a member
// that missed a change of voters cannot check the proof of a leader
// elected by the new voters (proof.go).
func (w *workload) rejoinStuck() {
	s := w.s
	s.after(stuckCheckMs, w.rejoinStuck)
	leader := s.leader()
	if leader == nil {
		return
	}
	for _, id := range s.liveIDs() {
		m := s.members[id]
		st := m.core.Status()
		switch {
		case st.RefusedLeader == 0 || st.Leader == leader.id || st.Removed:
			m.stuckSince = 0
		case m.stuckSince == 0:
			m.stuckSince = s.now
		case s.now-m.stuckSince >= stuckMs:
			w.replace(m)
		}
	}
}

// replace shuts m down for good, has it removed, and adds a newcomer in
// its place.
func (w *workload) replace(m *simMember) {
	s := w.s
	s.crash(m)
	m.gone = true
	s.stats.Rejoined++
	w.removeGone(m.id)
	w.admitReplacement()
}

// admitNewcomer has leader add a fresh member it sponsors, and calls done
// with the outcome. When the leader cannot see that through (it stopped
// leading), the newcomer gives up, as in a room: it follows only its
// sponsor.
func (w *workload) admitNewcomer(leader *simMember, context string, done func(error)) {
	s := w.s
	id := leader.core.Status().NextID
	for s.members[id] != nil {
		id++
	}
	fresh := &simMember{id: id, storage: NewMemoryStorage(), sponsor: leader.id}
	s.members[id] = fresh
	s.start(fresh)
	leader.core.AddLearner(id, []byte(context), func(err error) {
		if err != nil {
			s.after(0, func() {
				if fresh.core != nil {
					s.crash(fresh)
				}
				fresh.gone = true
				w.removeGone(id)
			})
		}
		done(err)
	})
	s.process(leader)
}

// admitReplacement has whoever leads admit a newcomer in place of a member
// that is gone, until one gets in.
func (w *workload) admitReplacement() {
	if leader := w.s.leader(); leader != nil {
		w.admitNewcomer(leader, "rejoined", func(err error) {
			if err != nil {
				w.admitReplacement()
			}
		})
		return
	}
	w.s.after(stuckCheckMs, w.admitReplacement)
}

// removeGone removes member id through whoever leads, until it is removed.
func (w *workload) removeGone(id uint64) {
	s := w.s
	leader := s.leader()
	if leader == nil {
		s.after(stuckCheckMs, func() { w.removeGone(id) })
		return
	}
	leader.core.Remove(id, func(err error) {
		if err != nil && !errors.Is(err, ErrNotMember) {
			s.after(stuckCheckMs, func() { w.removeGone(id) })
		}
	})
	s.process(leader)
}

// checkAcknowledged: every acknowledged write executed exactly once, at an
// index every running member has applied.
func (w *workload) checkAcknowledged() {
	s := w.s
	at := map[string]uint64{}
	for index, id := range s.executed {
		at[id] = index
	}
	for _, id := range w.acked {
		index, ok := at[id]
		if !ok || s.executions[id] != 1 {
			s.violate("acknowledged write %s executed %d times", id, s.executions[id])
			continue
		}
		for _, mid := range s.liveIDs() {
			if st := s.members[mid].core.Status(); !st.Removed && st.Applied < index {
				s.violate("member %d applied only up to %d, missing acknowledged write %s at %d", mid, st.Applied, id, index)
			}
		}
	}
}

func (w *workload) checkHistory(t *testing.T) {
	t.Helper()
	result, info := porcupine.CheckOperationsVerbose(kvModel, w.history, 30*time.Second)
	if result == porcupine.Ok {
		return
	}
	dir := os.Getenv("ROOMS_ARTIFACTS")
	if dir == "" {
		dir = os.TempDir()
	}
	path := filepath.Join(dir, fmt.Sprintf("rooms-linearizability-seed-%d.html", w.s.seed))
	if err := porcupine.VisualizePath(kvModel, info, path); err != nil {
		t.Logf("could not write visualisation: %v", err)
	}
	w.s.violate("history of %d operations is not linearizable (porcupine: %v); visualisation: %s", len(w.history), result, path)
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

func simOptionsFor(seed uint64, members int) simOptions {
	return simOptions{
		members: members, drop: 0.01 + float64(seed%5)*0.02, dup: 0.02,
		minDelayMs: 1, maxDelayMs: 15, snapshotEvery: 50 + seed%4*25,
	}
}

// TestLinearizable runs a fixed set of seeds; make soak runs many more.
func TestLinearizable(t *testing.T) {
	for _, tc := range []struct {
		members int
		seeds   []uint64
	}{
		{3, []uint64{1, 2, 3, 4, 5, 6}},
		{5, []uint64{7, 8, 9, 10, 11}},
		{7, []uint64{12, 13, 14, 15}},
	} {
		for _, seed := range tc.seeds {
			t.Run(fmt.Sprintf("members=%d/seed=%d", tc.members, seed), func(t *testing.T) {
				runSim(t, seed, simOptionsFor(seed, tc.members))
			})
		}
	}
}

// TestLinearizableJSONState runs the same proof over the room's real state
// machine: JSON Patch updates, test-and-replace conditional updates and its
// exactly-once table.
func TestLinearizableJSONState(t *testing.T) {
	for _, tc := range []struct{ members, seed int }{{3, 21}, {3, 22}, {5, 23}, {5, 24}, {7, 25}} {
		t.Run(fmt.Sprintf("members=%d/seed=%d", tc.members, tc.seed), func(t *testing.T) {
			opts := simOptionsFor(uint64(tc.seed), tc.members)
			opts.jsonState = true
			runSim(t, uint64(tc.seed), opts)
		})
	}
}

// TestSoak runs ROOMS_SOAK_SEEDS seeds starting at ROOMS_SOAK_FIRST (default
// 1000), cycling through 3, 5 and 7 members. It is what `make soak` runs.
func TestSoak(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("ROOMS_SOAK_SEEDS"))
	if n <= 0 {
		t.Skip("set ROOMS_SOAK_SEEDS (make soak SEEDS=N)")
	}
	first := uint64(1000)
	if v, err := strconv.ParseUint(os.Getenv("ROOMS_SOAK_FIRST"), 10, 64); err == nil {
		first = v
	}
	sizes := []int{3, 5, 7}
	for i := range n {
		seed := first + uint64(i)
		members := sizes[i%len(sizes)]
		opts := simOptionsFor(seed, members)
		opts.jsonState = i%2 == 1
		t.Run(fmt.Sprintf("members=%d/seed=%d/json=%v", members, seed, opts.jsonState), func(t *testing.T) {
			runSim(t, seed, opts)
		})
	}
}

// TestSimulationIsDeterministic: a seed must replay the same run, or a
// failing seed could not be debugged.
func TestSimulationIsDeterministic(t *testing.T) {
	run := func() (out string) {
		t.Run("run", func(t *testing.T) {
			cryptotest.SetGlobalRandom(t, 42)
			out = simTrace()
		})
		return out
	}
	if a, b := run(), run(); a != b {
		t.Fatalf("two runs of seed 42 differ:\n%s\n%s", a, b)
	}
}

// simTrace runs seed 42 with one client and returns everything observable.
func simTrace() string {
	s := newSim(42, simOptionsFor(42, 3))
	w := &workload{s: s}
	c := &simClient{id: 0, lastSeen: map[string]string{}}
	w.clients = append(w.clients, c)
	s.after(0, func() { w.next(c) })
	s.after(300, w.fault)
	s.runUntil(3000, nil)
	return fmt.Sprintf("%s history=%v%s", s.describe(), w.history, s.dump())
}
