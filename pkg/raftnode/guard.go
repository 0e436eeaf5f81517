package raftnode

import (
	"errors"
	"fmt"

	pb "go.etcd.io/raft/v3/raftpb"
)

// ErrRejectedMessage: a message from another member was refused before it
// could break raft's invariants. etcd raft trusts its peers and panics on
// some impossible messages; in a room any member may be hostile, so a bad
// message must cost its sender, never this member.
var ErrRejectedMessage = errors.New("raftnode: message rejected")

// checkMessage refuses what raft would panic on. A leader's heartbeat
// commits at most what the follower acknowledged, so never beyond the
// follower's persisted log.
func (c *Core) checkMessage(m *pb.Message) error {
	if m.GetType() != pb.MessageType_MsgHeartbeat {
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
