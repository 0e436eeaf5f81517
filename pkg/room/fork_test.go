package room

import (
	"errors"
	"fmt"
	"log/slog"
	"testing"

	"github.com/rooms-dev/rooms/pkg/state"
)

func newTestMachine(t *testing.T) *machine {
	t.Helper()
	app, err := state.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return newMachine(roomMeta{RoomID: "chain"}, app)
}

// Members that apply the same entries have the same chain, at every
// index; one different entry makes it differ from there on, and a snapshot
// carries the chain to a member that starts from it.
func TestChainFollowsAppliedEntries(t *testing.T) {
	a, b, c := newTestMachine(t), newTestMachine(t), newTestMachine(t)
	for i := uint64(1); i <= 5; i++ {
		entry := []byte(fmt.Sprintf("entry %d", i))
		a.Apply(i, entry)
		b.Apply(i, entry)
		if i == 3 {
			entry = []byte("another entry")
		}
		c.Apply(i, entry)
	}
	if a.chainHead() != b.chainHead() {
		t.Fatal("the same entries gave different chains")
	}
	for i := uint64(1); i <= 5; i++ {
		da, _ := a.chainAt(i)
		dc, ok := c.chainAt(i)
		if !ok || (da == dc) != (i < 3) {
			t.Errorf("index %d: chains equal %v (remembered %v), want equal only before index 3", i, da == dc, ok)
		}
	}
	snap, err := a.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	d := newTestMachine(t)
	if err := d.Restore(snap); err != nil {
		t.Fatal(err)
	}
	a.Apply(6, []byte("entry 6"))
	d.Apply(6, []byte("entry 6"))
	if a.chainHead() != d.chainHead() {
		t.Fatal("a member restored from a snapshot does not continue the chain")
	}
	if _, ok := d.chainAt(3); ok {
		t.Error("a restored member claims to remember a position before its snapshot")
	}
}

// Members whose logs forked find out from each other's chain frames and
// report ErrForked.
func TestForkIsReported(t *testing.T) {
	url := startSignal(t)
	a := createMember(t, url, "a", "fork", `{"n":0}`)
	b := joinMember(t, url, "b", "fork")
	c := joinMember(t, url, "c", "fork")
	converge(t, `{"n":0}`, a, b, c)
	// c's history now differs, as if a doorman had sent it another entry.
	c.sm.mu.Lock()
	c.sm.chain.extend(c.sm.chain.head.index, []byte("an entry nobody else applied"))
	c.sm.mu.Unlock()
	if _, err := a.Update(ctxT(t), patch(t, `[{"op":"replace","path":"/n","value":1}]`)); err != nil {
		t.Fatal(err)
	}
	for _, m := range []*member{a, b} {
		m.rec.waitFor(t, m.Self()+" reporting the fork", func(e Event) bool {
			return e.Type == EventError && errors.Is(e.Err, ErrForked)
		})
	}
}

// In a healthy room the members' chains agree, and nobody reports a fork.
func TestChainAgreesInAHealthyRoom(t *testing.T) {
	url := startSignal(t)
	a := createMember(t, url, "a", "agree", `{"n":0}`)
	agrees := &logWatch{text: "room: chain agrees", hits: make(chan slog.Record, 64)}
	b := joinWith(t, url, "b", "agree", func(o *Options) { o.Logger = slog.New(agrees) })
	c := joinMember(t, url, "c", "agree")
	for i := 1; i <= 5; i++ {
		if _, err := c.Update(ctxT(t), patch(t, fmt.Sprintf(`[{"op":"replace","path":"/n","value":%d}]`, i))); err != nil {
			t.Fatal(err)
		}
	}
	converge(t, `{"n":5}`, a, b, c)
	compared := map[string]bool{}
	for len(compared) < 2 {
		compared[agrees.blamed(t, "b never compared its chain with both other members")] = true
	}
	for _, m := range []*member{a, b, c} {
		m.rec.mu.Lock()
		for _, e := range m.rec.events {
			if e.Type == EventError && errors.Is(e.Err, ErrForked) {
				t.Errorf("%s reported a fork in a healthy room: %v", m.Self(), e.Err)
			}
		}
		m.rec.mu.Unlock()
	}
}
