package state

import (
	"encoding/json"
	"testing"
)

// TestNamerGivesReducersTheParticipant: with a Namer, reducers see the
// participant behind the proposer; without one, Participant stays empty.
func TestNamerGivesReducersTheParticipant(t *testing.T) {
	for _, named := range []bool{false, true} {
		m := newMachine(t, `{"by":[]}`)
		if named {
			m.SetNamer(func(proposer string) string { return map[string]string{"7": "alice"}[proposer] })
		}
		m.Register("sign", ReducerFunc(func(_ Reader, _ json.RawMessage, ctx ActionContext) (Patch, error) {
			who, _ := json.Marshal(ctx.Participant)
			return Patch{{Op: OpAdd, Path: "/by/-", Value: who}}, nil
		}))
		for seq, proposer := range []string{"7", "8"} {
			r := m.ApplyEntry(uint64(seq+1), encode(t, Change{Proposer: proposer, Seq: 1, Action: &Action{Name: "sign"}}))
			if r.Err != nil {
				t.Fatal(r.Err)
			}
		}
		got, _ := m.JSON()
		want := `{"by":["",""]}`
		if named {
			want = `{"by":["alice",""]}`
		}
		if string(got) != want {
			t.Errorf("named=%v: %s, want %s", named, got, want)
		}
	}
}
