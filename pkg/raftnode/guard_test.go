package raftnode

import (
	"errors"
	"log/slog"
	"testing"

	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// hostileTarget is a Core under attack from member 2: a follower in a room
// of three voters, or the leader of a room where 2 is a learner.
func hostileTarget(t testing.TB, leader bool) *Core {
	t.Helper()
	members := []Member{{ID: 1}, {ID: 2}, {ID: 3}}
	if leader {
		members = []Member{{ID: 1}, {ID: 2, Learner: true}}
	}
	storage := NewMemoryStorage()
	if err := Bootstrap(storage, newKV(), members); err != nil {
		t.Fatal(err)
	}
	core, err := NewCore(Config{ID: 1, RandSeed: 1, Logger: slog.New(slog.DiscardHandler)}, storage, newKV())
	if err != nil {
		t.Fatal(err)
	}
	process(t, core)
	if leader {
		for range 3 * DefaultElectionTicks {
			core.Tick()
			process(t, core)
		}
		if core.Status().Role != RoleLeader {
			t.Fatalf("the single voter did not become leader: %+v", core.Status())
		}
		core.Propose([]byte(`{"client":1,"seq":1,"op":"put","key":"k","value":"v"}`), func(Result) {})
		process(t, core)
	}
	return core
}

func process(t testing.TB, c *Core) {
	t.Helper()
	if err := c.Process(func([]*pb.Message) {}); err != nil {
		t.Fatal(err)
	}
}

// stepAsMember2 delivers m as sent by member 2 and lets the core run on.
func stepAsMember2(t testing.TB, c *Core, m *pb.Message) error {
	from, to := uint64(2), uint64(1)
	m.From, m.To = &from, &to
	err := c.Step(m)
	process(t, c)
	for range 3 {
		c.Tick()
		process(t, c)
	}
	return err
}

func TestStepRefusesHeartbeatBeyondTheLog(t *testing.T) {
	c := hostileTarget(t, false)
	term, commit := c.Status().Term, uint64(1000)
	err := stepAsMember2(t, c, &pb.Message{Type: pb.MsgHeartbeat.Enum(), Term: &term, Commit: &commit})
	if !errors.Is(err, ErrRejectedMessage) {
		t.Fatalf("heartbeat committing index 1000 of a 1-entry log: err %v, want ErrRejectedMessage", err)
	}
	if st := c.Status(); st.Commit >= 1000 {
		t.Errorf("commit index moved to %d", st.Commit)
	}
}

// FuzzStepFromPeer feeds arbitrary raft messages from a member to a
// follower and to a leader: whatever the message, no panic may escape
// (etcd raft panics on some impossible messages; a hostile member would
// otherwise end the page's Go runtime).
func FuzzStepFromPeer(f *testing.F) {
	seed := func(m *pb.Message) {
		b, _ := proto.Marshal(m)
		f.Add(b, false)
		f.Add(b, true)
	}
	u := func(v uint64) *uint64 { return &v }
	seed(&pb.Message{Type: pb.MsgHeartbeat.Enum(), Term: u(1), Commit: u(1000)})
	seed(&pb.Message{Type: pb.MsgAppResp.Enum(), Term: u(2), Index: u(1000)})
	seed(&pb.Message{Type: pb.MsgAppResp.Enum(), Term: u(2), Index: u(1), Reject: proto.Bool(true), RejectHint: u(0)})
	seed(&pb.Message{Type: pb.MsgApp.Enum(), Term: u(5), Index: u(1), LogTerm: u(1), Commit: u(3),
		Entries: []*pb.Entry{{Term: u(5), Index: u(7), Data: []byte("x")}, {Term: u(4), Index: u(2)}}})
	seed(&pb.Message{Type: pb.MsgSnap.Enum(), Term: u(9), Snapshot: &pb.Snapshot{Data: []byte("garbage"),
		Metadata: &pb.SnapshotMetadata{Index: u(50), Term: u(9), ConfState: &pb.ConfState{Voters: []uint64{2}}}}})
	seed(&pb.Message{Type: pb.MsgVote.Enum(), Term: u(40), Index: u(99), LogTerm: u(40)})
	seed(&pb.Message{Type: pb.MsgReadIndexResp.Enum(), Term: u(1), Index: u(500), Entries: []*pb.Entry{{Data: []byte("ctx")}}})
	seed(&pb.Message{Type: pb.MsgTimeoutNow.Enum(), Term: u(1)})
	f.Fuzz(func(t *testing.T, wire []byte, leader bool) {
		var m pb.Message
		if proto.Unmarshal(wire, &m) != nil {
			return
		}
		c := hostileTarget(t, leader)
		_ = stepAsMember2(t, c, &m) // refused or taken; either way no panic
	})
}

// etcd raft takes a message without a term as its own: a peer's heartbeat
// of term 0 would make the peer this member's leader.
func TestStepRefusesMessagesWithoutTerm(t *testing.T) {
	c := hostileTarget(t, false)
	for _, typ := range []pb.MessageType{pb.MsgHeartbeat, pb.MsgApp, pb.MsgSnap, pb.MsgTimeoutNow, pb.MsgVote} {
		if err := stepAsMember2(t, c, &pb.Message{Type: typ.Enum()}); !errors.Is(err, ErrRejectedMessage) {
			t.Errorf("%s without a term: err %v, want ErrRejectedMessage", typ, err)
		}
		if st := c.Status(); st.Leader == 2 {
			t.Fatalf("%s without a term made 2 the leader: %+v", typ, st)
		}
	}
}

// A member may forward its own removal to the leader, and no other
// membership change.
func TestStepRefusesForwardedMembershipChanges(t *testing.T) {
	c := hostileTarget(t, true)
	proposal := func(typ pb.ConfChangeType, id uint64) *pb.Message {
		cc, _ := proto.Marshal(&pb.ConfChange{Type: typ.Enum(), NodeId: &id})
		return &pb.Message{Type: pb.MsgProp.Enum(), Entries: []*pb.Entry{{Type: pb.EntryConfChange.Enum(), Data: cc}}}
	}
	for _, m := range []*pb.Message{
		proposal(pb.ConfChangeAddNode, 2),
		proposal(pb.ConfChangeRemoveNode, 1),
		proposal(pb.ConfChangeAddLearnerNode, 9),
		{Type: pb.MsgProp.Enum(), Entries: []*pb.Entry{{Type: pb.EntryConfChangeV2.Enum()}}},
	} {
		if err := stepAsMember2(t, c, m); !errors.Is(err, ErrRejectedMessage) {
			t.Errorf("forwarded %v: err %v, want ErrRejectedMessage", m.GetEntries()[0], err)
		}
	}
	if st := c.Status(); len(st.Members) != 2 || !st.Members[1].Learner {
		t.Fatalf("members after refused changes: %+v", st.Members)
	}
	if err := stepAsMember2(t, c, proposal(pb.ConfChangeRemoveNode, 2)); err != nil {
		t.Fatalf("2 asking for its own removal: %v", err)
	}
	if st := c.Status(); len(st.Members) != 1 {
		t.Fatalf("members after 2 left: %+v", st.Members)
	}
}

// Only the leader changes membership; a follower asked to gets ErrNotLeader
// instead of forwarding it.
func TestMembershipChangeNeedsTheLeader(t *testing.T) {
	c := hostileTarget(t, false)
	var got error
	done := false
	c.AddLearner(9, nil, func(err error) { got, done = err, true })
	for range 3 * DefaultElectionTicks {
		if done {
			break
		}
		c.Tick()
		process(t, c)
	}
	if !errors.Is(got, ErrNotLeader) {
		t.Fatalf("a follower adding a learner: err %v (done %v), want ErrNotLeader", got, done)
	}
}
