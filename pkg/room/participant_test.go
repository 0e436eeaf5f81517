package room

import (
	"encoding/json"
	"testing"

	"github.com/rooms-dev/rooms/pkg/state"
)

// Reducers learn who proposed an action from the replicated member table,
// the same on every member, whatever the payload claims.
func TestReducersSeeTheRealProposer(t *testing.T) {
	url := startSignal(t)
	sign := state.ReducerFunc(func(_ state.Reader, _ json.RawMessage, ctx state.ActionContext) (state.Patch, error) {
		who, _ := json.Marshal(ctx.Participant)
		return state.Patch{{Op: state.OpAdd, Path: "/by/-", Value: who}}, nil
	})
	open := func(name string, create bool) *member {
		rec := newRecorder()
		opts := testOptions(url, rec)
		opts.Reducers = map[string]state.Reducer{"sign": sign}
		var r *Room
		var err error
		if create {
			r, err = Create(ctxT(t), name, "proposer", json.RawMessage(`{"by":[]}`), opts)
		} else {
			r, err = Join(ctxT(t), name, "proposer", opts)
		}
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		t.Cleanup(func() { r.shutdown(nil) })
		return &member{r, rec}
	}
	a, b := open("alice", true), open("bob", false)
	if _, err := a.Dispatch(ctxT(t), "sign", json.RawMessage(`{"by":"bob"}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Dispatch(ctxT(t), "sign", nil); err != nil {
		t.Fatal(err)
	}
	c := open("carol", false) // replays both actions from a snapshot or the log
	converge(t, `{"by":["alice","bob"]}`, a, b, c)
}
