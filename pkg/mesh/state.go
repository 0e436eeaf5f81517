package mesh

import "sync"

// stateInputs are the facts a connection's State is derived from.
type stateInputs struct {
	pc          connectionState
	ready       bool // both channels have opened
	unreachable bool // no pong for PeerTimeout
	closed      bool
}

// state derives the reported State. Closed is final; a silent peer is
// unreachable whatever ICE says, since that is what layers above act on.
func (in stateInputs) state() State {
	switch {
	case in.closed || in.pc == connectionClosed:
		return StateClosed
	case in.unreachable:
		return StateUnreachable
	case in.pc == connectionFailed:
		return StateFailed
	case in.pc == connectionDisconnected:
		return StateDisconnected
	case in.ready:
		return StateConnected
	}
	return StateConnecting
}

// stateTracker derives the State from its inputs and reports each change,
// in order, to the OnState callback from its own goroutine, so that the
// goroutines that observe changes (pion callbacks, keepalive) never run
// user code.
type stateTracker struct {
	remoteID string
	onState  func(string, State)

	mu    sync.Mutex
	in    stateInputs
	cur   State
	queue []State
	wake  chan struct{}
}

func (t *stateTracker) init(remoteID string, onState func(string, State)) {
	t.remoteID, t.onState = remoteID, onState
	t.wake = make(chan struct{}, 1)
}

// update applies f to the inputs and queues the new State if it changed.
func (t *stateTracker) update(f func(*stateInputs)) {
	t.mu.Lock()
	defer t.mu.Unlock()
	f(&t.in)
	if s := t.in.state(); s != t.cur {
		t.cur = s
		t.queue = append(t.queue, s)
		notify(t.wake)
	}
}

func (t *stateTracker) current() State {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.cur
}

func (t *stateTracker) take() []State {
	t.mu.Lock()
	defer t.mu.Unlock()
	q := t.queue
	t.queue = nil
	return q
}

// run delivers queued states until closed, then delivers what is left
// (StateClosed is queued before closed is closed) and returns.
func (t *stateTracker) run(closed <-chan struct{}) {
	for {
		select {
		case <-t.wake:
			t.deliver(t.take())
		case <-closed:
			t.deliver(t.take())
			return
		}
	}
}

func (t *stateTracker) deliver(states []State) {
	if t.onState == nil {
		return
	}
	for _, s := range states {
		t.onState(t.remoteID, s)
	}
}
