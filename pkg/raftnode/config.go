package raftnode

import (
	"log/slog"
	"time"
)

// Config configures a Core or Node. The zero value of every field except ID
// has a sensible default (see Default* constants).
type Config struct {
	// ID is this member's raft id. It must be non-zero and never reused
	// within a room.
	ID uint64

	// TickInterval is the wall-clock length of one raft tick (Node only;
	// a Core is ticked by its driver). Default 50ms.
	TickInterval time.Duration
	// ElectionTicks is the election timeout in ticks. Default 10.
	ElectionTicks int
	// HeartbeatTicks is the heartbeat interval in ticks. Default 1.
	HeartbeatTicks int

	// MaxVoters caps the number of voters: learners that have caught up are
	// promoted automatically by the leader while the room has fewer voters.
	// Default 5.
	MaxVoters int
	// DisableAutoPromote turns off the automatic learner promotion.
	DisableAutoPromote bool

	// SnapshotEntries is the number of applied entries after which the state
	// machine is snapshotted and the log compacted. Default 1000.
	SnapshotEntries uint64
	// CompactionMargin is how many entries are kept behind a snapshot so a
	// slightly lagging follower catches up from the log, not a snapshot.
	// Default 200.
	CompactionMargin uint64

	// MaxSizePerMsg bounds the entries carried by one append message.
	// Default 64 KiB.
	MaxSizePerMsg uint64
	// MaxUncommittedEntriesSize bounds the leader's uncommitted log; further
	// proposals are dropped. Default 8 MiB.
	MaxUncommittedEntriesSize uint64
	// MaxInflightMsgs bounds unacknowledged append messages per follower.
	// Default 256.
	MaxInflightMsgs int

	// ConfChangeRetryTicks is how long a membership change may stay pending
	// before it is proposed again. Default 3 × ElectionTicks.
	ConfChangeRetryTicks int

	// RandSeed seeds the generator of request ids. Zero means a random
	// seed; deterministic simulations set it.
	RandSeed int64

	// Logger receives the node's logs. Default slog.Default() at warn level
	// for raft's internal messages.
	Logger *slog.Logger

	// Signer, when set, makes leadership provable: votes are signed and a
	// leader proves its election before members follow it (see Signer).
	// Every member of a room must have one, or none.
	Signer Signer
	// Sponsor is the leader this member follows without a proof while it
	// knows no voters yet, until its first snapshot arrives: the doorman
	// that admitted it. Only used with a Signer.
	Sponsor uint64

	// OnLeaderChange is called, on the node's goroutine, whenever the known
	// leader or this member's role changes. It must not block.
	OnLeaderChange func(LeaderInfo)
	// OnMembershipChange is called, on the node's goroutine, after each
	// applied membership change. It must not block.
	OnMembershipChange func(MembershipChange)
	// OnRejectedMessage is told, on the node's goroutine, about each
	// message from another member refused as ErrRejectedMessage, so that
	// the transport can count it against the sender. It must not block.
	OnRejectedMessage func(from uint64, err error)
}

// Defaults used where Config leaves a field zero.
const (
	DefaultTickInterval              = 50 * time.Millisecond
	DefaultElectionTicks             = 10
	DefaultHeartbeatTicks            = 1
	DefaultMaxVoters                 = 5
	DefaultSnapshotEntries           = 1000
	DefaultCompactionMargin          = 200
	DefaultMaxSizePerMsg             = 64 << 10
	DefaultMaxUncommittedEntriesSize = 8 << 20
	DefaultMaxInflightMsgs           = 256
)

func (c Config) withDefaults() Config {
	setDefault(&c.TickInterval, DefaultTickInterval)
	setDefault(&c.ElectionTicks, DefaultElectionTicks)
	setDefault(&c.HeartbeatTicks, DefaultHeartbeatTicks)
	setDefault(&c.MaxVoters, DefaultMaxVoters)
	setDefault(&c.SnapshotEntries, DefaultSnapshotEntries)
	setDefault(&c.CompactionMargin, DefaultCompactionMargin)
	setDefault(&c.MaxSizePerMsg, DefaultMaxSizePerMsg)
	setDefault(&c.MaxUncommittedEntriesSize, DefaultMaxUncommittedEntriesSize)
	setDefault(&c.MaxInflightMsgs, DefaultMaxInflightMsgs)
	setDefault(&c.ConfChangeRetryTicks, 3*c.ElectionTicks)
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

func setDefault[T comparable](field *T, value T) {
	var zero T
	if *field == zero {
		*field = value
	}
}
