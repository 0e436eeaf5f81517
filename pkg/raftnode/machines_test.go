package raftnode

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/rooms-dev/rooms/pkg/state"
)

// simMachine is a state machine the simulation can run: the test's
// key-value machine or the room's JSON document.
type simMachine interface {
	StateMachine
	get(key string) string
}

// newMachine builds a member's state machine; onExecute (may be nil) hears
// of every command that really executed, with its raft index.
func (s *sim) newMachine(onExecute func(index uint64, id string)) simMachine {
	if !s.opts.jsonState {
		kv := newKV()
		if onExecute != nil {
			kv.onExecute = func(index uint64, cmd kvCommand) { onExecute(index, cmd.id()) }
		}
		return kv
	}
	m, err := state.New(json.RawMessage(`{"a":"","b":"","c":""}`))
	if err != nil {
		panic(err)
	}
	if onExecute != nil {
		m.OnApply(func(a state.Applied) {
			if !a.Restored && !a.Duplicate && a.Change.Proposer != "" {
				onExecute(a.Index, fmt.Sprintf("%s/%d", a.Change.Proposer, a.Change.Seq))
			}
		})
	}
	return jsonMachine{m}
}

// encode turns a workload command into an entry payload for the machine.
func (s *sim) encode(cmd kvCommand) []byte {
	if !s.opts.jsonState {
		return mustJSON(cmd)
	}
	path := "/" + cmd.Key
	value := mustJSON(cmd.Value)
	c := state.Change{Proposer: fmt.Sprint(cmd.Client), Seq: cmd.Seq}
	switch cmd.Op {
	case "put":
		c.Patch = state.Patch{{Op: state.OpReplace, Path: path, Value: value}}
	case "cas":
		c.Patch = state.Patch{{Op: state.OpTest, Path: path, Value: mustJSON(cmd.Expect)}, {Op: state.OpReplace, Path: path, Value: value}}
	}
	b, err := state.EncodeChange(c)
	if err != nil {
		panic(err)
	}
	return b
}

// result reads the machine's answer to a write as the workload's kvResult.
func (s *sim) result(v any) kvResult {
	if !s.opts.jsonState {
		return v.(kvResult)
	}
	r := v.(state.Result)
	switch {
	case r.Err == nil:
		return kvResult{OK: true}
	case errors.Is(r.Err, state.ErrConflict):
		return kvResult{}
	case errors.Is(r.Err, state.ErrStale):
		return kvResult{Stale: true}
	}
	return kvResult{Err: r.Err.Error()}
}

type jsonMachine struct{ *state.Machine }

func (m jsonMachine) get(key string) string {
	var v string
	if err := m.Decode("/"+key, &v); err != nil {
		panic(fmt.Sprintf("read /%s: %v", key, err))
	}
	return v
}
