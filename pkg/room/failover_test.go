package room

import (
	"errors"
	"sync/atomic"
	"testing"
)

func TestDoormanCrashNewDoormanAdmits(t *testing.T) {
	url := startSignal(t)
	a := createMember(t, url, "a", "failover", `{"n":0}`)
	b := joinMember(t, url, "b", "failover")
	c := joinMember(t, url, "c", "failover")
	if _, err := b.Update(ctxT(t), patch(t, `[{"op":"replace","path":"/n","value":1}]`)); err != nil {
		t.Fatal(err)
	}
	// Crash: the doorman vanishes without leaving (no transfer, no removal).
	a.shutdown(errors.New("crashed"))
	e := b.rec.waitFor(t, "a new doorman", func(e Event) bool {
		return e.Type == EventDoormanChange && (e.Doorman == "b" || e.Doorman == "c")
	})
	t.Logf("new doorman: %s", e.Doorman)
	d := joinMember(t, url, "d", "failover")
	if _, err := d.Update(ctxT(t), patch(t, `[{"op":"replace","path":"/n","value":2}]`)); err != nil {
		t.Fatal(err)
	}
	converge(t, `{"n":2}`, b, c, d)
	b.rec.waitFor(t, "the crashed doorman's removal", func(e Event) bool {
		return e.Type == EventPeerLeave && e.Peer == "a"
	})
}

func TestDoormanLeavesGracefully(t *testing.T) {
	url := startSignal(t)
	a := createMember(t, url, "a", "leave", `{"n":0}`)
	b := joinMember(t, url, "b", "leave")
	c := joinMember(t, url, "c", "leave")
	if err := a.Leave(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if err := a.Err(); err != nil {
		t.Fatalf("after Leave, Err() = %v, want nil", err)
	}
	for _, m := range []*member{b, c} {
		m.rec.waitFor(t, "a's departure", func(e Event) bool { return e.Type == EventPeerLeave && e.Peer == "a" })
	}
	d := joinMember(t, url, "d", "leave")
	if _, err := d.Update(ctxT(t), patch(t, `[{"op":"replace","path":"/n","value":1}]`)); err != nil {
		t.Fatal(err)
	}
	converge(t, `{"n":1}`, b, c, d)
	if _, err := a.Update(ctxT(t), patch(t, `[{"op":"replace","path":"/n","value":9}]`)); !errors.Is(err, ErrClosed) {
		t.Fatalf("update after leave: %v, want ErrClosed", err)
	}
}

func TestForgedRaftFrameIsDropped(t *testing.T) {
	url := startSignal(t)
	a := createMember(t, url, "a", "forgery", `{"n":0}`)
	b := joinMember(t, url, "b", "forgery")
	before := a.node.Load().Status()
	// b's connection is bound to raft id 2; a frame claiming to be from
	// member 1 (a itself) or 7 must never reach raft.
	for _, claimed := range []uint64{1, 7} {
		a.onRaftFrame(b.self.Load(), forgedHeartbeat(t, claimed, a.self.Load(), before.Term+5))
	}
	a.onRaftFrame(b.self.Load(), []byte("not protobuf at all \xff\xff"))
	if st := a.node.Load().Status(); st.Term != before.Term || st.Leader != before.Leader {
		t.Fatalf("forged frames changed raft: term %d→%d leader %d→%d", before.Term, st.Term, before.Leader, st.Leader)
	}
	if _, err := b.Update(ctxT(t), patch(t, `[{"op":"replace","path":"/n","value":1}]`)); err != nil {
		t.Fatal(err)
	}
	converge(t, `{"n":1}`, a, b)
}

// A member that keeps sending forged frames is cut off and removed.
func TestForgingMemberIsRemoved(t *testing.T) {
	url := startSignal(t)
	a := createMember(t, url, "a", "forger", `{"n":0}`)
	b := joinMember(t, url, "b", "forger")
	c := joinMember(t, url, "c", "forger")
	forged := forgedHeartbeat(t, a.self.Load(), a.self.Load(), 99) // b pretending to be a
	for range maxStrikes {
		a.onRaftFrame(b.self.Load(), forged)
	}
	a.rec.waitFor(t, "an error about the forger", func(e Event) bool {
		return e.Type == EventError && errors.Is(e.Err, ErrBadMessage)
	})
	c.rec.waitFor(t, "the forger's removal", func(e Event) bool { return e.Type == EventPeerLeave && e.Peer == "b" })
	if _, err := c.Update(ctxT(t), patch(t, `[{"op":"replace","path":"/n","value":1}]`)); err != nil {
		t.Fatal(err)
	}
	converge(t, `{"n":1}`, a, c)
}

func TestDoormanHandsOver(t *testing.T) {
	url := startSignal(t)
	a := createMember(t, url, "a", "handover", `{}`)
	if err := a.HandOver(ctxT(t)); !errors.Is(err, ErrNoOtherVoter) { // alone: nobody to hand to
		t.Fatalf("hand over alone: %v, want ErrNoOtherVoter", err)
	}
	b := joinMember(t, url, "b", "handover")
	if err := b.HandOver(ctxT(t)); err != nil { // not the doorman: nothing to do
		t.Fatal(err)
	}
	if err := a.HandOver(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	b.rec.waitFor(t, "b becoming doorman", func(e Event) bool { return e.Type == EventDoormanChange && e.Doorman == "b" })
	joinMember(t, url, "c", "handover") // the new doorman admits
}

// A doorman that hands over the moment a newcomer was added may find the
// other voter with that membership change still to apply, which keeps it
// from taking over: HandOver asks again rather than failing.
func TestDoormanHandsOverRightAfterANewcomerIsAdded(t *testing.T) {
	url := startSignal(t)
	ctx := ctxT(t)
	handOver := make(chan error, 1)
	var self atomic.Pointer[Room]
	a := createWith(t, url, "a", "handover-added-now", `{}`, func(o *Options) {
		record := o.OnEvent
		o.OnEvent = func(e Event) {
			record(e)
			if e.Type == EventPeerJoin && e.Peer == "c" {
				go func() { handOver <- self.Load().HandOver(ctx) }()
			}
		}
	})
	self.Store(a.Room)
	b := joinMember(t, url, "b", "handover-added-now")
	awaitVoters(t, a.Room, 2)
	joinMember(t, url, "c", "handover-added-now")
	if err := <-handOver; err != nil {
		t.Fatalf("hand over right after c was added: %v", err)
	}
	b.rec.waitFor(t, "b becoming doorman", func(e Event) bool { return e.Type == EventDoormanChange && e.Doorman == "b" })
}
