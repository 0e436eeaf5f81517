package raftnode

import (
	"testing"

	pb "go.etcd.io/raft/v3/raftpb"
)

// A follower does not answer an append that only tells it of a commit it
// has acknowledged the entries of; it answers every other append, a probe
// that repeats the commit index included.
func TestCommitNoticeIsNotAnswered(t *testing.T) {
	c := hostileTarget(t, false)
	term := c.Status().Term + 1
	app := func(index, logTerm, commit uint64, entries ...*pb.Entry) []*pb.Message {
		from, to := uint64(2), uint64(1)
		if err := c.Step(&pb.Message{Type: pb.MsgApp.Enum(), From: &from, To: &to, Term: &term,
			Index: &index, LogTerm: &logTerm, Commit: &commit, Entries: entries}); err != nil {
			t.Fatal(err)
		}
		var sent []*pb.Message
		if err := c.Process(func(msgs []*pb.Message) { sent = append(sent, msgs...) }); err != nil {
			t.Fatal(err)
		}
		return sent
	}
	answers := func(sent []*pb.Message) (n int) {
		for _, m := range sent {
			if m.GetType() == pb.MsgAppResp {
				n++
			}
		}
		return n
	}
	last := c.Status().Commit
	if n := answers(app(last, 1, last, &pb.Entry{Term: &term, Index: new(last + 1)})); n != 1 {
		t.Fatalf("an append with an entry: %d answers, want 1", n)
	}
	if n := answers(app(last+1, term, last+1)); n != 0 {
		t.Fatalf("the commit notice: %d answers, want none", n)
	}
	if st := c.Status(); st.Commit != last+1 {
		t.Fatalf("the commit notice was not taken: %+v", st)
	}
	if n := answers(app(last+1, term, last+1)); n != 1 {
		t.Fatalf("a probe that moves no commit index: %d answers, want 1", n)
	}
}
