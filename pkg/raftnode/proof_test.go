package raftnode

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"log/slog"
	"slices"
	"testing"

	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// testSigner signs with a digest of the member's id: members of a test
// cannot forge each other's signatures unless a test does so on purpose.
type testSigner struct{ id uint64 }

func (s testSigner) Sign(statement []byte) []byte { return testSignature(s.id, statement) }

func (testSigner) Verify(member uint64, statement, sig []byte) bool {
	return bytes.Equal(sig, testSignature(member, statement))
}

func testSignature(member uint64, statement []byte) []byte {
	sum := sha256.Sum256(binary.BigEndian.AppendUint64(slices.Clone(statement), member))
	return sum[:]
}

// signedCore is member 1 of a room of voters 1, 2 and 3 (or fresh, with
// empty storage and sponsor 3), with a Signer.
func signedCore(t *testing.T, fresh bool) *Core {
	t.Helper()
	storage := NewMemoryStorage()
	if !fresh {
		if err := Bootstrap(storage, newKV(), []Member{{ID: 1}, {ID: 2}, {ID: 3}}); err != nil {
			t.Fatal(err)
		}
	}
	cfg := Config{ID: 1, RandSeed: 1, Signer: testSigner{1}, Logger: slog.New(slog.DiscardHandler)}
	if fresh {
		cfg.Sponsor = 3
	}
	core, err := NewCore(cfg, storage, newKV())
	if err != nil {
		t.Fatal(err)
	}
	process(t, core)
	return core
}

// leaderContext is a leader message's context carrying proof.
func leaderContext(proof []byte) []byte {
	return append(binary.AppendUvarint([]byte{proofVersion}, uint64(len(proof))), proof...)
}

// proofOf returns a proof of leader's election in term, signed by voters.
func proofOf(term, leader uint64, voters ...uint64) []byte {
	votes := map[uint64][]byte{}
	for _, v := range voters {
		votes[v] = testSignature(v, voteStatement(term, leader))
	}
	return encodeProof(votes)
}

func step(t *testing.T, c *Core, m *pb.Message) error {
	t.Helper()
	err := c.Step(m)
	process(t, c)
	return err
}

func heartbeat(from, term uint64, ctx []byte) *pb.Message {
	return &pb.Message{Type: pb.MsgHeartbeat.Enum(), From: new(from), To: new(uint64(1)), Term: new(term), Context: ctx}
}

// A voter that claims to lead a higher term without the votes of a quorum
// is not followed, whatever it shows; with them, it is.
func TestProofImpostorIsNotFollowed(t *testing.T) {
	c := signedCore(t, false)
	term := c.Status().Term + 5
	forgedVote := encodeProof(map[uint64][]byte{2: testSignature(2, voteStatement(term, 2)), 3: []byte("not 3's signature")})
	// Only what no true leader sends costs a strike: too few votes may
	// also be a true leader's proof to a member that missed a change.
	for _, claim := range []struct {
		name   string
		ctx    []byte
		strike bool
	}{
		{"no envelope", nil, true},
		{"garbage", leaderContext([]byte{0xff, 0xff, 0xff}), true},
		{"a forged vote", leaderContext(forgedVote), true},
		{"its own vote alone", leaderContext(proofOf(term, 2, 2)), false},
		{"votes of unknown members", leaderContext(proofOf(term, 2, 2, 7, 8)), false},
		{"votes of another term", leaderContext(proofOf(term-1, 2, 2, 3)), true},
	} {
		err := step(t, c, heartbeat(2, term, claim.ctx))
		if err == nil || errors.Is(err, ErrRejectedMessage) != claim.strike {
			t.Errorf("%s: err %v, want a refusal (strike: %v)", claim.name, err, claim.strike)
		}
		if st := c.Status(); st.Term == term || st.Leader == 2 {
			t.Fatalf("%s: member 1 followed the impostor: %+v", claim.name, st)
		}
	}
	// Hearing from no leader for an election timeout since, member 1
	// reports that it is stuck refusing 2.
	for range DefaultElectionTicks + 1 {
		c.Tick()
		process(t, c)
	}
	if st := c.Status(); st.RefusedLeader != 2 {
		t.Fatalf("member 1 does not report refusing 2: %+v", st)
	}
	var asked []*pb.Message
	if err := c.Step(heartbeat(2, term, leaderContext(nil))); err == nil {
		t.Fatal("a heartbeat without a proof was stepped")
	}
	if err := c.Process(func(msgs []*pb.Message) { asked = append(asked, msgs...) }); err != nil {
		t.Fatal(err)
	}
	if len(asked) != 1 || asked[0].GetTo() != 2 || !bytes.Equal(asked[0].GetContext(), proofRequest) {
		t.Fatalf("member 1 answered a heartbeat without proof with %v, want a proof request", asked)
	}
	if st := c.Status(); st.Term == term {
		t.Fatalf("member 1 moved to the impostor's term: %+v", st)
	}
	if err := step(t, c, heartbeat(2, term, leaderContext(proofOf(term, 2, 2, 3)))); err != nil {
		t.Fatalf("heartbeat with a quorum's votes: %v", err)
	}
	if st := c.Status(); st.Term != term || st.Leader != 2 {
		t.Fatalf("member 1 does not follow 2 elected in term %d: %+v", term, st)
	}
	if err := step(t, c, heartbeat(2, term, leaderContext(nil))); err != nil {
		t.Errorf("the proven leader's next heartbeat, without its proof: %v", err)
	}
	if st := c.Status(); st.RefusedLeader != 0 {
		t.Errorf("member 1 follows 2 but still reports refusing it: %+v", st)
	}
	if err := step(t, c, heartbeat(3, term, leaderContext(proofOf(term, 3, 3)))); err == nil {
		t.Error("a second leader of the same term was followed")
	}
}

// A candidate counts only votes whose signature holds.
func TestProofForgedVoteIsNotCounted(t *testing.T) {
	c := signedCore(t, false)
	var sent []*pb.Message
	for c.Status().Role != RoleCandidate {
		c.Tick()
		if err := c.Process(func(msgs []*pb.Message) { sent = append(sent, msgs...) }); err != nil {
			t.Fatal(err)
		}
		if c.Status().Role == RolePreCandidate {
			term := c.Status().Term + 1
			for _, from := range []uint64{2, 3} {
				_ = step(t, c, &pb.Message{Type: pb.MsgPreVoteResp.Enum(), From: new(from), To: new(uint64(1)), Term: new(term)})
			}
		}
	}
	term := c.Status().Term
	vote := func(ctx []byte) *pb.Message {
		return &pb.Message{Type: pb.MsgVoteResp.Enum(), From: new(uint64(2)), To: new(uint64(1)), Term: new(term), Context: ctx}
	}
	if err := step(t, c, vote(testSignature(3, voteStatement(term, 1)))); !errors.Is(err, ErrRejectedMessage) {
		t.Fatalf("a vote signed by another member: err %v, want ErrRejectedMessage", err)
	}
	if role := c.Status().Role; role != RoleCandidate {
		t.Fatalf("a forged vote was counted: member 1 is %s", role)
	}
	if err := step(t, c, vote(testSignature(2, voteStatement(term, 1)))); err != nil {
		t.Fatal(err)
	}
	if role := c.Status().Role; role != RoleLeader {
		t.Fatalf("member 1 with 2's signed vote is %s, want leader", role)
	}
	// Its first messages show the votes that elected it.
	var apps []*pb.Message
	if err := c.Process(func(msgs []*pb.Message) { apps = append(apps, msgs...) }); err != nil {
		t.Fatal(err)
	}
	c.Tick()
	if err := c.Process(func(msgs []*pb.Message) { apps = append(apps, msgs...) }); err != nil {
		t.Fatal(err)
	}
	if len(apps) == 0 {
		t.Fatal("the new leader sent nothing")
	}
	for _, m := range apps {
		proof, _, err := unwrapLeaderContext(m.GetContext())
		if err != nil || len(proof) == 0 {
			t.Fatalf("%s to %d carries no proof: %v", m.GetType(), m.GetTo(), err)
		}
		votes, err := decodeProof(proof)
		if err != nil || len(votes) != 2 || !bytes.Equal(votes[2], testSignature(2, voteStatement(term, 1))) {
			t.Fatalf("proof sent to %d: %v %v, want the votes of 1 and 2", m.GetTo(), votes, err)
		}
	}
}

// A member that goes on hearing from its leader is not stuck because it
// refuses an impostor's claim.
func TestProofRefusingAnImpostorIsNotStuck(t *testing.T) {
	c := signedCore(t, false)
	term := c.Status().Term + 1
	if err := step(t, c, heartbeat(3, term, leaderContext(proofOf(term, 3, 2, 3)))); err != nil {
		t.Fatal(err)
	}
	for range 3 * DefaultElectionTicks {
		_ = step(t, c, heartbeat(2, term+5, leaderContext(proofOf(term+5, 2, 2))))
		if err := step(t, c, heartbeat(3, term, leaderContext(nil))); err != nil {
			t.Fatal(err)
		}
		c.Tick()
		process(t, c)
	}
	if st := c.Status(); st.RefusedLeader != 0 || st.Leader != 3 {
		t.Fatalf("following 3 while refusing 2: %+v, want no refused leader reported", st)
	}
}

// Responses and other messages cannot move a member to a term nobody was
// proven to lead.
func TestProofHigherTermNeedsAProvenLeader(t *testing.T) {
	c := signedCore(t, false)
	term := c.Status().Term
	if err := step(t, c, heartbeat(3, term+1, leaderContext(proofOf(term+1, 3, 2, 3)))); err != nil {
		t.Fatal(err)
	}
	for _, typ := range []pb.MessageType{pb.MsgAppResp, pb.MsgHeartbeatResp, pb.MsgVoteResp, pb.MsgPreVoteResp} {
		err := step(t, c, &pb.Message{Type: typ.Enum(), From: new(uint64(2)), To: new(uint64(1)), Term: new(term + 9), Reject: new(true)})
		if err == nil {
			t.Errorf("%s in term %d was stepped", typ, term+9)
		}
		if st := c.Status(); st.Term != term+1 || st.Leader != 3 {
			t.Fatalf("after %s in term %d: %+v, want term %d under 3", typ, term+9, st, term+1)
		}
	}
}

// A vote request marked as a leadership transfer needs the leader's signed
// handover; without it, it is an ordinary vote request and the leader's
// lease holds.
func TestProofTransferNeedsTheLeadersHandover(t *testing.T) {
	c := signedCore(t, false)
	term := c.Status().Term + 1
	if err := step(t, c, heartbeat(3, term, leaderContext(proofOf(term, 3, 2, 3)))); err != nil {
		t.Fatal(err)
	}
	last := c.Status().Commit + 10
	transfer := func(sig []byte) *pb.Message {
		return &pb.Message{Type: pb.MsgVote.Enum(), From: new(uint64(2)), To: new(uint64(1)), Term: new(term + 1),
			Index: new(last), LogTerm: new(term), Context: slices.Concat(campaignTransfer, sig)}
	}
	for name, sig := range map[string][]byte{
		"no handover":         nil,
		"its own handover":    testSignature(2, handoverStatement(term, 2)),
		"a handover to other": testSignature(3, handoverStatement(term, 1)),
		"an old handover":     testSignature(3, handoverStatement(term-1, 2)),
	} {
		if err := step(t, c, transfer(sig)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		if st := c.Status(); st.Term != term || st.Leader != 3 {
			t.Fatalf("%s: the transfer vote deposed the leader: %+v", name, st)
		}
	}
	if err := step(t, c, transfer(testSignature(3, handoverStatement(term, 2)))); err != nil {
		t.Fatal(err)
	}
	if st := c.Status(); st.Term != term+1 {
		t.Fatalf("a transfer with 3's handover did not start term %d: %+v", term+1, st)
	}
}

// electedCore is member 1 of voters 1, 2 and 3, elected with 2's vote.
func electedCore(t *testing.T) *Core {
	t.Helper()
	c := signedCore(t, false)
	for c.Status().Role != RoleCandidate {
		c.Tick()
		process(t, c)
		if c.Status().Role == RolePreCandidate {
			term := c.Status().Term + 1
			_ = step(t, c, &pb.Message{Type: pb.MsgPreVoteResp.Enum(), From: new(uint64(2)), To: new(uint64(1)), Term: new(term)})
		}
	}
	term := c.Status().Term
	vote := &pb.Message{Type: pb.MsgVoteResp.Enum(), From: new(uint64(2)), To: new(uint64(1)), Term: new(term), Context: testSignature(2, voteStatement(term, 1))}
	if err := step(t, c, vote); err != nil || c.Status().Role != RoleLeader {
		t.Fatalf("member 1 with 2's vote: %v, %+v", err, c.Status())
	}
	return c
}

// A voter that campaigned and lost while the leader led answers it from a
// later term. The leader does not just step down (its followers would
// ignore every campaign until their lease ran out): it campaigns past that
// term at once, showing its own handover so that its followers vote.
func TestProofLeaderCampaignsPastAVoterInALaterTerm(t *testing.T) {
	c := electedCore(t)
	term := c.Status().Term
	stale := &pb.Message{Type: pb.MsgAppResp.Enum(), From: new(uint64(3)), To: new(uint64(1)), Term: new(term + 2)}
	var sent []*pb.Message
	if err := c.Step(stale); !errors.Is(err, errReasserted) {
		t.Fatalf("a response from term %d: err %v, want errReasserted", term+2, err)
	}
	if err := c.Process(func(msgs []*pb.Message) { sent = append(sent, msgs...) }); err != nil {
		t.Fatal(err)
	}
	if st := c.Status(); st.Role != RoleCandidate || st.Term != term+3 {
		t.Fatalf("after the response: %+v, want a candidate in term %d", st, term+3)
	}
	for _, m := range sent {
		if m.GetType() != pb.MsgVote {
			continue
		}
		want := slices.Concat(campaignTransfer, testSignature(1, handoverStatement(term, 1)))
		if !bytes.Equal(m.GetContext(), want) {
			t.Fatalf("vote request to %d carries %q, want the transfer mark and 1's handover", m.GetTo(), m.GetContext())
		}
		return
	}
	t.Fatalf("no vote request among %v", sent)
}

// A response from beyond any plausible term does not move the leader: its
// term must never come near overflowing.
func TestProofLeaderIgnoresFarTerms(t *testing.T) {
	c := electedCore(t)
	term := c.Status().Term
	far := &pb.Message{Type: pb.MsgHeartbeatResp.Enum(), From: new(uint64(3)), To: new(uint64(1)), Term: new(term + maxTermJump + 1)}
	if err := step(t, c, far); err == nil || errors.Is(err, errReasserted) {
		t.Fatalf("a response from term %d: err %v, want it dropped", term+maxTermJump+1, err)
	}
	if st := c.Status(); st.Role != RoleLeader || st.Term != term {
		t.Fatalf("after a response from far ahead: %+v", st)
	}
}

// A member waiting for its first snapshot knows no voters: it follows its
// sponsor and nobody else.
func TestProofNewcomerFollowsItsSponsor(t *testing.T) {
	c := signedCore(t, true)
	err := step(t, c, heartbeat(2, 4, leaderContext(proofOf(4, 2, 2, 3))))
	if err == nil || errors.Is(err, ErrRejectedMessage) {
		t.Fatalf("a leader other than the sponsor: err %v, want a refusal that blames nobody", err)
	}
	if err := step(t, c, heartbeat(3, 4, leaderContext(proofOf(4, 3, 2, 3)))); err != nil {
		t.Fatalf("the sponsor's heartbeat: %v", err)
	}
	if st := c.Status(); st.Leader != 3 || st.Term != 4 {
		t.Fatalf("the newcomer does not follow its sponsor: %+v", st)
	}
}

func FuzzDecodeProof(f *testing.F) {
	f.Add(proofOf(3, 1, 1, 2, 3))
	f.Add(leaderContext(proofOf(3, 1, 1)))
	f.Add([]byte{0x80})
	f.Fuzz(func(t *testing.T, b []byte) {
		votes, err := decodeProof(b)
		if err == nil && len(votes) > maxProofVotes {
			t.Fatalf("decoded %d votes, more than the limit", len(votes))
		}
		for v, sig := range votes {
			if len(sig) > maxSigSize {
				t.Fatalf("voter %d's signature has %d bytes", v, len(sig))
			}
		}
		_, _, _ = unwrapLeaderContext(b)
	})
}

// FuzzStepSignedFromPeer feeds arbitrary messages from member 2 to a
// member with a Signer: proofs, votes and handovers are parsed from what a
// peer sends, and whatever it sends, no panic may escape and no leader may
// be followed without a quorum's signed votes.
func FuzzStepSignedFromPeer(f *testing.F) {
	seed := func(m *pb.Message) {
		b, _ := proto.Marshal(m)
		f.Add(b, false)
		f.Add(b, true)
	}
	seed(heartbeat(2, 4, leaderContext(proofOf(4, 2, 2, 3))))
	seed(heartbeat(2, 4, leaderContext(proofOf(4, 2, 2))))
	seed(&pb.Message{Type: pb.MsgApp.Enum(), Term: new(uint64(5)), Index: new(uint64(1)), LogTerm: new(uint64(1)),
		Context: leaderContext(proofOf(5, 2, 2, 3)), Entries: []*pb.Entry{{Term: new(uint64(5)), Index: new(uint64(2)), Data: []byte("x")}}})
	seed(&pb.Message{Type: pb.MsgTimeoutNow.Enum(), Term: new(uint64(3)), Context: leaderContext(proofOf(3, 2, 2, 3))})
	seed(&pb.Message{Type: pb.MsgVote.Enum(), Term: new(uint64(9)), Index: new(uint64(9)), LogTerm: new(uint64(9)), Context: campaignTransfer})
	seed(&pb.Message{Type: pb.MsgVoteResp.Enum(), Term: new(uint64(2)), Context: testSignature(2, voteStatement(2, 1))})
	seed(&pb.Message{Type: pb.MsgHeartbeatResp.Enum(), Term: new(uint64(2)), Context: proofRequest})
	f.Fuzz(func(t *testing.T, wire []byte, fresh bool) {
		var m pb.Message
		if proto.Unmarshal(wire, &m) != nil {
			return
		}
		c := signedCore(t, fresh)
		m.From, m.To = new(uint64(2)), new(uint64(1))
		shown := slices.Clone(m.GetContext())
		_ = step(t, c, &m)
		if st := c.Status(); st.Leader == 2 && (fresh || quorumVotes(shown, st.Term) < 2) {
			t.Fatalf("member 1 follows 2 in term %d without the votes of 2 of its 3 voters: %+v", st.Term, st)
		}
	})
}

// quorumVotes counts the good votes for member 2 in term among voters 1–3
// in a leader message's context.
func quorumVotes(ctx []byte, term uint64) int {
	proof, _, err := unwrapLeaderContext(ctx)
	if err != nil {
		return 0
	}
	votes, err := decodeProof(proof)
	if err != nil {
		return 0
	}
	n := 0
	for voter, sig := range votes {
		if voter >= 1 && voter <= 3 && bytes.Equal(sig, testSignature(voter, voteStatement(term, 2))) {
			n++
		}
	}
	return n
}
