package raftnode

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	pb "go.etcd.io/raft/v3/raftpb"
)

// Transport carries raft messages between members. Send must not block for
// long: a message that cannot be delivered is dropped (raft retransmits) and,
// ideally, reported with Node.ReportUnreachable. After sending a snapshot
// message (MsgSnap), report the outcome with Node.ReportSnapshot.
type Transport interface {
	Send(msgs []*pb.Message)
}

// TransportFunc adapts a function to Transport.
type TransportFunc func(msgs []*pb.Message)

// Send implements Transport.
func (f TransportFunc) Send(msgs []*pb.Message) { f(msgs) }

// Node runs a Core on its own goroutine with a real clock. All methods are
// safe for concurrent use.
type Node struct {
	ops           chan func(*Core)
	inbox         chan *pb.Message
	stop          chan struct{}
	done          chan struct{}
	stopOnce      sync.Once
	err           error // why the loop ended; read after done is closed
	transport     Transport
	tick          time.Duration
	electionTicks int
}

// inboxSize bounds the messages waiting for the loop. Beyond it messages are
// dropped, which raft tolerates (it retransmits), rather than blocking the
// transport.
const inboxSize = 4096

// maxBatch bounds how many queued operations and messages the loop takes
// before it processes raft's Ready, so that a busy node batches proposals
// into few appends without starving its ticker.
const maxBatch = 512

// Start starts a member on storage (bootstrapped with Bootstrap for a new
// room, empty for a newcomer, or holding an earlier run's state).
func Start(cfg Config, storage Storage, sm StateMachine, t Transport) (*Node, error) {
	core, err := NewCore(cfg, storage, sm)
	if err != nil {
		return nil, err
	}
	n := &Node{
		ops:       make(chan func(*Core), 256),
		inbox:     make(chan *pb.Message, inboxSize),
		stop:      make(chan struct{}),
		done:      make(chan struct{}),
		transport: t,
		tick:      core.cfg.TickInterval,

		electionTicks: core.cfg.ElectionTicks,
	}
	go n.run(core)
	return n, nil
}

func (n *Node) run(core *Core) {
	defer close(n.done)
	ticker := time.NewTicker(n.tick)
	defer ticker.Stop()
	defer core.Close()
	if err := core.Process(n.transport.Send); err != nil {
		n.err = err
		return
	}
	for {
		select {
		case <-n.stop:
			return
		case <-ticker.C:
			core.Tick()
		case op := <-n.ops:
			op(core)
		case m := <-n.inbox:
			n.step(core, m)
		}
		n.drain(core)
		if err := core.Process(n.transport.Send); err != nil {
			n.err = err
			return
		}
	}
}

// drain takes what else is already queued, so that one Ready carries many
// proposals.
func (n *Node) drain(core *Core) {
	for range maxBatch {
		select {
		case op := <-n.ops:
			op(core)
		case m := <-n.inbox:
			n.step(core, m)
		default:
			return
		}
	}
}

func (n *Node) step(core *Core, m *pb.Message) {
	err := core.Step(m)
	switch {
	case err == nil:
	case errors.Is(err, ErrRejectedMessage) && core.cfg.OnRejectedMessage != nil:
		core.cfg.OnRejectedMessage(m.GetFrom(), err)
	default:
		core.log.Debug("raftnode: dropped message", "from", m.GetFrom(), "type", m.GetType(), "err", err)
	}
}

// do runs op on the node's goroutine; false means the node has stopped.
func (n *Node) do(op func(*Core)) bool {
	select {
	case n.ops <- op:
		return true
	case <-n.done:
		return false
	}
}

// Stop stops the node and waits for its goroutine to end. Waiting requests
// fail with ErrStopped. Stop is idempotent.
func (n *Node) Stop() {
	n.stopOnce.Do(func() { close(n.stop) })
	<-n.done
}

// Done is closed when the node has stopped (by Stop or a storage failure,
// see Err).
func (n *Node) Done() <-chan struct{} { return n.done }

// Err returns why the node stopped by itself, after Done is closed; nil after
// Stop.
func (n *Node) Err() error {
	select {
	case <-n.done:
		return n.err
	default:
		return nil
	}
}

// Step delivers a message from another member. It never blocks: when the
// node is overloaded the message is dropped and raft recovers by
// retransmission.
func (n *Node) Step(m *pb.Message) {
	select {
	case n.inbox <- m:
	default:
	}
}

// Propose replicates data and returns what the state machine's Apply
// returned for it on this member. On ctx's end it returns an error wrapping
// ErrTimeout; the change may still be applied later.
//
// While no leader is known (an election is under way) Propose retries every
// tick: a dropped proposal was never appended, so retrying cannot duplicate it.
func (n *Node) Propose(ctx context.Context, data []byte) (any, error) {
	for {
		value, err := n.proposeOnce(ctx, data)
		if !errors.Is(err, ErrProposalDropped) {
			return value, err
		}
		if err := n.backoff(ctx, "propose"); err != nil {
			return nil, err
		}
	}
}

func (n *Node) proposeOnce(ctx context.Context, data []byte) (any, error) {
	results := make(chan Result, 1)
	ids := make(chan uint64, 1)
	if !n.do(func(c *Core) { ids <- c.Propose(data, func(r Result) { results <- r }) }) {
		return nil, ErrStopped
	}
	select {
	case r := <-results:
		return r.Value, r.Err
	case <-ctx.Done():
		n.cancel(ids)
		return nil, fmt.Errorf("propose: %w: %w", ErrTimeout, ctx.Err())
	case <-n.done:
		return nil, ErrStopped
	}
}

// backoff waits one tick before a retry, or fails with ctx.
func (n *Node) backoff(ctx context.Context, what string) error {
	retry := time.NewTimer(n.tick)
	defer retry.Stop()
	select {
	case <-retry.C:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%s: %w: %w", what, ErrTimeout, ctx.Err())
	case <-n.done:
		return ErrStopped
	}
}

// Read waits until this member's state machine reflects every change
// committed before the call (raft ReadIndex), so a read of the state machine
// right after Read returns nil is linearizable.
// Like Propose, it retries while no leader is known; and since raft does not
// retransmit a lost read request, an attempt that gets no answer within two
// election timeouts is made again (reads have no effect, so this is safe).
func (n *Node) Read(ctx context.Context) error {
	for {
		attempt, cancel := context.WithTimeout(ctx, 2*time.Duration(n.electionTicks)*n.tick)
		err := n.await(attempt, "read", func(c *Core, done func(error)) uint64 { return c.Read(done) })
		cancel()
		switch {
		case err == nil:
			return nil
		case errors.Is(err, ErrTimeout) && ctx.Err() == nil:
			continue // the attempt was lost; try again
		case !errors.Is(err, ErrNoLeader):
			return err
		}
		if err := n.backoff(ctx, "read"); err != nil {
			return err
		}
	}
}

// AddLearner adds member id as a learner with context stored in the member
// table; it returns once the change is applied on this member.
func (n *Node) AddLearner(ctx context.Context, id uint64, context []byte) error {
	return n.await(ctx, "add learner", func(c *Core, done func(error)) uint64 { return c.AddLearner(id, context, done) })
}

// Promote makes learner id a voter.
func (n *Node) Promote(ctx context.Context, id uint64) error {
	return n.await(ctx, "promote", func(c *Core, done func(error)) uint64 { return c.Promote(id, done) })
}

// Remove removes member id from the room.
func (n *Node) Remove(ctx context.Context, id uint64) error {
	return n.await(ctx, "remove", func(c *Core, done func(error)) uint64 { return c.Remove(id, done) })
}

func (n *Node) await(ctx context.Context, what string, start func(*Core, func(error)) uint64) error {
	errs := make(chan error, 1)
	ids := make(chan uint64, 1)
	if !n.do(func(c *Core) { ids <- start(c, func(err error) { errs <- err }) }) {
		return ErrStopped
	}
	select {
	case err := <-errs:
		return err
	case <-ctx.Done():
		n.cancel(ids)
		return fmt.Errorf("%s: %w: %w", what, ErrTimeout, ctx.Err())
	case <-n.done:
		return ErrStopped
	}
}

// cancel forgets a request's caller. It runs on the node's goroutine after
// the operation that started the request (operations run in order), so the
// request id is there to take.
func (n *Node) cancel(ids <-chan uint64) {
	n.do(func(c *Core) { c.Cancel(<-ids) })
}

// TransferLeadership asks the leader (this member) to hand over leadership
// to member to (0: the most up-to-date other voter) and waits until a new
// leader is known.
func (n *Node) TransferLeadership(ctx context.Context, to uint64) error {
	errs := make(chan error, 1)
	if !n.do(func(c *Core) { errs <- c.TransferLeadership(to) }) {
		return ErrStopped
	}
	if err := <-errs; err != nil {
		return err
	}
	self := n.Status().ID
	poll := time.NewTicker(n.tick)
	defer poll.Stop()
	for {
		st := n.Status()
		switch {
		case st.Leader != 0 && st.Leader != self:
			return nil
		case st.Leader == self && st.LeadTransferee == 0:
			// Raft refused the transfer, or gave it up after an election
			// timeout: the transferee could not campaign (it was gone, or
			// had a configuration change left to apply).
			return fmt.Errorf("%w: this member still leads", ErrTransferFailed)
		}
		select {
		case <-poll.C:
		case <-ctx.Done():
			return fmt.Errorf("transfer leadership: %w: %w", ErrTimeout, ctx.Err())
		case <-n.done:
			return ErrStopped
		}
	}
}

// Status reports the member's view of the room; the zero Status after Stop.
func (n *Node) Status() Status {
	ch := make(chan Status, 1)
	if !n.do(func(c *Core) { ch <- c.Status() }) {
		return Status{}
	}
	select {
	case s := <-ch:
		return s
	case <-n.done:
		return Status{}
	}
}

// ReportUnreachable tells raft that member id could not be reached.
func (n *Node) ReportUnreachable(id uint64) { n.do(func(c *Core) { c.ReportUnreachable(id) }) }

// ReportSnapshot tells raft whether a snapshot sent to id was delivered.
func (n *Node) ReportSnapshot(id uint64, ok bool) {
	n.do(func(c *Core) { c.ReportSnapshot(id, ok) })
}
