package room

import (
	"context"
	"errors"
	"testing"
	"time"
)

func recoveringMember(t *testing.T, url, name, roomID, initial string, create bool) *member {
	t.Helper()
	rec := newRecorder()
	opts := testOptions(url, rec)
	opts.RecoveryTimeout = time.Second
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	var r *Room
	var err error
	if create {
		r, err = Create(ctx, name, roomID, []byte(initial), opts)
	} else {
		r, err = Join(ctx, name, roomID, opts)
	}
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	t.Cleanup(func() { r.shutdown(nil) })
	return &member{r, rec}
}

// A room of two voters has no majority once either vanishes; the survivor
// re-forms it and the room goes on: a newcomer joins and updates commit.
func TestTwoMemberRoomSurvivesEitherVanishing(t *testing.T) {
	for _, vanishing := range []string{"doorman", "joiner"} {
		t.Run(vanishing, func(t *testing.T) {
			url := startSignal(t)
			roomID := "pair-" + vanishing
			a := recoveringMember(t, url, "a", roomID, `{"n":1}`, true)
			b := recoveringMember(t, url, "b", roomID, "", false)
			if _, err := b.Update(ctxT(t), patch(t, `[{"op":"replace","path":"/n","value":2}]`)); err != nil {
				t.Fatal(err)
			}
			gone, survivor := a, b
			if vanishing == "joiner" {
				gone, survivor = b, a
			}
			gone.shutdown(errors.New("crashed"))
			survivor.rec.waitFor(t, "re-formation", func(e Event) bool { return e.Type == EventRecovered && e.Epoch == 1 })
			c := recoveringMember(t, url, "c", roomID, "", false)
			if _, err := c.Update(ctxT(t), patch(t, `[{"op":"replace","path":"/n","value":3}]`)); err != nil {
				t.Fatal(err)
			}
			converge(t, `{"n":3}`, survivor, c)
		})
	}
}

func TestRecoveryNeverKeepsStrictRaft(t *testing.T) {
	url := startSignal(t)
	recA, recB := newRecorder(), newRecorder()
	optsA, optsB := testOptions(url, recA), testOptions(url, recB)
	for _, o := range []*Options{&optsA, &optsB} {
		o.Recovery, o.RecoveryTimeout = RecoveryNever, 200*time.Millisecond
	}
	a, err := Create(ctxT(t), "a", "strict", []byte(`{}`), optsA)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.shutdown(nil) })
	b, err := Join(ctxT(t), "b", "strict", optsB)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.shutdown(nil) })
	a.shutdown(errors.New("crashed"))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if _, err := b.Update(ctx, patch(t, `[{"op":"add","path":"/x","value":1}]`)); !errors.Is(err, ErrTimeout) {
		t.Fatalf("update without quorum under RecoveryNever: %v, want ErrTimeout", err)
	}
	recB.mu.Lock()
	defer recB.mu.Unlock()
	for _, e := range recB.events {
		if e.Type == EventRecovered {
			t.Fatal("RecoveryNever re-formed the room")
		}
	}
}

// Two voters and a learner: when a voter vanishes, the survivors can reach
// each other but hold no majority of voters. One re-forms the room, the other
// finds it through the signalling server and rejoins.
func TestVoterAndLearnerRecoverTogether(t *testing.T) {
	url := startSignal(t)
	newMember := func(name string, create bool) *member {
		rec := newRecorder()
		opts := testOptions(url, rec)
		opts.RecoveryTimeout, opts.MaxVoters = time.Second, 2
		var r *Room
		var err error
		if create {
			r, err = Create(ctxT(t), name, "trio", []byte(`{"n":1}`), opts)
		} else {
			r, err = Join(ctxT(t), name, "trio", opts)
		}
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		t.Cleanup(func() { r.shutdown(nil) })
		return &member{r, rec}
	}
	a, b, c := newMember("a", true), newMember("b", false), newMember("c", false)
	if peers := c.Peers(); peers[2].Voter {
		t.Fatalf("c should be a learner with MaxVoters 2: %+v", peers)
	}
	a.shutdown(errors.New("crashed"))
	for _, m := range []*member{b, c} {
		m.rec.waitFor(t, m.Self()+" recovering", func(e Event) bool { return e.Type == EventRecovered })
	}
	if _, err := c.Update(ctxT(t), patch(t, `[{"op":"replace","path":"/n","value":2}]`)); err != nil {
		t.Fatal(err)
	}
	converge(t, `{"n":2}`, b, c)
	if got := len(b.Peers()); got != 2 {
		t.Fatalf("b sees %d members after recovery, want 2: %+v", got, b.Peers())
	}
}
