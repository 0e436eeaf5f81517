package raftnode

import "errors"

// Errors returned by Node and Core. Compare with errors.Is: they are usually
// wrapped with context.
var (
	// ErrProposalDropped means raft refused the proposal outright, typically
	// because this member knows no leader (an election is under way) or a
	// leadership transfer is in progress. Nothing was appended; retrying later
	// is safe.
	ErrProposalDropped = errors.New("raftnode: proposal dropped")

	// ErrNoLeader means no leader is known, so the request cannot be
	// forwarded. Retrying after a leader is elected is safe.
	ErrNoLeader = errors.New("raftnode: no leader reachable")

	// ErrTimeout means the caller's deadline passed before the outcome was
	// known. A timed-out proposal may still be applied later; callers that
	// retry must make the retry idempotent (the state machine's exactly-once
	// table does this for room changes).
	ErrTimeout = errors.New("raftnode: timed out")

	// ErrStopped means the node has been stopped (or removed from the room).
	ErrStopped = errors.New("raftnode: stopped")

	// ErrTransferFailed means a leadership transfer did not happen: raft
	// refused it (the target is a learner) or gave it up
	// after an election timeout, the target being unable to campaign (gone,
	// or with a configuration change still to apply). This member still
	// leads; trying again later may succeed.
	ErrTransferFailed = errors.New("raftnode: leadership transfer failed")

	// ErrNoTransferee means a leadership transfer found no other voter to
	// take over: there is nobody to hand the room to, which is no failure
	// of the transfer.
	ErrNoTransferee = errors.New("raftnode: no other voter to transfer leadership to")

	// ErrMemberExists is returned when adding a raft id that is already a member.
	ErrMemberExists = errors.New("raftnode: member already exists")

	// ErrNotMember is returned when removing or promoting an id that is not a member.
	ErrNotMember = errors.New("raftnode: not a member")

	// ErrIDRemoved is returned when adding a raft id that was removed
	// before: raft ids are never reused.
	ErrIDRemoved = errors.New("raftnode: raft id was removed and cannot be reused")

	// ErrTooManyVoters is returned by Promote when the room already has
	// MaxVoters voters.
	ErrTooManyVoters = errors.New("raftnode: voter limit reached")

	// ErrNotLeader is returned by a membership change requested of a member
	// that does not lead the room: only the leader changes who is in it
	// (a member may only ask for its own removal), so that no member can
	// slip a change in through the leader.
	ErrNotLeader = errors.New("raftnode: only the leader changes membership")

	// ErrCorruptSnapshot is returned when a snapshot cannot be decoded.
	ErrCorruptSnapshot = errors.New("raftnode: corrupt snapshot")
)
