package raftnode

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// membershipLog records, for every state machine of a simulated room, the
// member tables it is told of and where in its apply sequence.
type membershipLog struct {
	tables []observedTable
	// errs are order violations seen as they happened.
	errs []string
	// last is each member's latest table, by member id.
	last map[uint64]string
}

type observedTable struct {
	member   uint64
	index    uint64
	restored bool // told after a snapshot was restored, not a conf change
	table    string
}

func newMembershipLog() *membershipLog { return &membershipLog{last: map[uint64]string{}} }

// observingMachine wraps a member's state machine and checks that entries
// and member tables reach it in strictly increasing index order.
type observingMachine struct {
	simMachine
	log       *membershipLog
	member    uint64
	lastIndex uint64
	restored  bool
}

func (l *membershipLog) wrap(member uint64, sm simMachine) simMachine {
	return &observingMachine{simMachine: sm, log: l, member: member}
}

func (m *observingMachine) step(what string, index uint64) {
	if index <= m.lastIndex {
		m.log.errs = append(m.log.errs, fmt.Sprintf("member %d: %s at index %d after index %d", m.member, what, index, m.lastIndex))
	}
	m.lastIndex = index
}

func (m *observingMachine) Apply(index uint64, data []byte) any {
	m.step("entry", index)
	return m.simMachine.Apply(index, data)
}

func (m *observingMachine) Restore(snapshot []byte) error {
	m.restored = true
	return m.simMachine.Restore(snapshot)
}

func (m *observingMachine) ApplyMembership(index uint64, members []Member) {
	if !m.restored {
		m.step("conf change", index)
	} else if index < m.lastIndex {
		m.log.errs = append(m.log.errs, fmt.Sprintf("member %d: snapshot at %d restored after index %d", m.member, index, m.lastIndex))
	}
	m.lastIndex = max(m.lastIndex, index)
	if !slices.IsSortedFunc(members, func(a, b Member) int { return cmp.Compare(a.ID, b.ID) }) {
		m.log.errs = append(m.log.errs, fmt.Sprintf("member %d: table at %d not sorted", m.member, index))
	}
	table := describeMembers(members)
	m.log.tables = append(m.log.tables, observedTable{member: m.member, index: index, restored: m.restored, table: table})
	m.log.last[m.member] = table
	m.restored = false
}

func describeMembers(members []Member) string {
	var parts []string
	for _, m := range members {
		role := "voter"
		if m.Learner {
			role = "learner"
		}
		parts = append(parts, fmt.Sprintf("%d:%s:%s", m.ID, role, m.Context))
	}
	return strings.Join(parts, " ")
}

// check verifies that every member was told the same table at the same
// index, that a table restored from a snapshot at index i is the one the
// last conf change at or before i made, and that each running member's
// last table is its Core's.
// It returns how many newcomers caught up by snapshot and how many restores
// happened beyond each member's first (restarts, members far behind).
func (l *membershipLog) check(t *testing.T, s *sim) (snapshotCatchUps, restarts int) {
	t.Helper()
	for _, e := range l.errs {
		t.Error(e)
	}
	byIndex := map[uint64]string{}
	var confIndexes []uint64
	for _, o := range l.tables {
		if prev, ok := byIndex[o.index]; ok && prev != o.table {
			t.Errorf("member %d was told at index %d: %s; another member: %s", o.member, o.index, o.table, prev)
		}
		byIndex[o.index] = o.table
		if !o.restored || o.index == 1 { // 1: the founders' snapshot
			confIndexes = append(confIndexes, o.index)
		}
	}
	slices.Sort(confIndexes)
	confIndexes = slices.Compact(confIndexes)
	restoresOf := map[uint64]int{}
	for _, o := range l.tables {
		if !o.restored {
			continue
		}
		restoresOf[o.member]++
		i, _ := slices.BinarySearch(confIndexes, o.index+1)
		if i == 0 {
			t.Errorf("member %d restored a snapshot at %d before any table is known", o.member, o.index)
			continue
		}
		if want := byIndex[confIndexes[i-1]]; o.table != want {
			t.Errorf("member %d restored a snapshot at %d with members %s; at %d the table became %s", o.member, o.index, o.table, confIndexes[i-1], want)
		}
		if o.member > uint64(s.opts.members) && restoresOf[o.member] == 1 {
			snapshotCatchUps++
		}
	}
	for _, n := range restoresOf {
		restarts += n - 1
	}
	for _, id := range s.liveIDs() {
		if got, want := l.last[id], describeMembers(s.members[id].core.Status().Members); got != want {
			t.Errorf("member %d was last told %s; its table is %s", id, got, want)
		}
	}
	return snapshotCatchUps, restarts
}

// TestMembershipReachesTheStateMachineInOrder: through crashes, restarts,
// partitions, newcomers catching up by snapshot and removals, every state
// machine is told the member table at each conf change and each snapshot
// restore, in log order, and the same table at the same index as every other
// member.
func TestMembershipReachesTheStateMachineInOrder(t *testing.T) {
	var catchUps, restarts int
	for _, seed := range []uint64{31, 32, 33, 34} {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			opts := simOptionsFor(seed, 3)
			opts.snapshotEvery = 20
			opts.membership = newMembershipLog()
			s := runSim(t, seed, opts)
			c, r := opts.membership.check(t, s)
			t.Logf("tables=%d newcomer snapshot catch-ups=%d restarts=%d", len(opts.membership.tables), c, r)
			catchUps += c
			restarts += r
		})
	}
	if catchUps == 0 || restarts == 0 {
		t.Fatalf("the seeds exercised %d snapshot catch-ups of newcomers and %d restarts; pick seeds with both", catchUps, restarts)
	}
}
