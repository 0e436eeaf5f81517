package room

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/rooms-dev/rooms/pkg/raftnode"
	"github.com/rooms-dev/rooms/pkg/state"
)

// The proposer goroutine turns Update and Dispatch calls into raft entries.
// An entry is signed with this member's key (identity.go): a lone change,
// or the batch of changes as a whole, which costs one signature per entry.
// A member's changes must apply in the order of their sequence numbers (the
// exactly-once table answers an older one as stale), so one entry is in
// flight at a time; the changes that arrive meanwhile go into the next entry
// together (group commit), each with its own result. An entry whose outcome
// is unknown is proposed again, unchanged: every change in it applies at
// most once, and a retry gets each change's first answer.

// attemptTimeout bounds one attempt of an entry: one lost in a leader change
// is proposed again instead of waiting for the callers' whole deadline.
const attemptTimeout = 3 * time.Second

// Bounds of one entry.
const (
	maxBatchChanges = 256
	maxBatchBytes   = 1 << 20
)

type proposal struct {
	change state.Change
	done   chan proposalResult
}

type proposalResult struct {
	version uint64
	err     error
}

func (p *proposal) finish(version uint64, err error) {
	p.done <- proposalResult{version, err}
}

func (r *Room) runProposer() {
	var seq uint64
	var carry *proposal // taken from the queue but did not fit the last entry
	for {
		first := carry
		if first == nil {
			select {
			case first = <-r.proposals:
			case <-r.stop:
				return
			}
		}
		carry = nil
		var entry []*proposal
		var changes []state.Change
		size := 0
		proposer := strconv.FormatUint(r.self.Load(), 10)
		// add numbers and validates a change; one that cannot be encoded
		// fails alone, and one that does not fit waits for the next entry.
		add := func(p *proposal) {
			c := p.change
			c.Proposer, c.Seq = proposer, seq+1
			enc, err := state.EncodeChange(c)
			switch {
			case err != nil:
				p.finish(0, err)
			case len(entry) > 0 && size+len(enc) > maxBatchBytes:
				carry = p
			default:
				seq++
				size += len(enc)
				entry, changes = append(entry, p), append(changes, c)
			}
		}
		add(first)
	drain:
		for carry == nil && len(entry) < maxBatchChanges {
			select {
			case p := <-r.proposals:
				add(p)
			default:
				break drain
			}
		}
		if len(entry) > 0 {
			r.commit(entry, changes)
		}
	}
}

// commit proposes one entry until its outcome is known or the room closes,
// and answers each change's caller.
func (r *Room) commit(entry []*proposal, changes []state.Change) {
	data, err := r.encodeSigned(changes)
	if err != nil {
		for _, p := range entry {
			p.finish(0, err)
		}
		return
	}
	for {
		if r.isClosed() {
			for _, p := range entry {
				p.finish(0, ErrClosed)
			}
			return
		}
		n := r.node.Load()
		ctx, cancel := context.WithTimeout(context.Background(), attemptTimeout)
		v, err := n.Propose(ctx, data)
		cancel()
		switch {
		case err == nil:
			answer(entry, v)
			return
		case errors.Is(err, raftnode.ErrStopped):
			// Closing, or recovery swapping the raft node: look again shortly.
			select {
			case <-time.After(50 * time.Millisecond):
			case <-r.stop:
			}
		}
	}
}

func answer(entry []*proposal, v any) {
	switch res := v.(type) {
	case state.Result:
		entry[0].finish(res.Version, res.Err)
	case []state.Result:
		for i, p := range entry {
			if i < len(res) {
				p.finish(res[i].Version, res[i].Err)
			} else {
				p.finish(0, fmt.Errorf("%w: entry answered %d of %d changes", ErrBadMessage, len(res), len(entry)))
			}
		}
	}
}
