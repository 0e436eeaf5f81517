package raftnode

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

const testTimeout = 10 * time.Second

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

func TestNodeProposeOnFollowerAndReadEverywhere(t *testing.T) {
	c := newCluster(t, 3, nil)
	ctx := testContext(t)
	leader := c.leader(testTimeout)
	follower := leader%3 + 1
	if err := c.put(ctx, follower, 1, 1, "k", "v1"); err != nil {
		t.Fatalf("propose on follower %d: %v", follower, err)
	}
	for id := uint64(1); id <= 3; id++ {
		got, err := c.readOn(ctx, id, "k")
		if err != nil {
			t.Fatalf("read on %d: %v", id, err)
		}
		if got != "v1" {
			t.Errorf("member %d read %q, want v1", id, got)
		}
	}
}

func TestNodeRetriedProposalAppliesOnce(t *testing.T) {
	c := newCluster(t, 3, nil)
	ctx := testContext(t)
	leader := c.leader(testTimeout)
	cmd := mustJSON(kvCommand{Client: 7, Seq: 1, Op: "cas", Key: "seat", Expect: "", Value: "alice"})
	first, err := c.node(leader).Propose(ctx, cmd)
	if err != nil {
		t.Fatal(err)
	}
	retry, err := c.node(leader).Propose(ctx, cmd) // same client and seq: a retry
	if err != nil {
		t.Fatal(err)
	}
	if !first.(kvResult).OK || !retry.(kvResult).OK {
		t.Fatalf("first %+v, retry %+v: a retry must return the first result", first, retry)
	}
	executions := 0
	c.inspect(leader, func(kv *kvMachine) { executions = len(kv.Last) })
	if executions != 1 {
		t.Fatalf("exactly-once table has %d clients, want 1", executions)
	}
}

func TestNodeSingleMemberLeadsAtOnce(t *testing.T) {
	c := newCluster(t, 1, nil)
	ctx := testContext(t)
	if err := c.put(ctx, 1, 1, 1, "k", "v"); err != nil {
		t.Fatal(err)
	}
}

func TestNodeMembershipLifecycle(t *testing.T) {
	c := newCluster(t, 1, nil)
	ctx := testContext(t)
	if err := c.put(ctx, 1, 1, 1, "before", "joining"); err != nil {
		t.Fatal(err)
	}
	for id := uint64(2); id <= 3; id++ {
		c.start(id, NewMemoryStorage())
		if err := c.node(1).AddLearner(ctx, id, []byte("participant")); err != nil {
			t.Fatalf("add learner %d: %v", id, err)
		}
		c.waitFor("promotion", testTimeout, func(e clusterEvent) bool {
			return e.member == 1 && e.membership != nil && e.membership.Type == ChangeAddVoter && e.membership.Member.ID == id
		})
		if got, err := c.readOn(ctx, id, "before"); err != nil || got != "joining" {
			t.Fatalf("new member %d read %q, %v; want the state from before it joined", id, got, err)
		}
	}
	st := c.node(1).Status()
	if len(st.Members) != 3 || st.Members[1].Learner || string(st.Members[1].Context) != "participant" {
		t.Fatalf("members = %+v, want 3 voters with their context", st.Members)
	}
	if err := c.node(1).Remove(ctx, 2); err != nil {
		t.Fatal(err)
	}
	c.stop(2)
	if err := c.node(1).AddLearner(ctx, 2, nil); !errors.Is(err, ErrIDRemoved) {
		t.Fatalf("re-adding removed id 2: err = %v, want ErrIDRemoved", err)
	}
	if st := c.node(1).Status(); st.NextID != 4 {
		t.Fatalf("NextID = %d, want 4 (ids are never reused)", st.NextID)
	}
	if err := c.put(ctx, 3, 1, 2, "after", "removal"); err != nil {
		t.Fatalf("room of two voters must still commit: %v", err)
	}
}

func TestNodeVoterCapKeepsLearners(t *testing.T) {
	c := newCluster(t, 1, func(cfg *Config) { cfg.MaxVoters = 2 })
	ctx := testContext(t)
	for id := uint64(2); id <= 3; id++ {
		c.start(id, NewMemoryStorage())
		if err := c.node(1).AddLearner(ctx, id, nil); err != nil {
			t.Fatal(err)
		}
	}
	c.waitFor("a promotion", testTimeout, func(e clusterEvent) bool {
		return e.member == 1 && e.membership != nil && e.membership.Type == ChangeAddVoter
	})
	// Both caught up (they can read), yet one stays a learner: the cap is 2
	// voters. Which one is promoted first depends on timing.
	for id := uint64(2); id <= 3; id++ {
		if _, err := c.readOn(ctx, id, "x"); err != nil {
			t.Fatal(err)
		}
	}
	voters, learners, learner := 0, 0, uint64(0)
	for _, m := range c.node(1).Status().Members {
		if m.Learner {
			learners, learner = learners+1, m.ID
		} else {
			voters++
		}
	}
	if voters != 2 || learners != 1 {
		t.Fatalf("voters=%d learners=%d, want 2 and 1", voters, learners)
	}
	if err := c.node(1).Promote(ctx, learner); !errors.Is(err, ErrTooManyVoters) {
		t.Fatalf("explicit promotion past the cap: %v, want ErrTooManyVoters", err)
	}
	if err := c.node(1).Promote(ctx, 99); !errors.Is(err, ErrNotMember) {
		t.Fatalf("promoting a stranger: %v, want ErrNotMember", err)
	}
	// The learner again: the same request is a retry, another member's is not.
	if err := c.node(1).AddLearner(ctx, learner, nil); err != nil {
		t.Fatalf("retried add of learner %d: %v", learner, err)
	}
	if err := c.node(1).AddLearner(ctx, learner, []byte("someone else")); !errors.Is(err, ErrMemberExists) {
		t.Fatalf("adding learner %d for someone else: %v, want ErrMemberExists", learner, err)
	}
}

func TestNodeLaggingLearnerCatchesUpFromSnapshot(t *testing.T) {
	c := newCluster(t, 3, func(cfg *Config) { cfg.SnapshotEntries = 20; cfg.CompactionMargin = 5 })
	ctx := testContext(t)
	leader := c.leader(testTimeout)
	for seq := uint64(1); seq <= 100; seq++ {
		if err := c.put(ctx, leader, 1, seq, "k", "v"+string(rune('0'+seq%10))); err != nil {
			t.Fatal(err)
		}
	}
	storage := NewMemoryStorage()
	c.start(4, storage)
	if err := c.node(leader).AddLearner(ctx, 4, nil); err != nil {
		t.Fatal(err)
	}
	got, err := c.readOn(ctx, 4, "k")
	if err != nil {
		t.Fatal(err)
	}
	want, _ := c.readOn(ctx, leader, "k")
	if got != want {
		t.Fatalf("learner read %q, leader %q", got, want)
	}
	if first, _ := storage.FirstIndex(); first <= 2 {
		t.Fatalf("learner's log starts at %d: it replayed the log instead of installing a snapshot", first)
	}
}

func TestNodeTransferLeadership(t *testing.T) {
	c := newCluster(t, 3, nil)
	ctx := testContext(t)
	old := c.leader(testTimeout)
	if err := c.node(old).TransferLeadership(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if st := c.node(old).Status(); st.Leader == old || st.Leader == 0 {
		t.Fatalf("leader after transfer = %d (old %d)", st.Leader, old)
	}
	if err := c.put(ctx, old, 1, 1, "k", "v"); err != nil {
		t.Fatalf("propose after transfer: %v", err)
	}
}

// A transfer to a voter that cannot campaign (here: stopped) is given up by
// raft after an election timeout; TransferLeadership reports it instead of
// waiting for a leader change that will not come.
func TestNodeTransferLeadershipToAGoneVoterFails(t *testing.T) {
	c := newCluster(t, 3, nil)
	leader := c.leader(testTimeout)
	gone := leader%3 + 1
	c.stop(gone)
	err := c.node(leader).TransferLeadership(testContext(t), gone)
	if !errors.Is(err, ErrTransferFailed) {
		t.Fatalf("transfer to stopped member %d: %v, want ErrTransferFailed", gone, err)
	}
	if st := c.node(leader).Status(); st.Leader != leader {
		t.Fatalf("leader after the failed transfer = %d, want %d still", st.Leader, leader)
	}
}

// A member alone has nobody to hand over to, and says so.
func TestNodeTransferLeadershipWithNoOtherVoter(t *testing.T) {
	c := newCluster(t, 1, nil)
	leader := c.leader(testTimeout)
	if err := c.node(leader).TransferLeadership(testContext(t), 0); !errors.Is(err, ErrNoTransferee) {
		t.Fatalf("transfer in a room of one: %v, want ErrNoTransferee", err)
	}
}

func TestNodeWithoutQuorumTimesOutThenStops(t *testing.T) {
	c := newCluster(t, 3, nil)
	leader := c.leader(testTimeout)
	for id := uint64(1); id <= 3; id++ {
		if id != leader {
			c.stop(id)
		}
	}
	n := c.node(leader)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err := n.Propose(ctx, mustJSON(kvCommand{Client: 1, Seq: 1, Op: "put", Key: "k", Value: "v"}))
	if !errors.Is(err, ErrTimeout) && !errors.Is(err, ErrProposalDropped) {
		t.Fatalf("propose without quorum: %v, want ErrTimeout or ErrProposalDropped", err)
	}
	n.Stop()
	if _, err := n.Propose(context.Background(), []byte("x")); !errors.Is(err, ErrStopped) {
		t.Fatalf("propose after Stop: %v, want ErrStopped", err)
	}
	if err := n.Read(context.Background()); !errors.Is(err, ErrStopped) {
		t.Fatalf("read after Stop: %v, want ErrStopped", err)
	}
}

func TestNodeRestartFromStorageKeepsState(t *testing.T) {
	c := newCluster(t, 1, func(cfg *Config) { cfg.SnapshotEntries = 5; cfg.CompactionMargin = 2 })
	ctx := testContext(t)
	for seq := uint64(1); seq <= 12; seq++ {
		if err := c.put(ctx, 1, 1, seq, "k", fmt.Sprintf("v%d", seq)); err != nil {
			t.Fatal(err)
		}
	}
	storage := c.storage[1]
	c.stop(1)
	c.start(1, storage)
	if got, err := c.readOn(ctx, 1, "k"); err != nil || got != "v12" {
		t.Fatalf("after restart read %q, %v; want v12", got, err)
	}
	// The exactly-once table survived too: seq 12 again is a retry, not a new write.
	v, err := c.node(1).Propose(ctx, mustJSON(kvCommand{Client: 1, Seq: 12, Op: "put", Key: "k", Value: "again"}))
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := c.readOn(ctx, 1, "k"); got != "v12" || !v.(kvResult).OK {
		t.Fatalf("retry after restart changed the state to %q (result %+v)", got, v)
	}
}
