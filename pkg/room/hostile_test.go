package room

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rooms-dev/rooms/internal/testenv"
	"github.com/rooms-dev/rooms/pkg/mesh"
	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// Hostile-peer tests: a member of the room (native Go, real WebRTC) sends
// what an attacker would, over its real connection. The room must stay live
// and consistent, say why it dropped each frame, and cut the attacker off.

// createLogged creates a room whose doorman logs into the returned buffer.
func createLogged(t *testing.T, url, roomID, initial string) (*member, *testenv.LogBuffer) {
	t.Helper()
	logs := &testenv.LogBuffer{}
	a := createWith(t, url, "a", roomID, initial, func(o *Options) {
		o.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	})
	return a, logs
}

// sendRaw sends one frame from attacker to victim over their connection,
// once it is open (a newcomer's Join returns before every link is up).
func sendRaw(t *testing.T, attacker, victim *member, ft mesh.FrameType, payload []byte) {
	t.Helper()
	conn := linkTo(t, attacker, victim)
	if err := conn.Send(ft, payload); err != nil {
		t.Fatalf("%s → %s: %v", attacker.Self(), victim.Self(), err)
	}
}

// linkTo waits for from's open connection to to. Links are made in the
// background and no event announces them, so this polls.
func linkTo(t *testing.T, from, to *member) *mesh.Conn {
	t.Helper()
	ctx := ctxT(t)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		if c := from.Connections()[to.Self()]; c != nil {
			return c
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			t.Fatalf("%s has no open connection to %s", from.Self(), to.Self())
		}
	}
}

func raftWire(t *testing.T, m *pb.Message) []byte {
	t.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestHostileFramesCutTheAttackerOff(t *testing.T) {
	url := startSignal(t)
	attacks := []struct {
		name, reason string
		frame        func(attacker, victim uint64) (mesh.FrameType, []byte)
	}{
		{"garbage raft", "undecodable raft frame", func(_, _ uint64) (mesh.FrameType, []byte) {
			return frameRaft, []byte("\xff\xff\xff not protobuf")
		}},
		{"truncated raft", "undecodable raft frame", func(from, to uint64) (mesh.FrameType, []byte) {
			data := []byte(strings.Repeat("x", 64))
			w := raftWire(t, &pb.Message{Type: pb.MsgApp.Enum(), From: &from, To: &to, Entries: []*pb.Entry{{Data: data}}})
			return frameRaft, w[:len(w)-10]
		}},
		{"another member's id", "forged raft frame", func(_, to uint64) (mesh.FrameType, []byte) {
			other, term := uint64(3), uint64(1)
			return frameRaft, raftWire(t, &pb.Message{Type: pb.MsgHeartbeat.Enum(), From: &other, To: &to, Term: &term})
		}},
		{"addressed elsewhere", "raft frame for another member", func(from, _ uint64) (mesh.FrameType, []byte) {
			to, term := uint64(42), uint64(1)
			return frameRaft, raftWire(t, &pb.Message{Type: pb.MsgHeartbeat.Enum(), From: &from, To: &to, Term: &term})
		}},
		{"bad relay", "bad relay frame", func(_, _ uint64) (mesh.FrameType, []byte) {
			return frameRelay, []byte(`{"from":`)
		}},
		{"bad ephemeral", "bad ephemeral frame", func(_, _ uint64) (mesh.FrameType, []byte) {
			return frameEphemeral, []byte(`[1,2`)
		}},
		{"bad chain", "bad chain frame", func(_, _ uint64) (mesh.FrameType, []byte) {
			return frameChain, []byte("short")
		}},
		{"unknown type", "unknown frame type", func(_, _ uint64) (mesh.FrameType, []byte) {
			return mesh.FrameType(0x7e), []byte("hello")
		}},
	}
	for i, attack := range attacks {
		t.Run(attack.name, func(t *testing.T) {
			roomID := fmt.Sprintf("hostile-%d", i)
			a, logs := createLogged(t, url, roomID, `{"n":0}`)
			b := joinMember(t, url, "b", roomID) // the attacker
			c := joinMember(t, url, "c", roomID)
			ft, payload := attack.frame(b.self.Load(), a.self.Load())
			for range maxStrikes {
				sendRaw(t, b, a, ft, payload)
			}
			a.rec.waitFor(t, "the doorman's error about the attacker", func(e Event) bool {
				return e.Type == EventError && errors.Is(e.Err, ErrBadMessage)
			})
			c.rec.waitFor(t, "the attacker's removal", func(e Event) bool { return e.Type == EventPeerLeave && e.Peer == "b" })
			if !strings.Contains(logs.String(), attack.reason) {
				t.Errorf("the doorman's log does not say %q:\n%s", attack.reason, logs.String())
			}
			if _, err := c.Update(ctxT(t), patch(t, `[{"op":"replace","path":"/n","value":1}]`)); err != nil {
				t.Fatal(err)
			}
			converge(t, `{"n":1}`, a, c)
		})
	}
}

// A member that asks for votes in a higher term while the doorman is alive
// is ignored (PreVote and CheckQuorum): no election, no new term.
func TestHostileVoteRequestsAreIgnored(t *testing.T) {
	url := startSignal(t)
	a := createMember(t, url, "a", "votes", `{"n":0}`)
	b := joinMember(t, url, "b", "votes")
	c := joinMember(t, url, "c", "votes")
	before := a.Raft()
	from := b.self.Load()
	for _, victim := range []*member{a, c} {
		to, term, last := victim.self.Load(), before.Term+10, before.Commit+100
		for _, typ := range []pb.MessageType{pb.MessageType_MsgPreVote, pb.MessageType_MsgVote} {
			sendRaw(t, b, victim, frameRaft, raftWire(t, &pb.Message{
				Type: typ.Enum(), From: &from, To: &to, Term: &term, Index: &last, LogTerm: &term,
			}))
		}
	}
	goesOnUnderA(t, "the vote requests", before, a, b, c)
}

// goesOnUnderA checks that after an attack (what) by b the next change
// commits in the term the room had before it, under the same doorman a.
func goesOnUnderA(t *testing.T, what string, before RaftStatus, a, b, c *member) {
	t.Helper()
	if _, err := c.Update(ctxT(t), patch(t, `[{"op":"replace","path":"/n","value":1}]`)); err != nil {
		t.Fatal(err)
	}
	converge(t, `{"n":1}`, a, b, c)
	for _, m := range []*member{a, c} {
		if st := m.Raft(); st.Term != before.Term || st.Leader != "a" {
			t.Errorf("%s after %s: %+v, want term %d under a", m.Self(), what, st, before.Term)
		}
	}
}

// A flood of ephemeral messages does not stop the room: changes still
// commit while the victim takes the flood.
func TestHostileEphemeralFlood(t *testing.T) {
	url := startSignal(t)
	a := createMember(t, url, "a", "flood", `{"n":0}`)
	b := joinMember(t, url, "b", "flood")
	c := joinMember(t, url, "c", "flood")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	flooded := make(chan int)
	go func() {
		sent := 0
		for ctx.Err() == nil && sent < 20000 {
			if b.Send("a", json.RawMessage(`{"spam":"`+strings.Repeat("x", 512)+`"}`)) == nil {
				sent++
			}
		}
		flooded <- sent
	}()
	for i := 1; i <= 20; i++ {
		if _, err := c.Update(ctxT(t), patch(t, fmt.Sprintf(`[{"op":"replace","path":"/n","value":%d}]`, i))); err != nil {
			t.Fatalf("update %d during the flood: %v", i, err)
		}
	}
	cancel()
	t.Logf("b sent %d ephemeral messages meanwhile", <-flooded)
	converge(t, `{"n":20}`, a, b, c)
}

// A member that sends heartbeats in the current term claiming a commit
// index far beyond the log: raft would panic (and a page's Go runtime end);
// the member refuses them and cuts the sender off.
func TestHostileHeartbeatBeyondTheLog(t *testing.T) {
	url := startSignal(t)
	a := createMember(t, url, "a", "beyond", `{"n":0}`)
	b := joinMember(t, url, "b", "beyond")
	c := joinMember(t, url, "c", "beyond")
	st := c.node.Load().Status()
	from, to, term, commit := b.self.Load(), c.self.Load(), st.Term, st.Commit+1000
	beyond := raftWire(t, &pb.Message{Type: pb.MsgHeartbeat.Enum(), From: &from, To: &to, Term: &term, Commit: &commit})
	for range maxStrikes { // etcd raft would panic at the first
		sendRaw(t, b, c, frameRaft, beyond)
	}
	c.rec.waitFor(t, "c cutting the attacker off", func(e Event) bool {
		return e.Type == EventError && errors.Is(e.Err, ErrBadMessage) && strings.Contains(e.Err.Error(), "rejected raft message")
	})
	if _, err := a.Update(ctxT(t), patch(t, `[{"op":"replace","path":"/n","value":1}]`)); err != nil {
		t.Fatal(err)
	}
	converge(t, `{"n":1}`, a, b, c)
}

// A follower that acknowledges entries the leader never sent it.
func TestHostileAckBeyondTheLog(t *testing.T) {
	url := startSignal(t)
	a := createMember(t, url, "a", "ack", `{"n":0}`)
	b := joinMember(t, url, "b", "ack")
	c := joinMember(t, url, "c", "ack")
	st := a.node.Load().Status()
	from, to, term, index := b.self.Load(), a.self.Load(), st.Term, st.Commit+1000
	sendRaw(t, b, a, frameRaft, raftWire(t, &pb.Message{Type: pb.MsgAppResp.Enum(), From: &from, To: &to, Term: &term, Index: &index}))
	for i := 1; i <= 3; i++ {
		if _, err := c.Update(ctxT(t), patch(t, fmt.Sprintf(`[{"op":"replace","path":"/n","value":%d}]`, i))); err != nil {
			t.Fatal(err)
		}
	}
	converge(t, `{"n":3}`, a, c)
}

// proofEnvelope is the context of a leader message carrying a proof of
// election made of votes (voter → signature), as pkg/raftnode encodes it.
func proofEnvelope(votes map[uint64][]byte) []byte {
	proof := binary.AppendUvarint(nil, uint64(len(votes)))
	for _, voter := range slices.Sorted(maps.Keys(votes)) {
		proof = binary.AppendUvarint(proof, voter)
		proof = binary.AppendUvarint(proof, uint64(len(votes[voter])))
		proof = append(proof, votes[voter]...)
	}
	return append(binary.AppendUvarint([]byte{1}, uint64(len(proof))), proof...)
}

// A voter that claims to lead a higher term, with appends of its own
// entries and heartbeats, is not followed: raft alone would make it
// everyone's leader without an election. Proofs it cannot have (votes it
// signed for the others) cost it strikes until it is cut off.
func TestHostileImpostorLeaderIsNotFollowed(t *testing.T) {
	url := startSignal(t)
	a := createMember(t, url, "a", "impostor", `{"n":0}`)
	b := joinMember(t, url, "b", "impostor") // the impostor
	logs := &testenv.LogBuffer{}
	c := joinWith(t, url, "c", "impostor", func(o *Options) {
		o.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	})
	converge(t, `{"n":0}`, a, b, c)
	awaitVoters(t, a.Room, 3)
	before := a.Raft()
	from, term := b.self.Load(), before.Term+5
	last, commit := before.Commit, before.Commit+1
	entry := []*pb.Entry{{Term: &term, Index: new(last + 1), Data: []byte("the impostor's own change")}}
	forged := map[uint64][]byte{from: make([]byte, 64), a.self.Load(): make([]byte, 64), c.self.Load(): make([]byte, 64)}
	claims := []func(to uint64) *pb.Message{
		func(to uint64) *pb.Message { // no proof at all
			return &pb.Message{Type: pb.MsgApp.Enum(), From: &from, To: &to, Term: &term, Index: &last, LogTerm: &before.Term, Commit: &commit, Entries: entry}
		},
		func(to uint64) *pb.Message { // votes of everyone, signed by nobody
			return &pb.Message{Type: pb.MsgHeartbeat.Enum(), From: &from, To: &to, Term: &term, Context: proofEnvelope(forged)}
		},
	}
	for _, victim := range []*member{a, c} {
		to := victim.self.Load()
		for _, claim := range claims {
			sendRaw(t, b, victim, frameRaft, raftWire(t, claim(to)))
		}
	}
	goesOnUnderA(t, "the impostor's claims", before, a, b, c)
	if !strings.Contains(logs.String(), "not following a leader whose election is not proven") {
		t.Errorf("c's log does not name the impostor's claim:\n%s", logs.String())
	}
	// Forged proofs are struck: enough of them and the impostor is out.
	for range maxStrikes {
		sendRaw(t, b, c, frameRaft, raftWire(t, claims[1](c.self.Load())))
	}
	c.rec.waitFor(t, "c cutting the impostor off", func(e Event) bool {
		return e.Type == EventError && errors.Is(e.Err, ErrBadMessage) && strings.Contains(e.Err.Error(), "rejected raft message")
	})
	if !strings.Contains(logs.String(), "bad signature on the vote of") {
		t.Errorf("c's log does not say the votes were forged:\n%s", logs.String())
	}
}
