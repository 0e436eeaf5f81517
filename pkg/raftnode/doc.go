/*
Package raftnode runs one member of a room's Raft group (go.etcd.io/raft/v3)
and applies the committed log to a StateMachine. It knows nothing of WebRTC:
messages leave through a Transport and arrive through Step, so the mesh of
WebRTC data channels, an in-process channel or a simulated network all plug
in the same way.

# Two layers

Core is the member itself, with no goroutine and no clock. Its driver calls
Tick, Step, the request methods (Propose, Read, AddLearner, Promote, Remove,
TransferLeadership) and then Process, all from one goroutine. Callbacks
(request completions, OnLeaderChange, OnMembershipChange) run on that
goroutine too. Because a Core does nothing by itself, a test can drive a whole
room of Cores on a virtual clock and replay any run from its seed; that is how
the package proves itself linearizable (see linearizable_test.go).

Node runs a Core on its own goroutine with a real ticker and offers a blocking,
context-aware API that is safe for concurrent use:

	storage := raftnode.NewMemoryStorage()
	_ = raftnode.Bootstrap(storage, sm, []raftnode.Member{{ID: 1}}) // a new room
	n, _ := raftnode.Start(raftnode.Config{ID: 1}, storage, sm, transport)
	result, err := n.Propose(ctx, change) // result: what sm.Apply returned
	err = n.Read(ctx)                     // then read sm: linearizable

# The Ready loop

Process follows raftexample's order: persist the snapshot, hard state and
entries; restore a received snapshot into the state machine; send messages;
apply committed entries (every conf change goes through ApplyConfChange); serve
reads whose index is applied; snapshot and compact when due; Advance. Raft runs
with CheckQuorum, PreVote and StepDownOnRemoval, and ReadOnlySafe reads.

# Proposals and exactly-once

Each entry carries a random request id so the proposing member can wake its
caller when the entry is applied (other members ignore the id). A proposal
whose outcome is unknown (ErrTimeout: a leader change, a lost message) may
still be applied later. Retrying is safe only if the state machine
deduplicates: room changes carry (proposer, sequence) and the state machine
applies each once and answers a retry with the first result. Node.Propose and
Node.Read retry by themselves while no leader is known, because a dropped
proposal was never appended.

# Membership

Members are added as learners with an opaque context (the room keeps the
participant's identity there); the leader promotes learners that have caught up
with the commit index while there are fewer than Config.MaxVoters voters.
Membership changes are queued and proposed one at a time: raft silently
replaces a second pending conf change with an empty entry, so the queue
re-proposes its head until it applies; every change is idempotent. The member
table, the removed ids and the next free id are replicated (they travel in
snapshots): a raft id is never reused, and Status().NextID is the id to give a
newcomer. A StateMachine that implements MembershipObserver is told the table
in log order, after each conf change and each snapshot restore, so that it
can judge an entry by who was a member at that point of the log (the room
checks each change's signature against its proposer's registered key).

# Snapshots

A new room starts from a snapshot at index 1 written by Bootstrap (the founding
members and the initial state), so a newcomer always catches up by snapshot and
then by log. Every Config.SnapshotEntries applied entries the state machine is
snapshotted and the log compacted, keeping Config.CompactionMargin entries for
slightly lagging followers. A snapshot taken before a newcomer joined does not
list it, and raft would ignore it; Core then takes a fresh snapshot and has
raft resend.

# Errors

Requests fail with sentinel errors to compare with errors.Is:
ErrProposalDropped, ErrNoLeader, ErrTimeout, ErrStopped, ErrMemberExists,
ErrNotMember, ErrIDRemoved, ErrCorruptSnapshot. State machine rejections (a
failed conditional update) are not errors here: they are the value Apply
returned.
*/
package raftnode
