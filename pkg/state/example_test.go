package state_test

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/rooms-dev/rooms/pkg/state"
)

// Two members race for the same seat with a conditional patch: the first
// committed wins, the second gets ErrConflict, and a retry of the winner's
// change is answered from the exactly-once table.
func Example() {
	m, err := state.New(json.RawMessage(`{"seats":[null,null]}`))
	if err != nil {
		panic(err)
	}
	takeSeat := func(who string, seq uint64) []byte {
		data, err := state.EncodeChange(state.Change{Proposer: who, Seq: seq, Patch: state.Patch{
			{Op: state.OpTest, Path: "/seats/0", Value: json.RawMessage(`null`)},
			{Op: state.OpReplace, Path: "/seats/0", Value: json.RawMessage(fmt.Sprintf("%q", who))},
		}})
		if err != nil {
			panic(err)
		}
		return data
	}
	alice, bob := takeSeat("alice", 1), takeSeat("bob", 1)

	// Raft commits alice's change first, then bob's, then alice's retry.
	fmt.Println(m.ApplyEntry(1, alice).Version)
	r := m.ApplyEntry(2, bob)
	fmt.Println(errors.Is(r.Err, state.ErrConflict), r.Err)
	fmt.Println(m.ApplyEntry(3, alice).Version)

	doc, _ := m.JSON()
	fmt.Println(string(doc))
	// Output:
	// 1
	// true patch op 0 (test /seats/0): conflict: test failed: the value differs
	// 1
	// {"seats":["alice",null]}
}

// A reducer turns a named action into a patch; every member registers it.
func ExampleMachine_Register() {
	m, _ := state.New(json.RawMessage(`{"count":0}`))
	m.Register("add", state.ReducerFunc(func(doc state.Reader, payload json.RawMessage, ctx state.ActionContext) (state.Patch, error) {
		var count, n int
		if err := doc.Decode("/count", &count); err != nil {
			return nil, err
		}
		if err := json.Unmarshal(payload, &n); err != nil {
			return nil, fmt.Errorf("payload: %v", err)
		}
		return state.Patch{{Op: state.OpReplace, Path: "/count", Value: json.RawMessage(fmt.Sprint(count + n))}}, nil
	}))
	data, _ := state.EncodeChange(state.Change{Proposer: "alice", Seq: 1, Action: &state.Action{Name: "add", Payload: json.RawMessage(`5`)}})
	fmt.Println(m.ApplyEntry(1, data).Err)
	count, _ := m.Get("/count")
	fmt.Println(string(count))
	// Output:
	// <nil>
	// 5
}
