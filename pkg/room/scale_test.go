package room

// Larger rooms: 7 members through our signalling server and through the
// real npm `peer` server, and 20 members (5 voters, 15 learners) on one
// machine.

import (
	"encoding/json"
	"errors"
	"fmt"
	"github.com/rooms-dev/rooms/internal/testenv"
	"sync"
	"testing"
	"time"

	"github.com/rooms-dev/rooms/pkg/state"
)

// formRoom creates roomID and has n-1 more members join it, one after
// another (each Join returns once the newcomer is connected to everyone).
func formRoom(t *testing.T, url, roomID string, n int, initial string) []*member {
	t.Helper()
	members := []*member{createMember(t, url, "m00", roomID, initial)}
	for i := 1; i < n; i++ {
		members = append(members, joinMember(t, url, fmt.Sprintf("m%02d", i), roomID))
	}
	return members
}

// everyoneWrites has each member add its own key under /by (of a document
// {"by":{},"seat":null}), then checks that
// every member reads the same document with all of them.
func everyoneWrites(t *testing.T, members []*member) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make([]error, len(members))
	for i, m := range members {
		wg.Go(func() {
			_, errs[i] = m.Update(ctxT(t), patch(t, fmt.Sprintf(`[{"op":"add","path":"/by/%s","value":%d}]`, m.Self(), i)))
		})
	}
	wg.Wait()
	by := map[string]int{}
	for i, m := range members {
		if errs[i] != nil {
			t.Fatalf("update from %s: %v", m.Self(), errs[i])
		}
		by[m.Self()] = i
	}
	want, _ := json.Marshal(map[string]any{"by": by, "seat": nil})
	converge(t, string(want), members...)
}

// exactlyOneWins has every member try to take the same seat at once with a
// conditional update: one succeeds, every other gets a conflict, and every
// member reads the winner.
func exactlyOneWins(t *testing.T, members []*member) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make([]error, len(members))
	for i, m := range members {
		wg.Go(func() {
			_, errs[i] = m.Update(ctxT(t), patch(t, fmt.Sprintf(
				`[{"op":"test","path":"/seat","value":null},{"op":"replace","path":"/seat","value":%q}]`, m.Self())))
		})
	}
	wg.Wait()
	var winners []string
	for i, err := range errs {
		switch {
		case err == nil:
			winners = append(winners, members[i].Self())
		case !errors.Is(err, state.ErrConflict):
			t.Fatalf("%s: %v, want nil or a conflict", members[i].Self(), err)
		}
	}
	if len(winners) != 1 {
		t.Fatalf("winners %v, want exactly one", winners)
	}
	for _, m := range members {
		got, err := m.Read(ctxT(t))
		if err != nil {
			t.Fatalf("%s: read: %v", m.Self(), err)
		}
		var doc struct{ Seat *string }
		if err := json.Unmarshal(got, &doc); err != nil || doc.Seat == nil || *doc.Seat != winners[0] {
			t.Fatalf("%s reads %s, want the seat taken by %s", m.Self(), got, winners[0])
		}
	}
}

// checkRoster verifies that every member sees all n members, one doorman,
// and at most maxVoters voters.
func checkRoster(t *testing.T, members []*member, maxVoters int) {
	t.Helper()
	for _, m := range members {
		peers := m.Peers()
		voters, doormen := 0, 0
		for _, p := range peers {
			if p.Voter {
				voters++
			}
			if p.Doorman {
				doormen++
			}
		}
		if len(peers) != len(members) || doormen != 1 || voters > maxVoters || voters == 0 {
			t.Fatalf("%s sees %d members, %d doormen, %d voters: %+v", m.Self(), len(peers), doormen, voters, peers)
		}
	}
}

func TestSevenMembers(t *testing.T) {
	url := startSignal(t)
	members := formRoom(t, url, "seven", 7, `{"by":{},"seat":null}`)
	everyoneWrites(t, members)
	exactlyOneWins(t, members)
	checkRoster(t, members, 5)
}

func TestSevenMembersOnNPMPeerServer(t *testing.T) {
	url := startNPMPeerServer(t)
	members := formRoom(t, url, "seven-npm", 7, `{"by":{},"seat":null}`)
	everyoneWrites(t, members)
	exactlyOneWins(t, members)
	checkRoster(t, members, 5)
}

// TestTwentyMembers fills a room with 20 members on this machine: 5 voters
// (the default MaxVoters) and 15 learners, every one connected to every
// other, all converging on the same state.
func TestTwentyMembers(t *testing.T) {
	url := startSignal(t)
	start := time.Now()
	members := formRoom(t, url, "twenty", 20, `{"by":{},"seat":null}`)
	t.Logf("20 members formed in %v", time.Since(start).Round(time.Millisecond))
	everyoneWrites(t, members)
	exactlyOneWins(t, members)
	checkRoster(t, members, 5)
	voters := 0
	for _, p := range members[0].Peers() {
		if p.Voter {
			voters++
		}
	}
	if voters != 5 {
		t.Fatalf("%d voters, want 5 (MaxVoters) once everyone has caught up", voters)
	}
	t.Logf("20 members converged in %v", time.Since(start).Round(time.Millisecond))
}

// startNPMPeerServer runs the real npm `peer` server on a free loopback port
// for the rest of the test and returns its base URL.
func startNPMPeerServer(t *testing.T) string {
	t.Helper()
	url, stop, err := testenv.StartNPMPeer()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	return url
}
