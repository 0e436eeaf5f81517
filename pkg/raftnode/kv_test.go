package raftnode

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
)

// kvMachine is a small replicated key-value store with compare-and-set and an
// exactly-once table, used by the simulation. It has the same contract as the
// room's JSON state machine: deterministic, never panics, retried commands
// (same client and seq) are applied once and answered with the first result.
type kvMachine struct {
	Data    map[string]string `json:"data"`
	Last    map[int]uint64    `json:"last"`
	Results map[int]kvResult  `json:"results"`
	// onExecute observes each command that really executed (not a
	// deduplicated retry), with its raft index.
	onExecute func(index uint64, cmd kvCommand)
}

type kvCommand struct {
	Client int    `json:"client"`
	Seq    uint64 `json:"seq"`
	Op     string `json:"op"` // put | cas
	Key    string `json:"key"`
	Value  string `json:"value"`
	Expect string `json:"expect,omitempty"`
}

func (c kvCommand) id() string { return fmt.Sprintf("%d/%d", c.Client, c.Seq) }

type kvResult struct {
	OK    bool   `json:"ok"`
	Stale bool   `json:"stale,omitempty"`
	Err   string `json:"err,omitempty"`
}

func newKV() *kvMachine {
	return &kvMachine{Data: map[string]string{}, Last: map[int]uint64{}, Results: map[int]kvResult{}}
}

func (m *kvMachine) Apply(index uint64, data []byte) any {
	var cmd kvCommand
	if err := json.Unmarshal(data, &cmd); err != nil {
		return kvResult{Err: err.Error()}
	}
	if last := m.Last[cmd.Client]; cmd.Seq <= last {
		if cmd.Seq == last {
			return m.Results[cmd.Client]
		}
		return kvResult{Stale: true}
	}
	var res kvResult
	switch cmd.Op {
	case "put":
		m.Data[cmd.Key], res.OK = cmd.Value, true
	case "cas":
		if m.Data[cmd.Key] == cmd.Expect {
			m.Data[cmd.Key], res.OK = cmd.Value, true
		}
	default:
		res.Err = "unknown op " + cmd.Op
	}
	m.Last[cmd.Client], m.Results[cmd.Client] = cmd.Seq, res
	if m.onExecute != nil {
		m.onExecute(index, cmd)
	}
	return res
}

func (m *kvMachine) Snapshot() ([]byte, error) { return json.Marshal(m) }

func (m *kvMachine) Restore(b []byte) error {
	fresh := newKV()
	if err := json.Unmarshal(b, fresh); err != nil {
		return err
	}
	m.Data, m.Last, m.Results = fresh.Data, fresh.Last, fresh.Results
	return nil
}

func (m *kvMachine) get(key string) string { return m.Data[key] }

func (m *kvMachine) keys() []string { return slices.Sorted(maps.Keys(m.Data)) }
