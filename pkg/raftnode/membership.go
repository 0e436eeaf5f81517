package raftnode

import (
	"bytes"
	"fmt"
	"slices"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
	"go.etcd.io/raft/v3/tracker"
	"google.golang.org/protobuf/proto"
)

// Membership changes go through a local queue, one at a time: raft itself
// turns a second conf change proposed while one is pending into an empty
// entry, which would drop it silently. The head of the queue is proposed and
// proposed again every ConfChangeRetryTicks until it is applied; every change
// is idempotent when applied twice, so retries are safe.

type confRequest struct {
	id         uint64
	typ        pb.ConfChangeType
	member     Member
	done       func(error)
	proposedAt uint64
	proposed   bool
}

// isRemovalOf reports whether r removes member id: the one change any
// member may ask the leader for, about itself.
func (r *confRequest) isRemovalOf(id uint64) bool {
	return r.typ == pb.ConfChangeType_ConfChangeRemoveNode && r.member.ID == id
}

func (r *confRequest) finish(err error) {
	if r.done != nil {
		r.done(err)
		r.done = nil
	}
}

// AddLearner adds a new member as a learner: it receives the log but does not
// vote until promoted. context is stored in the member table (the room keeps
// the participant's identity there). done is called once the change is
// applied here, or with an error.
func (c *Core) AddLearner(id uint64, context []byte, done func(error)) uint64 {
	return c.enqueueConf(pb.ConfChangeAddLearnerNode, Member{ID: id, Context: context, Learner: true}, done)
}

// Promote makes a learner a voter. It fails at once with ErrNotMember for an
// unknown id and with ErrTooManyVoters when the room has MaxVoters voters.
func (c *Core) Promote(id uint64, done func(error)) uint64 {
	cur, ok := c.members.Members[id]
	switch {
	case !ok:
		done(fmt.Errorf("promote %d: %w", id, ErrNotMember))
		return 0
	case cur.Learner && c.members.voters() >= c.cfg.MaxVoters:
		done(fmt.Errorf("promote %d: %w (%d)", id, ErrTooManyVoters, c.cfg.MaxVoters))
		return 0
	}
	return c.enqueueConf(pb.ConfChangeAddNode, Member{ID: id}, done)
}

// Remove removes a member; its raft id is never used again in the room.
func (c *Core) Remove(id uint64, done func(error)) uint64 {
	return c.enqueueConf(pb.ConfChangeRemoveNode, Member{ID: id}, done)
}

func (c *Core) enqueueConf(typ pb.ConfChangeType, m Member, done func(error)) uint64 {
	if c.closed {
		done(ErrStopped)
		return 0
	}
	if m.ID == 0 {
		done(fmt.Errorf("raftnode: member id 0"))
		return 0
	}
	r := &confRequest{id: c.newRequestID(), typ: typ, member: m, done: done}
	c.conf = append(c.conf, r)
	c.pumpConfChanges()
	return r.id
}

// pumpConfChanges proposes the head of the queue when it is new or its last
// proposal is overdue, and settles requests that need no change.
func (c *Core) pumpConfChanges() {
	for len(c.conf) > 0 {
		head := c.conf[0]
		settled, err := c.checkConf(head.typ, head.member)
		if settled || err != nil {
			c.conf = c.conf[1:]
			head.finish(err)
			continue
		}
		if head.proposed && c.ticks-head.proposedAt < uint64(c.cfg.ConfChangeRetryTicks) {
			return
		}
		if !head.isRemovalOf(c.cfg.ID) && c.leader.Leader != c.cfg.ID {
			// Its proposal, if any, may still commit under the new leader;
			// the caller learns only that this member cannot see it through.
			c.conf = c.conf[1:]
			head.finish(ErrNotLeader)
			continue
		}
		if c.leader.Leader == 0 {
			return // nobody to forward to yet; try again on a later tick
		}
		cc := &pb.ConfChange{Type: head.typ.Enum(), NodeId: new(head.member.ID), Context: encodeEntry(head.id, head.member.Context)}
		head.proposed, head.proposedAt = true, c.ticks
		if err := c.rn.ProposeConfChange(cc); err != nil {
			c.log.Debug("raftnode: conf change not proposed yet", "err", err)
		}
		return
	}
}

// checkConf says whether a membership change is already in effect (settled)
// or can never take effect (err), given the replicated member table. The
// same function decides at apply time, so every member agrees.
func (c *Core) checkConf(typ pb.ConfChangeType, m Member) (settled bool, err error) {
	cur, exists := c.members.Members[m.ID]
	switch typ {
	case pb.ConfChangeAddLearnerNode:
		if c.members.isRemoved(m.ID) {
			return false, fmt.Errorf("add learner %d: %w", m.ID, ErrIDRemoved)
		}
		if exists && !cur.Learner {
			return false, fmt.Errorf("add learner %d: %w (a voter)", m.ID, ErrMemberExists)
		}
		if exists && !bytes.Equal(cur.Context, m.Context) {
			// Two doormen handed the same id to different newcomers: the
			// second must not take the first one's place.
			return false, fmt.Errorf("add learner %d: %w (with other member data)", m.ID, ErrMemberExists)
		}
		return exists, nil
	case pb.ConfChangeAddNode:
		if c.members.isRemoved(m.ID) {
			return false, fmt.Errorf("promote %d: %w", m.ID, ErrIDRemoved)
		}
		return exists && !cur.Learner, nil
	case pb.ConfChangeRemoveNode:
		return !exists, nil
	}
	return false, fmt.Errorf("raftnode: unsupported conf change %v", typ)
}

func (c *Core) applyConfChange(e *pb.Entry) {
	cc := &pb.ConfChange{}
	if err := proto.Unmarshal(e.GetData(), cc); err != nil {
		c.log.Error("raftnode: undecodable conf change; applying as no-op", "index", e.GetIndex(), "err", err)
		c.confState = c.rn.ApplyConfChange(&pb.ConfChange{})
		return
	}
	reqID, memberCtx, err := decodeEntry(cc.GetContext())
	if err != nil {
		reqID, memberCtx = 0, cc.GetContext()
	}
	m := Member{ID: cc.GetNodeId(), Context: memberCtx}
	change := MembershipChange{Type: changeType(cc.GetType()), Member: m}
	if m.ID == 0 {
		change.Rejected = fmt.Errorf("raftnode: conf change for id 0")
	} else if _, err := c.checkConf(cc.GetType(), m); err != nil {
		change.Rejected = err // a retried duplicate is settled, not rejected: it applies as a no-op
	}
	if change.Rejected != nil {
		cc.NodeId = new(uint64(raft.None)) // raft ignores changes for id 0
	} else {
		change.Member = c.updateMembers(cc.GetType(), m)
	}
	c.confState = c.rn.ApplyConfChange(cc)
	c.observeMembership(e.GetIndex())
	c.finishConf(reqID, change.Rejected)
	if c.cfg.OnMembershipChange != nil {
		c.cfg.OnMembershipChange(change)
	}
}

func (c *Core) updateMembers(typ pb.ConfChangeType, m Member) Member {
	switch typ {
	case pb.ConfChangeAddLearnerNode:
		if cur, ok := c.members.Members[m.ID]; ok {
			return *cur
		}
		c.members.Members[m.ID] = &Member{ID: m.ID, Context: m.Context, Learner: true}
		c.members.noteID(m.ID)
	case pb.ConfChangeAddNode:
		cur, ok := c.members.Members[m.ID]
		if !ok {
			cur = &Member{ID: m.ID, Context: m.Context}
			c.members.Members[m.ID] = cur
		}
		cur.Learner = false
		c.members.noteID(m.ID)
	case pb.ConfChangeRemoveNode:
		if cur, ok := c.members.Members[m.ID]; ok {
			m = *cur
		}
		c.members.remove(m.ID)
		if m.ID == c.cfg.ID {
			c.removed = true
		}
		return m
	}
	return *c.members.Members[m.ID]
}

func (c *Core) finishConf(reqID uint64, err error) {
	if len(c.conf) == 0 || reqID == 0 || c.conf[0].id != reqID {
		return
	}
	head := c.conf[0]
	c.conf = c.conf[1:]
	head.finish(err)
}

func changeType(t pb.ConfChangeType) ChangeType {
	switch t {
	case pb.ConfChangeAddLearnerNode:
		return ChangeAddLearner
	case pb.ConfChangeRemoveNode:
		return ChangeRemove
	default:
		return ChangeAddVoter
	}
}

// autoPromote, on the leader, queues the promotion of learners whose log
// has caught up with the commit index while the room has fewer than
// MaxVoters voters.
func (c *Core) autoPromote() {
	if c.cfg.DisableAutoPromote || c.leader.Role != raft.StateLeader {
		return
	}
	room := c.cfg.MaxVoters - c.members.voters() - c.queuedPromotions()
	if room <= 0 {
		return
	}
	commit := c.rn.BasicStatus().GetCommit()
	var ready []uint64
	c.rn.WithProgress(func(id uint64, _ raft.ProgressType, pr tracker.Progress) {
		if pr.IsLearner && pr.Match >= commit && pr.RecentActive {
			ready = append(ready, id)
		}
	})
	slices.Sort(ready)
	for _, id := range ready {
		if room == 0 {
			return
		}
		if c.promotionQueued(id) {
			continue
		}
		c.Promote(id, func(error) {})
		room--
	}
}

func (c *Core) queuedPromotions() int {
	n := 0
	for _, r := range c.conf {
		if r.typ == pb.ConfChangeAddNode {
			n++
		}
	}
	return n
}

func (c *Core) promotionQueued(id uint64) bool {
	for _, r := range c.conf {
		if r.typ == pb.ConfChangeAddNode && r.member.ID == id {
			return true
		}
	}
	return false
}
