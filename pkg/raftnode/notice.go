package raftnode

import (
	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
)

// Commit notices. After each commit the leader sends every follower an
// empty append that carries only the new commit index, and raft answers
// every append. The answer to such a notice tells the leader nothing new
// (this member acknowledged that index already), yet costs one message
// each way per follower and change: in a browser, a data-channel send and
// a receive, on the path of every update. So a follower leaves it out.
// Dropping an answer never affects safety, and liveness holds: if the
// earlier acknowledgement was lost, the leader committed without it, and
// its next probe (after a heartbeat) advances no commit index, so it is
// answered.

// ackMark is the last acknowledgement of an append this member sent.
type ackMark struct{ to, term, index uint64 }

// noteCommitNotice counts m if it is a commit notice: an append without
// entries that moves this member's commit index.
func (c *Core) noteCommitNotice(m *pb.Message, st raft.BasicStatus) {
	if m.GetType() == pb.MessageType_MsgApp && len(m.GetEntries()) == 0 && m.GetCommit() > st.GetCommit() {
		c.notices++
	}
}

// withoutNoticeAnswers drops answers to commit notices from msgs: those
// that acknowledge, in the same term and to the same leader, the index
// this member acknowledged last. It remembers the acknowledgements sent.
func (c *Core) withoutNoticeAnswers(msgs []*pb.Message) []*pb.Message {
	var kept []*pb.Message // nil while nothing is dropped
	for i, m := range msgs {
		if m.GetType() == pb.MessageType_MsgAppResp && !m.GetReject() {
			mark := ackMark{to: m.GetTo(), term: m.GetTerm(), index: m.GetIndex()}
			if c.notices > 0 && mark == c.acked {
				c.notices--
				if kept == nil {
					kept = append(make([]*pb.Message, 0, len(msgs)), msgs[:i]...)
				}
				continue
			}
			c.acked = mark
		}
		if kept != nil {
			kept = append(kept, m)
		}
	}
	if kept == nil {
		return msgs
	}
	return kept
}
