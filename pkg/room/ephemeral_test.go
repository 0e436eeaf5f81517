package room

import (
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/rooms-dev/rooms/pkg/state"
)

func TestEphemeralMessagesAndPresence(t *testing.T) {
	url := startSignal(t)
	a := createMember(t, url, "a", "chatter", `{}`)
	b := joinMember(t, url, "b", "chatter")
	c := joinMember(t, url, "c", "chatter")
	if err := a.Send("", json.RawMessage(`{"typing":true}`)); err != nil {
		t.Fatal(err)
	}
	if err := b.Send("c", json.RawMessage(`{"cursor":[1,2]}`)); err != nil {
		t.Fatal(err)
	}
	for _, m := range []*member{b, c} {
		m.rec.waitFor(t, "a's broadcast", func(e Event) bool {
			return e.Type == EventMessage && e.Peer == "a" && jsonEqual(e.Data, []byte(`{"typing":true}`))
		})
	}
	c.rec.waitFor(t, "b's direct message", func(e Event) bool {
		return e.Type == EventMessage && e.Peer == "b" && jsonEqual(e.Data, []byte(`{"cursor":[1,2]}`))
	})
	if err := a.Send("nobody", json.RawMessage(`1`)); err == nil {
		t.Fatal("sending to a stranger succeeded")
	}
	if err := a.Send("", json.RawMessage(`{not json`)); err == nil {
		t.Fatal("sending invalid JSON succeeded")
	}
	peers := c.Peers()
	if len(peers) != 3 {
		t.Fatalf("peers = %+v", peers)
	}
	for _, p := range peers {
		switch {
		case p.Participant == "c" && (!p.Self || p.State != "self"):
			t.Errorf("self entry wrong: %+v", p)
		case p.Participant == "a" && (!p.Doorman || p.State != "connected"):
			t.Errorf("doorman entry wrong: %+v", p)
		case p.Participant == "b" && (p.Doorman || p.State != "connected"):
			t.Errorf("b entry wrong: %+v", p)
		}
	}
}

func TestReducersFromOptionsReplayOnNewcomers(t *testing.T) {
	url := startSignal(t)
	inc := state.ReducerFunc(func(doc state.Reader, payload json.RawMessage, ctx state.ActionContext) (state.Patch, error) {
		var n int
		if err := doc.Decode("/n", &n); err != nil {
			return nil, err
		}
		return state.Patch{{Op: state.OpReplace, Path: "/n", Value: json.RawMessage(fmt.Sprint(n + 1))}}, nil
	})
	withReducers := func(rec *recorder) Options {
		o := testOptions(url, rec)
		o.Reducers = map[string]state.Reducer{"inc": inc}
		return o
	}
	a, err := Create(ctxT(t), "a", "reducers", []byte(`{"n":0}`), withReducers(newRecorder()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.shutdown(nil) })
	for range 3 {
		if _, err := a.Dispatch(ctxT(t), "inc", nil); err != nil {
			t.Fatal(err)
		}
	}
	b, err := Join(ctxT(t), "b", "reducers", withReducers(newRecorder()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.shutdown(nil) })
	if _, err := b.Dispatch(ctxT(t), "inc", nil); err != nil {
		t.Fatal(err)
	}
	converge(t, `{"n":4}`, &member{a, nil}, &member{b, nil})
	if _, err := b.Dispatch(ctxT(t), "nope", nil); !errors.Is(err, state.ErrUnknownAction) {
		t.Fatalf("unknown action: %v", err)
	}
}

// Many updates at once through one member share raft entries (group commit)
// and each still gets its own answer: here exactly one of the racing
// conditional updates wins, and every plain update lands.
func TestConcurrentUpdatesFromOneMember(t *testing.T) {
	url := startSignal(t)
	a := createMember(t, url, "a", "burst", `{"seat":null,"log":[]}`)
	b := joinMember(t, url, "b", "burst")
	const n = 40
	errs := make([]error, n)
	versions := make([]uint64, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			ops := fmt.Sprintf(`[{"op":"add","path":"/log/-","value":%d}]`, i)
			if i%4 == 0 {
				ops = fmt.Sprintf(`[{"op":"test","path":"/seat","value":null},{"op":"replace","path":"/seat","value":%d}]`, i)
			}
			versions[i], errs[i] = b.Update(ctxT(t), patch(t, ops))
		})
	}
	wg.Wait()
	wins, seen := 0, map[uint64]bool{}
	for i, err := range errs {
		switch {
		case err == nil:
			if seen[versions[i]] {
				t.Fatalf("two updates answered with version %d", versions[i])
			}
			seen[versions[i]] = true
			if i%4 == 0 {
				wins++
			}
		case i%4 != 0 || !errors.Is(err, state.ErrConflict):
			t.Fatalf("update %d: %v", i, err)
		}
	}
	if wins != 1 {
		t.Fatalf("%d conditional updates won, want 1", wins)
	}
	doc, err := a.Read(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	var got struct{ Log []int }
	if err := json.Unmarshal(doc, &got); err != nil || len(got.Log) != n-n/4 {
		t.Fatalf("log has %d entries (%v), want %d", len(got.Log), err, n-n/4)
	}
}
