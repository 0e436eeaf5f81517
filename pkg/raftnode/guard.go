package raftnode

import (
	"errors"
	"fmt"

	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// ErrRejectedMessage: a message from another member was refused before it
// could break raft's invariants. etcd raft trusts its peers and panics on
// some impossible messages; in a room any member may be hostile, so a bad
// message must cost its sender, never this member.
var ErrRejectedMessage = errors.New("raftnode: message rejected")

// checkMessage refuses what raft would panic on or wrongly believe:
//   - raft takes a message without a term for one of its own, from this
//     member: a peer's heartbeat or append of term 0 would make its sender
//     leader. Only forwarded proposals and read requests have no term.
//   - a forwarded proposal may carry the sender's own removal, but no
//     other membership change: only the leader changes who is in the room.
//   - a leader's heartbeat commits at most what the follower acknowledged,
//     so never beyond the follower's persisted log.
func (c *Core) checkMessage(m *pb.Message) error {
	t := m.GetType()
	if m.GetTerm() == 0 && t != pb.MessageType_MsgProp && t != pb.MessageType_MsgReadIndex {
		return fmt.Errorf("%w: %s from %d without a term", ErrRejectedMessage, t, m.GetFrom())
	}
	if t == pb.MessageType_MsgProp {
		return checkForwardedProposal(m)
	}
	if t != pb.MessageType_MsgHeartbeat {
		return nil
	}
	last, err := c.storage.LastIndex()
	if err != nil {
		return err
	}
	if m.GetCommit() > last {
		return fmt.Errorf("%w: heartbeat from %d commits index %d beyond the last index %d", ErrRejectedMessage, m.GetFrom(), m.GetCommit(), last)
	}
	return nil
}

// checkForwardedProposal refuses membership changes in a proposal a member
// forwarded, except its own removal (a member leaving the room).
func checkForwardedProposal(m *pb.Message) error {
	for _, e := range m.GetEntries() {
		switch e.GetType() {
		case pb.EntryType_EntryNormal:
		case pb.EntryType_EntryConfChange:
			var cc pb.ConfChange
			if err := proto.Unmarshal(e.GetData(), &cc); err != nil || cc.GetType() != pb.ConfChangeType_ConfChangeRemoveNode || cc.GetNodeId() != m.GetFrom() {
				return fmt.Errorf("%w: %d proposed a membership change (%s of %d), which only the leader makes", ErrRejectedMessage, m.GetFrom(), cc.GetType(), cc.GetNodeId())
			}
		default:
			return fmt.Errorf("%w: %d proposed an entry of type %s", ErrRejectedMessage, m.GetFrom(), e.GetType())
		}
	}
	return nil
}

// stepGuarded steps m, turning a raft panic into ErrRejectedMessage. The
// panics raft raises on a peer's message are checks made before it changes
// anything, so the member goes on as if the message never came.
func (c *Core) stepGuarded(m *pb.Message) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%w: %s from %d: %v", ErrRejectedMessage, m.GetType(), m.GetFrom(), p)
		}
	}()
	return c.rn.Step(m)
}
