package room

import (
	"encoding/json"
	"errors"
	"fmt"
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
