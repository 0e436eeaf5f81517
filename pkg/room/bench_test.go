package room

// Benchmarks of a 5-member room over real pion connections on loopback
// (`make bench`: -benchtime 1x). Each reports its figures with ReportMetric;
// the sample counts do not depend on b.N, so one iteration measures enough.
//
// Targets (issue 4): join p50 ≤ 150 ms, update p50 ≤ 2 ms and p99 ≤ 15 ms,
// ≥ 5,000 updates/s, failover ≤ 2 s.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"
)

const benchMembers = 5

// applyWatch knows, for each member, the last state version it applied,
// from its state-update events.
type applyWatch struct {
	mu       sync.Mutex
	versions map[string]uint64
	changed  chan struct{} // closed and replaced on every change
}

func newApplyWatch() *applyWatch {
	return &applyWatch{versions: map[string]uint64{}, changed: make(chan struct{})}
}

// onEvent is an OnEvent that feeds the watch for participant name.
func (w *applyWatch) onEvent(name string) func(Event) {
	return func(e Event) {
		if e.Type != EventStateUpdate {
			return
		}
		w.mu.Lock()
		w.versions[name] = max(w.versions[name], e.Version)
		close(w.changed)
		w.changed = make(chan struct{})
		w.mu.Unlock()
	}
}

// waitAll blocks until every named member has applied version v.
func (w *applyWatch) waitAll(ctx context.Context, names []string, v uint64) error {
	for {
		w.mu.Lock()
		done := true
		for _, n := range names {
			if w.versions[n] < v {
				done = false
				break
			}
		}
		changed := w.changed
		w.mu.Unlock()
		if done {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return fmt.Errorf("version %d not applied everywhere: %w", v, ctx.Err())
		}
	}
}

// benchOptions are the production defaults (50 ms tick), except a 3 s
// PeerTimeout so a crashed member is removed quickly, with OnEvent set.
func benchOptions(url string, onEvent func(Event)) Options {
	opts := testOptions(url, newRecorder())
	opts.TickInterval = 0
	opts.OnEvent = onEvent
	return opts
}

// memberEvent is an event and the member that saw it.
type memberEvent struct {
	name string
	Event
}

// benchRoom forms a room of n members and returns them with their names.
// Their events feed watch, and also events when it is not nil.
func benchRoom(b *testing.B, url, roomID string, n int, watch *applyWatch, events chan<- memberEvent) ([]*Room, []string) {
	b.Helper()
	setup, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	ctx, stop := context.WithCancel(context.Background())
	b.Cleanup(stop)
	var rooms []*Room
	var names []string
	for i := range n {
		name := fmt.Sprintf("b%d", i)
		onEvent := watch.onEvent(name)
		if events != nil {
			applied := onEvent
			onEvent = func(e Event) {
				applied(e)
				select {
				case events <- memberEvent{name, e}:
				case <-ctx.Done(): // nobody listens any more
				}
			}
		}
		var r *Room
		var err error
		if i == 0 {
			r, err = Create(setup, name, roomID, json.RawMessage(`{"n":0}`), benchOptions(url, onEvent))
		} else {
			r, err = Join(setup, name, roomID, benchOptions(url, onEvent))
		}
		if err != nil {
			b.Fatalf("%s: %v", name, err)
		}
		b.Cleanup(func() { r.shutdown(nil) })
		rooms, names = append(rooms, r), append(names, name)
	}
	return rooms, names
}

// quantile returns the q-quantile (0..1) of ds, nearest rank.
func quantile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(q*float64(len(s))+0.5) - 1
	return s[min(max(i, 0), len(s)-1)]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// BenchmarkJoin measures a Join call until it returns (admitted, caught up
// and connected to every member), for the 2nd to 5th member of fresh rooms.
func BenchmarkJoin(b *testing.B) {
	url := startSignal(b)
	var creates, joins []time.Duration
	for i := range 3 * b.N {
		roomID := fmt.Sprintf("bench-join-%d", i)
		ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
		start := time.Now()
		creator, err := Create(ctx, "b0", roomID, nil, benchOptions(url, nil))
		if err != nil {
			b.Fatal(err)
		}
		creates = append(creates, time.Since(start))
		rooms := []*Room{creator}
		for j := 1; j < benchMembers; j++ {
			start := time.Now()
			r, err := Join(ctx, fmt.Sprintf("b%d", j), roomID, benchOptions(url, nil))
			if err != nil {
				b.Fatal(err)
			}
			joins = append(joins, time.Since(start))
			rooms = append(rooms, r)
		}
		cancel()
		for _, r := range rooms {
			r.shutdown(nil)
		}
	}
	b.ReportMetric(ms(quantile(creates, 0.5)), "create-p50-ms")
	b.ReportMetric(ms(quantile(joins, 0.5)), "join-p50-ms")
	b.ReportMetric(ms(quantile(joins, 1)), "join-max-ms")
}

// BenchmarkUpdate measures one update at a time, from each member in turn:
// from the call to the change applied on this member (Update returns) and
// on all five (their state-update events).
func BenchmarkUpdate(b *testing.B) {
	url := startSignal(b)
	watch := newApplyWatch()
	rooms, names := benchRoom(b, url, "bench-update", benchMembers, watch, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	samples := 500
	local := make([]time.Duration, 0, samples)
	all := make([]time.Duration, 0, samples)
	b.ResetTimer()
	for range b.N {
		for i := range samples {
			r := rooms[i%len(rooms)]
			start := time.Now()
			v, err := r.Update(ctx, patch(b, fmt.Sprintf(`[{"op":"replace","path":"/n","value":%d}]`, i)))
			if err != nil {
				b.Fatal(err)
			}
			local = append(local, time.Since(start))
			if err := watch.waitAll(ctx, names, v); err != nil {
				b.Fatal(err)
			}
			all = append(all, time.Since(start))
		}
	}
	b.StopTimer()
	b.ReportMetric(ms(quantile(local, 0.5)), "local-p50-ms")
	b.ReportMetric(ms(quantile(all, 0.5)), "all-p50-ms")
	b.ReportMetric(ms(quantile(all, 0.99)), "all-p99-ms")
}

// BenchmarkThroughput has every member update as fast as it can (each has
// one update in flight at a time) and counts updates applied on all members
// per second.
func BenchmarkThroughput(b *testing.B) {
	// callers is the number of goroutines updating through each member at
	// once: one shows the round-trip bound of a member's sequential updates,
	// more show group commit (a member's concurrent updates share entries).
	for _, callers := range []int{1, 8} {
		b.Run(fmt.Sprintf("callers=%d", callers), func(b *testing.B) { benchThroughput(b, callers) })
	}
}

func benchThroughput(b *testing.B, callers int) {
	url := startSignal(b)
	watch := newApplyWatch()
	rooms, names := benchRoom(b, url, fmt.Sprintf("bench-throughput-%d", callers), benchMembers, watch, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const perCaller = 500
	var total int
	var elapsed time.Duration
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		var wg sync.WaitGroup
		errs := make([]error, len(rooms)*callers)
		last := make([]uint64, len(rooms)*callers)
		for i, r := range rooms {
			for c := range callers {
				slot := i*callers + c
				wg.Go(func() {
					for k := range perCaller {
						v, err := r.Update(ctx, patch(b, fmt.Sprintf(`[{"op":"add","path":"/%s","value":%d}]`, names[i], k)))
						if err != nil {
							errs[slot] = err
							return
						}
						last[slot] = max(last[slot], v)
					}
				})
			}
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			b.Fatal(err)
		}
		if err := watch.waitAll(ctx, names, slices.Max(last)); err != nil {
			b.Fatal(err)
		}
		elapsed += time.Since(start)
		total += perCaller * len(rooms) * callers
	}
	b.StopTimer()
	b.ReportMetric(float64(total)/elapsed.Seconds(), "updates/s")
}

// BenchmarkFailover crashes the doorman of a 5-member room (no leave, no
// handover: its connections just stop) while a newcomer knocks, and
// measures from the crash to: a survivor reporting a new doorman, the
// newcomer being admitted (its peer-join on a survivor) and its Join
// returning (which needs the crashed member removed, after PeerTimeout).
func BenchmarkFailover(b *testing.B) {
	url := startSignal(b)
	var elect, admit, ready []time.Duration
	for i := range b.N {
		roomID := fmt.Sprintf("bench-failover-%d", i)
		events := make(chan memberEvent, 4096)
		rooms, _ := benchRoom(b, url, roomID, benchMembers, newApplyWatch(), events)
		awaitVoters(b, rooms[0], benchMembers)
		start := time.Now()
		rooms[0].shutdown(errors.New("crash"))
		joined := make(chan error, 1)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
			defer cancel()
			r, err := Join(ctx, "newcomer", roomID, benchOptions(url, nil))
			if err == nil {
				b.Cleanup(func() { r.shutdown(nil) })
			}
			joined <- err
		}()
		e, a := awaitFailoverEvents(b, events, start)
		elect, admit = append(elect, e), append(admit, a)
		if err := <-joined; err != nil {
			b.Fatalf("newcomer: %v", err)
		}
		ready = append(ready, time.Since(start))
	}
	b.ReportMetric(ms(quantile(elect, 0.5)), "elect-ms")
	b.ReportMetric(ms(quantile(admit, 0.5)), "admit-ms")
	b.ReportMetric(ms(quantile(ready, 0.5)), "join-ready-ms")
}

// awaitFailoverEvents reads the survivors' events until one has seen a new
// doorman and one the newcomer's arrival, and returns both times since
// start.
func awaitFailoverEvents(b *testing.B, events <-chan memberEvent, start time.Time) (elect, admit time.Duration) {
	b.Helper()
	deadline := time.After(testTimeout)
	for elect == 0 || admit == 0 {
		select {
		case e := <-events:
			switch {
			case e.name == "b0" || e.At.Before(start):
				// the crashed doorman, or before the crash
			case e.Type == EventDoormanChange && e.Doorman != "" && e.Doorman != "b0" && elect == 0:
				elect = e.At.Sub(start)
			case e.Type == EventPeerJoin && e.Peer == "newcomer":
				admit = e.At.Sub(start)
			}
		case <-deadline:
			b.Fatalf("failover: new doorman after %v, newcomer admitted after %v (0: not yet)", elect, admit)
		}
	}
	return elect, admit
}

// awaitVoters polls until r counts n voters: promotion of a caught-up
// learner has no event of its own.
func awaitVoters(b testing.TB, r *Room, n int) {
	b.Helper()
	deadline := time.Now().Add(testTimeout)
	for {
		voters := 0
		for _, p := range r.Peers() {
			if p.Voter {
				voters++
			}
		}
		if voters == n {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("%d voters after %v, want %d", voters, testTimeout, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
