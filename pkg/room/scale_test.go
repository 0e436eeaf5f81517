package room

// Larger rooms: 7 members through our signalling server and through the
// real npm `peer` server, and 20 members (5 voters, 15 learners) on one
// machine.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
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

// startNPMPeerServer runs the real npm `peer` server (node_modules/peer, a
// devDependency of the repository) on a free loopback port and returns its
// base URL. It fails the test, never skips it, when node or the package is
// missing.
func startNPMPeerServer(t *testing.T) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node is required for the npm peer server tests: %v", err)
	}
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(root, "node_modules", "peer", "dist", "bin", "peerjs.js")
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("npm package peer missing (run npm install in %s): %v", root, err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	cmd := exec.Command(node, bin, "--host", "127.0.0.1", "--port", strconv.Itoa(port))
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-exited })
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	if err := awaitListening(addr, exited); err != nil {
		t.Fatalf("npm peer server on %s: %v; output:\n%s", addr, err, out.String())
	}
	return "http://" + addr + "/"
}

// awaitListening polls addr until it accepts connections: there is no event
// for "node has bound its port".
func awaitListening(addr string, exited <-chan struct{}) error {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	for {
		var d net.Dialer
		if c, err := d.DialContext(ctx, "tcp", addr); err == nil {
			c.Close()
			return nil
		}
		select {
		case <-exited:
			return errors.New("exited before listening")
		case <-ctx.Done():
			return fmt.Errorf("not listening after 15s")
		case <-time.After(25 * time.Millisecond):
		}
	}
}

// moduleRoot walks up from the working directory to go.mod.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("go.mod not found above the working directory")
		}
		dir = parent
	}
}
