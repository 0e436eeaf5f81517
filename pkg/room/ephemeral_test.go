package room

import (
	"encoding/json"
	"testing"
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
