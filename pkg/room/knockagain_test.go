package room

import (
	"context"
	"sync/atomic"
	"testing"
	"time"
)

// createHandingOver creates a room whose doorman, a, hands the room over to
// its other voter at the moment handOver names: in its Admit hook for a
// newcomer called "c" ("hook"), or between answering c and adding it
// ("answered").
func createHandingOver(t *testing.T, url, roomID, handOver string) (a *member, handedOver *atomic.Bool) {
	t.Helper()
	handedOver = new(atomic.Bool)
	var self atomic.Pointer[Room]
	handOverOnce := func() {
		if handedOver.Swap(true) {
			return
		}
		if err := self.Load().HandOver(context.Background()); err != nil {
			t.Errorf("hand over: %v", err)
		}
	}
	a = createWith(t, url, "a", roomID, `{"n":0}`, func(o *Options) {
		if handOver == "hook" {
			o.Admit = func(k Knock) error {
				if k.Participant == "c" {
					handOverOnce()
				}
				return nil
			}
		}
	})
	self.Store(a.Room)
	if handOver == "answered" {
		var admissions atomic.Int32
		hook := func() {
			if admissions.Add(1) == 2 { // c's: b's came first
				handOverOnce()
			}
		}
		a.hooks.beforeAddLearner.Store(&hook)
	}
	return a, handedOver
}

// A doorman that stops leading while it decides on a knock cannot answer it
// any more (the room id moves on with the claim). The newcomer hears no word
// from it, knocks again, and the next doorman lets it in, well within the
// join timeout instead of failing at its end.
func TestJoinKnocksAgainWhenTheDoormanStepsDownWhileDeciding(t *testing.T) {
	joinsThroughHandOver(t, "hook")
}

// A doorman that answered but stopped leading before it could add the
// newcomer lets the connection go; the newcomer, which follows only that
// doorman until it has caught up, knocks again.
func TestJoinKnocksAgainWhenTheDoormanStepsDownAfterAnswering(t *testing.T) {
	joinsThroughHandOver(t, "answered")
}

func joinsThroughHandOver(t *testing.T, when string) {
	url := startSignal(t)
	a, handedOver := createHandingOver(t, url, "handover-"+when, when)
	b := joinMember(t, url, "b", "handover-"+when)
	c := joinMember(t, url, "c", "handover-"+when)
	checkJoinedThroughB(t, handedOver.Load(), a, b, c)
}

// checkJoinedThroughB checks that a handed the room over to b while c
// joined (handedOver) and that c, let in by b, takes part.
func checkJoinedThroughB(t *testing.T, handedOver bool, a, b, c *member) {
	t.Helper()
	if !handedOver {
		t.Fatal("a never handed over while admitting c: the test staged nothing")
	}
	if got := c.Doorman(); got != "b" {
		t.Errorf("c's doorman = %q, want b (a handed over while admitting it)", got)
	}
	if _, err := c.Update(ctxT(t), patch(t, `[{"op":"replace","path":"/n","value":1}]`)); err != nil {
		t.Fatal(err)
	}
	converge(t, `{"n":1}`, a, b, c)
}

// A doorman that takes its time deciding (an Admit hook asking a person)
// keeps the newcomer waiting, however long past answerPatience: it says it
// is still deciding, so the newcomer does not knock again.
func TestSlowAdmitHookKeepsTheNewcomerWaiting(t *testing.T) {
	url := startSignal(t)
	var asked atomic.Int32
	createWith(t, url, "a", "slow-door", `{"n":0}`, func(o *Options) {
		o.Admit = func(k Knock) error {
			asked.Add(1)
			time.Sleep(answerPatience + 2*pendingInterval) // a person making up their mind
			return nil
		}
	})
	joinMember(t, url, "c", "slow-door")
	if n := asked.Load(); n != 1 {
		t.Errorf("the Admit hook was asked %d times, want once: the newcomer knocked again while the doorman decided", n)
	}
}

// A doorman that added the newcomer but stopped leading before the newcomer
// caught up lets it go (only a leader catches a learner up, and a newcomer
// follows no one but its sponsor until it knows the members' keys). The
// newcomer knocks again as the same identity; the next doorman removes the
// given-up attempt, still a learner in the member table, and lets it in
// again, instead of refusing it as a participant already in the room.
func TestJoinKnocksAgainWhenTheDoormanStepsDownBeforeTheNewcomerCaughtUp(t *testing.T) {
	url := startSignal(t)
	a := createMember(t, url, "a", "handover-added", `{"n":0}`)
	// a hands over once b too has applied c's addition: a voter with a
	// configuration change still to apply cannot take over.
	var handedOver atomic.Bool
	b := joinWith(t, url, "b", "handover-added", func(o *Options) {
		// b would remove an unreachable member on its own after
		// PeerTimeout: make that too late to be what lets c in.
		o.PeerTimeout = 2 * testTimeout
		record := o.OnEvent
		o.OnEvent = func(e Event) {
			record(e)
			if e.Type == EventPeerJoin && e.Peer == "c" && !handedOver.Swap(true) {
				go func() {
					if err := a.HandOver(context.Background()); err != nil {
						t.Errorf("hand over: %v", err)
					}
				}()
			}
		}
	})
	// a's raft messages never reach c: c is added, but a does not catch it up.
	voters := map[uint64]bool{a.self.Load(): true, b.self.Load(): true}
	hold := func(to uint64) bool { return !voters[to] }
	a.hooks.holdRaft.Store(&hold)

	c := joinMember(t, url, "c", "handover-added")
	checkJoinedThroughB(t, handedOver.Load(), a, b, c)
	if got := b.node.Load().Status().Members; len(got) != 3 {
		t.Errorf("the room has %d members, want 3 (c's given-up attempt removed): %+v", len(got), got)
	}
}
