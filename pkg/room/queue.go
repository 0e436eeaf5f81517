package room

import "sync"

// queue is an unbounded FIFO whose items one goroutine hands to handle, in
// order. Raft callbacks push into it without ever blocking the raft loop, and
// no item is dropped however slow the handler is.
type queue[T any] struct {
	mu     sync.Mutex
	items  []T
	wake   chan struct{}
	done   chan struct{}
	closed bool
}

func newQueue[T any](handle func(T)) *queue[T] {
	q := &queue[T]{wake: make(chan struct{}, 1), done: make(chan struct{})}
	go q.pump(handle)
	return q
}

func (q *queue[T]) push(v T) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return
	}
	q.items = append(q.items, v)
	q.signal()
}

func (q *queue[T]) signal() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// close hands over what is queued, then stops; Done tells when. It does not
// wait, so the handler itself may call it.
func (q *queue[T]) close() {
	q.mu.Lock()
	q.closed = true
	q.signal()
	q.mu.Unlock()
}

func (q *queue[T]) pump(handle func(T)) {
	defer close(q.done)
	for {
		q.mu.Lock()
		items, closed := q.items, q.closed
		q.items = nil
		q.mu.Unlock()
		for _, v := range items {
			handle(v)
		}
		if closed && len(items) == 0 {
			return
		}
		if len(items) == 0 {
			<-q.wake
		}
	}
}
