package raftnode

import (
	"context"
	"encoding/binary"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// appliedTracker records when each proposal has been applied on every member.
type appliedTracker struct {
	members int
	mu      sync.Mutex
	start   map[uint64]time.Time
	count   map[uint64]int
	lat     []time.Duration
	allDone chan uint64
}

func newAppliedTracker(members int) *appliedTracker {
	return &appliedTracker{members: members, start: map[uint64]time.Time{}, count: map[uint64]int{}, allDone: make(chan uint64, 1<<16)}
}

func (t *appliedTracker) proposed(id uint64) {
	t.mu.Lock()
	t.start[id] = time.Now()
	t.mu.Unlock()
}

func (t *appliedTracker) applied(id uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.count[id]++
	if t.count[id] != t.members {
		return
	}
	if start, ok := t.start[id]; ok {
		t.lat = append(t.lat, time.Since(start))
	}
	delete(t.count, id)
	delete(t.start, id)
	select {
	case t.allDone <- id:
	default:
	}
}

// trackingMachine counts applies of 8-byte proposal ids.
type trackingMachine struct {
	tracker *appliedTracker
	n       uint64
}

func (m *trackingMachine) Apply(_ uint64, data []byte) any {
	m.n++
	if len(data) >= 8 && m.tracker != nil {
		m.tracker.applied(binary.BigEndian.Uint64(data))
	}
	return m.n
}
func (m *trackingMachine) Snapshot() ([]byte, error) {
	return binary.BigEndian.AppendUint64(nil, m.n), nil
}
func (m *trackingMachine) Restore(b []byte) error {
	if len(b) == 8 {
		m.n = binary.BigEndian.Uint64(b)
	}
	return nil
}

func benchCluster(b *testing.B, members int) (*cluster, *appliedTracker, uint64) {
	tracker := newAppliedTracker(members)
	c := newClusterWith(b, members, func(cfg *Config) {
		cfg.TickInterval = 10 * time.Millisecond
		cfg.SnapshotEntries = 100_000
		cfg.MaxUncommittedEntriesSize = 64 << 20
		cfg.MaxSizePerMsg = 1 << 20
	}, func(id uint64) StateMachine {
		if id == 0 {
			return &trackingMachine{}
		}
		return &trackingMachine{tracker: tracker}
	})
	leader := c.leader(10 * time.Second)
	// Warm up: the first proposal of a term waits for the leader's empty entry.
	if _, err := c.node(leader).Propose(context.Background(), make([]byte, 8)); err != nil {
		b.Fatal(err)
	}
	return c, tracker, leader
}

func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[min(len(s)-1, int(float64(len(s))*p))]
}

// BenchmarkCommitLatency: one proposal at a time, from proposal until it is
// applied on every member.
func BenchmarkCommitLatency(b *testing.B) {
	for _, members := range []int{3, 5, 7} {
		b.Run(fmt.Sprintf("members=%d", members), func(b *testing.B) {
			c, tracker, leader := benchCluster(b, members)
			n := c.node(leader)
			const samples = 500
			b.ResetTimer()
			for range b.N {
				for i := range samples {
					id := uint64(i + 1)
					tracker.proposed(id)
					if _, err := n.Propose(context.Background(), binary.BigEndian.AppendUint64(nil, id)); err != nil {
						b.Fatal(err)
					}
					for done := range tracker.allDone {
						if done == id {
							break
						}
					}
				}
			}
			b.ReportMetric(float64(percentile(tracker.lat, 0.50).Microseconds()), "p50-µs")
			b.ReportMetric(float64(percentile(tracker.lat, 0.99).Microseconds()), "p99-µs")
		})
	}
}

// BenchmarkThroughput: many concurrent proposers on the leader; changes
// committed and applied on the leader per second (raft batches them).
func BenchmarkThroughput(b *testing.B) {
	for _, members := range []int{3, 5, 7} {
		b.Run(fmt.Sprintf("members=%d", members), func(b *testing.B) {
			c, _, leader := benchCluster(b, members)
			n := c.node(leader)
			const proposers, total = 512, 100_000
			b.ResetTimer()
			var elapsed time.Duration
			for range b.N {
				var next atomic.Int64
				var wg sync.WaitGroup
				start := time.Now()
				for range proposers {
					wg.Go(func() {
						buf := make([]byte, 16)
						for next.Add(1) <= total {
							if _, err := n.Propose(context.Background(), buf); err != nil {
								b.Error(err)
								return
							}
						}
					})
				}
				wg.Wait()
				elapsed += time.Since(start)
			}
			b.ReportMetric(float64(total*b.N)/elapsed.Seconds(), "changes/s")
		})
	}
}
