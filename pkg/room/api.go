package room

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/rooms-dev/rooms/pkg/raftnode"
	"github.com/rooms-dev/rooms/pkg/state"
)

// Update applies a JSON Patch (RFC 6902) to the room's state and returns the
// state version after it, once the change is committed and applied on this
// member. A failed "test" op rejects the whole patch with an error wrapping
// state.ErrConflict: that is how conditional updates lose.
func (r *Room) Update(ctx context.Context, patch state.Patch) (uint64, error) {
	return r.propose(ctx, state.Change{Patch: patch})
}

// Dispatch runs the named action's reducer (registered with Register on
// every member) with payload, as one change.
func (r *Room) Dispatch(ctx context.Context, name string, payload json.RawMessage) (uint64, error) {
	return r.propose(ctx, state.Change{Action: &state.Action{Name: name, Payload: payload}})
}

// Register registers a reducer for Dispatch. Every member must register the
// same reducers, and a reducer must be deterministic.
func (r *Room) Register(name string, reducer state.Reducer) { r.app.Register(name, reducer) }

func (r *Room) propose(ctx context.Context, c state.Change) (uint64, error) {
	if r.node.Load() == nil || r.isClosed() {
		return 0, ErrClosed
	}
	p := &proposal{change: c, done: make(chan proposalResult, 1)}
	select {
	case r.proposals <- p:
	case <-ctx.Done():
		return 0, fmt.Errorf("%w: %w", ErrTimeout, ctx.Err())
	case <-r.stop:
		return 0, ErrClosed
	}
	select {
	case res := <-p.done:
		return res.version, res.err
	case <-ctx.Done():
		return 0, fmt.Errorf("%w: %w", ErrTimeout, ctx.Err())
	case <-r.stop:
		return 0, ErrClosed
	}
}

// State returns this member's copy of the room state as JSON. It may lag
// the latest committed change; Read does not.
func (r *Room) State() (json.RawMessage, error) { return r.app.JSON() }

// Get returns the value at a JSON Pointer in this member's copy of the state.
func (r *Room) Get(pointer string) (json.RawMessage, error) { return r.app.Get(pointer) }

// Version returns the version of this member's copy of the state.
func (r *Room) Version() uint64 { return r.app.Version() }

// Read returns the room state after every change committed before the call
// (a linearizable read).
func (r *Room) Read(ctx context.Context) (json.RawMessage, error) {
	n := r.node.Load()
	if n == nil || r.isClosed() {
		return nil, ErrClosed
	}
	if err := n.Read(ctx); err != nil {
		if errors.Is(err, raftnode.ErrStopped) {
			return nil, ErrClosed
		}
		return nil, err
	}
	return r.app.JSON()
}

// Send sends data (JSON) outside the log to one participant, or to every
// other member when to is "". Delivery is best effort and unordered: for
// cursors, typing indicators and the like.
func (r *Room) Send(to string, data json.RawMessage) error {
	if r.isClosed() {
		return ErrClosed
	}
	if !json.Valid(data) {
		return fmt.Errorf("room: send: data is not valid JSON")
	}
	payload, err := json.Marshal(ephemeralFrame{Data: data})
	if err != nil {
		return err
	}
	r.mu.Lock()
	var targets []*peer
	found := to == ""
	for id, mi := range r.members {
		if to != "" && mi.Participant != to {
			continue
		}
		found = true
		if p := r.peers[id]; p != nil {
			targets = append(targets, p)
		}
	}
	r.mu.Unlock()
	if !found {
		return fmt.Errorf("room: send: no participant %q in the room", to)
	}
	var errs []error
	for _, p := range targets {
		if err := p.conn.SendEphemeral(frameEphemeral, payload); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Leave leaves the room gracefully: a doorman hands leadership to another
// voter first, then the member asks to be removed and closes its
// connections. The room goes on without it.
func (r *Room) Leave(ctx context.Context) error {
	n := r.node.Load()
	if n == nil || r.isClosed() {
		return nil
	}
	self := r.self.Load()
	st := n.Status()
	others := len(st.Members) > 1
	if st.Leader == self && others {
		transfer, cancel := context.WithTimeout(ctx, 3*time.Second)
		if err := n.TransferLeadership(transfer, 0); err != nil {
			r.log.Info("room: leave: leadership transfer", "err", err)
		}
		cancel()
	}
	r.leaving.Store(true)
	if others {
		r.awaitRemoval(ctx, n, self)
	}
	r.shutdown(nil)
	return nil
}

// awaitRemoval asks the doorman to remove this member and waits until the
// removal is known: applied here, or the doorman, having applied it, closed
// its connection to this member (it never tells a removed member the entry
// committed). It gives up after a few seconds: the doorman removes
// unreachable members anyway.
func (r *Room) awaitRemoval(ctx context.Context, n *raftnode.Node, self uint64) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	r.mu.Lock()
	doorman := r.peers[r.leader]
	r.mu.Unlock()
	removed := make(chan error, 1)
	go func() { removed <- n.Remove(ctx, self) }()
	var doormanDone <-chan struct{}
	if doorman != nil {
		doormanDone = doorman.conn.Done()
	}
	select {
	case err := <-removed:
		if err != nil && !errors.Is(err, raftnode.ErrTimeout) && !errors.Is(err, raftnode.ErrStopped) {
			r.log.Info("room: leave: removal", "err", err)
		}
	case <-doormanDone:
	case <-ctx.Done():
		r.log.Info("room: leave: removal not confirmed in time")
	}
}

func sortPeers(ps []PeerInfo) {
	slices.SortFunc(ps, func(a, b PeerInfo) int { return strings.Compare(a.Participant, b.Participant) })
}

// HandOver makes another voter the doorman, if this member is the doorman;
// a page whose tab is hidden (its timers throttled) calls it so that a
// visible member stands for the room. It returns once another member leads.
// A voter that cannot take over at once (a membership change it has still
// to apply) is asked again, up to handOverAttempts times; after that, or
// when ctx ends first, HandOver fails and this member still leads
// (errors.Is raftnode.ErrTransferFailed, or raftnode.ErrTimeout and the
// context's error). With no other voter it fails at once with
// ErrNoOtherVoter.
func (r *Room) HandOver(ctx context.Context) error {
	n := r.node.Load()
	if n == nil || r.isClosed() {
		return ErrClosed
	}
	st := n.Status()
	if st.Leader != st.ID {
		return nil
	}
	var err error
	for range handOverAttempts {
		if err = n.TransferLeadership(ctx, 0); !errors.Is(err, raftnode.ErrTransferFailed) {
			break
		}
	}
	switch {
	case errors.Is(err, raftnode.ErrNoTransferee):
		return ErrNoOtherVoter
	case err != nil:
		return fmt.Errorf("room: hand over: %w", err)
	}
	return nil
}

// handOverAttempts bounds HandOver's tries: each failed one has waited an
// election timeout.
const handOverAttempts = 3
