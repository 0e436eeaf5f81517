package room

import "testing"

func TestRaftStatusFollowsTheLog(t *testing.T) {
	url := startSignal(t)
	a := createMember(t, url, "a", "status", `{"n":0}`)
	b := joinMember(t, url, "b", "status")
	before := a.Raft()
	if before.Leader != "a" || before.Term == 0 || before.Commit == 0 {
		t.Fatalf("doorman's status %+v: want leader a, a term and a commit index", before)
	}
	if _, err := b.Update(ctxT(t), patch(t, `[{"op":"replace","path":"/n","value":1}]`)); err != nil {
		t.Fatal(err)
	}
	after := b.Raft()
	if after.Commit <= before.Commit || after.Applied <= before.Commit || after.Term != before.Term {
		t.Errorf("after an update b's status is %+v, a's was %+v before: want higher commit and applied indexes, same term", after, before)
	}
	if after.Leader != "a" {
		t.Errorf("b sees leader %q, want a", after.Leader)
	}
	a.shutdown(nil)
	if got := a.Raft(); got != (RaftStatus{}) {
		t.Errorf("closed member's status %+v, want zero", got)
	}
}

func TestConnectionsListConnectedMembers(t *testing.T) {
	url := startSignal(t)
	a := createMember(t, url, "a", "links", `{}`)
	b := joinMember(t, url, "b", "links")
	c := joinMember(t, url, "c", "links")
	for _, m := range []*member{a, b, c} {
		links := m.Connections()
		if len(links) != 2 {
			t.Fatalf("%s has connections to %v, want the two others", m.Self(), keys(links))
		}
		if _, self := links[m.Self()]; self {
			t.Errorf("%s lists a connection to itself", m.Self())
		}
		for name, conn := range links {
			if conn.State().String() != "connected" {
				t.Errorf("%s's connection to %s is %s", m.Self(), name, conn.State())
			}
		}
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
