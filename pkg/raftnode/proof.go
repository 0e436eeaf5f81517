package raftnode

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
)

// Signer makes leadership provable among members that do not trust each
// other. etcd raft believes any message that claims a higher term: a member
// that sends appends in term T+1 would become everyone's leader without an
// election, and a vote request marked as a leadership transfer would depose
// a live leader. With a Signer (Config.Signer):
//
//   - every granted vote is signed by its voter, and a candidate counts only
//     votes whose signature checks;
//   - a leader shows the votes that elected it (its proof) in its first
//     messages to each member, and a member follows no leader of a term
//     before it has checked that leader's proof against the voters it
//     knows;
//   - a transfer vote request must carry the current leader's signed
//     handover, or it counts as an ordinary one, which members that hear
//     from their leader ignore;
//   - any other message that would move a member to a higher term is
//     dropped unless that term has a proven leader.
//
// Every member of a room must use a Signer, or none.
type Signer interface {
	// Sign signs statement with this member's key.
	Sign(statement []byte) []byte
	// Verify reports whether sig is member's signature of statement, by the
	// key member registered in the room.
	Verify(member uint64, statement, sig []byte) bool
}

// Limits of a proof on the wire: a room has at most a few voters, and a
// signature is small.
const (
	maxProofVotes = 64
	maxSigSize    = 256
	proofVersion  = 1
)

// campaignTransfer is the context etcd raft puts on a forced vote request
// (unexported there).
var campaignTransfer = []byte("CampaignTransfer")

// proofs is a member's evidence of who leads: votes gathered while
// campaigning, its own proof once it leads, and the leader it has checked.
type proofs struct {
	signer Signer

	// votes are the signed votes for this member in votesTerm.
	votesTerm uint64
	votes     map[uint64][]byte

	// own is this member's encoded proof of leading ownTerm; shownTo says,
	// per member, the latest term in which that member accepted it.
	ownTerm uint64
	own     []byte
	shownTo map[uint64]uint64

	// provenTerm's leader is provenLeader, whose proof was checked here.
	// handover is provenLeader's signed handover to this member, for a
	// transfer campaign after provenTerm (see also reassert).
	provenTerm, provenLeader uint64
	handover                 []byte
	// nextReassert is the tick before which this member does not reassert.
	nextReassert uint64

	// refusedLeader's claim to lead refusedTerm was refused, since this
	// member last followed a proven leader.
	refusedTerm, refusedLeader uint64
	// heardAt is the tick of the last message this member took from the
	// proven leader.
	heardAt uint64

	// requests ask leaders for a proof this member does not have: one
	// that restarted, for instance, after the leader saw it accept one.
	requests []*pb.Message
}

func newProofs(s Signer) *proofs {
	return &proofs{signer: s, votes: map[uint64][]byte{}, shownTo: map[uint64]uint64{}}
}

// proofRequest marks a heartbeat response that asks for the leader's proof.
var proofRequest = []byte("raftnode: proof?")

// errProofRequested: the message asked for this leader's proof, which it
// will show again; raft has nothing to do with it.
var errProofRequested = errors.New("raftnode: a member asked for this leader's proof")

// voteStatement is what a voter signs when it grants its vote.
func voteStatement(term, candidate uint64) []byte {
	return statement("vote", term, candidate)
}

// handoverStatement is what a leader signs when it hands leadership to a member.
func handoverStatement(term, to uint64) []byte {
	return statement("handover", term, to)
}

func statement(what string, term, member uint64) []byte {
	b := append([]byte("raftnode "), what...)
	b = binary.BigEndian.AppendUint64(b, term)
	return binary.BigEndian.AppendUint64(b, member)
}

// isLeaderMessage reports whether only a leader sends messages of type t.
func isLeaderMessage(t pb.MessageType) bool {
	switch t {
	case pb.MessageType_MsgApp, pb.MessageType_MsgHeartbeat, pb.MessageType_MsgSnap, pb.MessageType_MsgTimeoutNow:
		return true
	}
	return false
}

// isCampaignMessage reports whether t is part of an election, which may
// come from a higher term without a proven leader.
func isCampaignMessage(t pb.MessageType) bool {
	switch t {
	case pb.MessageType_MsgVote, pb.MessageType_MsgPreVote, pb.MessageType_MsgVoteResp, pb.MessageType_MsgPreVoteResp:
		return true
	}
	return false
}

// sealOutgoing signs this member's granted votes and handovers and wraps
// its leader messages with its proof, for members that have not accepted
// it yet.
func (c *Core) sealOutgoing(msgs []*pb.Message) {
	p := c.proofs
	if p == nil {
		return
	}
	for _, m := range msgs {
		switch t := m.GetType(); {
		case t == pb.MessageType_MsgVoteResp && !m.GetReject():
			m.Context = p.signer.Sign(voteStatement(m.GetTerm(), m.GetTo()))
		case t == pb.MessageType_MsgVote && bytes.Equal(m.GetContext(), campaignTransfer):
			m.Context = slices.Concat(campaignTransfer, p.handoverFor(m.GetTerm()))
		case isLeaderMessage(t):
			m.Context = c.wrapLeaderContext(m)
		}
	}
}

// handoverFor returns the handover this member may show in a transfer
// campaign for term, if it has one.
func (p *proofs) handoverFor(term uint64) []byte {
	if term <= p.provenTerm {
		return nil
	}
	return p.handover
}

// wrapLeaderContext returns m's context behind this member's proof of
// leading m's term: the proof itself until m's receiver has accepted it,
// an empty one afterwards. A handover carries its signature as context.
func (c *Core) wrapLeaderContext(m *pb.Message) []byte {
	p := c.proofs
	inner := m.GetContext()
	if m.GetType() == pb.MessageType_MsgTimeoutNow {
		inner = p.signer.Sign(handoverStatement(m.GetTerm(), m.GetTo()))
	}
	var proof []byte
	if c.ownProof(m.GetTerm()) && p.shownTo[m.GetTo()] < m.GetTerm() {
		proof = p.own
	}
	b := make([]byte, 0, 1+binary.MaxVarintLen64+len(proof)+len(inner))
	b = binary.AppendUvarint(append(b, proofVersion), uint64(len(proof)))
	return append(append(b, proof...), inner...)
}

// ownProof makes sure this member holds its proof of leading term, and
// reports whether it does.
func (c *Core) ownProof(term uint64) bool {
	p := c.proofs
	if p.ownTerm == term && p.own != nil {
		return true
	}
	st := c.rn.BasicStatus()
	if st.RaftState != raft.StateLeader || st.GetTerm() != term {
		return false
	}
	votes := map[uint64][]byte{c.cfg.ID: p.signer.Sign(voteStatement(term, c.cfg.ID))}
	if p.votesTerm == term {
		for voter, sig := range p.votes {
			votes[voter] = sig
		}
	}
	p.ownTerm, p.own, p.shownTo = term, encodeProof(votes), map[uint64]uint64{}
	p.provenTerm, p.provenLeader, p.handover = term, c.cfg.ID, nil
	return true
}

// checkProof admits m only if its claims about who leads hold, and
// rewrites m's context back to what raft sent. On an error m must not be
// stepped: it was refused, or handled here (errReasserted,
// errProofRequested).
func (c *Core) checkProof(m *pb.Message, st raft.BasicStatus) error {
	p := c.proofs
	if p == nil {
		return nil
	}
	term := st.GetTerm()
	switch t := m.GetType(); {
	case isLeaderMessage(t):
		return c.checkLeaderMessage(m, term)
	case t == pb.MessageType_MsgVote || t == pb.MessageType_MsgPreVote:
		return c.checkTransfer(m)
	case t == pb.MessageType_MsgVoteResp && !m.GetReject():
		return c.checkVote(m, st)
	case t == pb.MessageType_MsgVoteResp || t == pb.MessageType_MsgPreVoteResp:
		if m.GetTerm() > term && st.RaftState != raft.StateCandidate && st.RaftState != raft.StatePreCandidate {
			return fmt.Errorf("raftnode: %s from %d in term %d: not campaigning", t, m.GetFrom(), m.GetTerm())
		}
	case isCampaignMessage(t):
	case m.GetTerm() > term && m.GetTerm() > p.provenTerm:
		if st.RaftState == raft.StateLeader && (t == pb.MessageType_MsgAppResp || t == pb.MessageType_MsgHeartbeatResp) {
			return c.reassert(m, term)
		}
		return fmt.Errorf("raftnode: %s from %d claims term %d, which has no proven leader", t, m.GetFrom(), m.GetTerm())
	}
	if t := m.GetType(); t == pb.MessageType_MsgAppResp || t == pb.MessageType_MsgHeartbeatResp {
		if st.RaftState == raft.StateLeader && m.GetTerm() == term {
			return p.noteShown(m, term)
		}
	}
	return nil
}

// noteShown records that a member accepted this leader's proof, as its
// response says, or forgets it when the response asks for the proof.
func (p *proofs) noteShown(m *pb.Message, term uint64) error {
	if m.GetType() == pb.MessageType_MsgHeartbeatResp && bytes.Equal(m.GetContext(), proofRequest) {
		delete(p.shownTo, m.GetFrom())
		return errProofRequested
	}
	p.shownTo[m.GetFrom()] = term
	return nil
}

// requestProof queues a request for leader's proof of term, once per
// Process.
func (c *Core) requestProof(term, leader uint64) {
	for _, r := range c.proofs.requests {
		if r.GetTo() == leader {
			return
		}
	}
	c.proofs.requests = append(c.proofs.requests, &pb.Message{
		Type: pb.MessageType_MsgHeartbeatResp.Enum(), From: new(c.cfg.ID), To: new(leader), Term: new(term), Context: proofRequest,
	})
}

// takeRequests returns the queued proof requests and forgets them.
func (p *proofs) takeRequests() []*pb.Message {
	if p == nil {
		return nil
	}
	r := p.requests
	p.requests = nil
	return r
}

// checkLeaderMessage unwraps a leader message's proof and refuses the
// message unless its sender is the proven leader of its term. Messages of
// past terms are not checked: raft answers them with the current term.
func (c *Core) checkLeaderMessage(m *pb.Message, term uint64) error {
	proof, inner, err := unwrapLeaderContext(m.GetContext())
	if err != nil {
		err = fmt.Errorf("%w: %s from %d: %v", ErrRejectedMessage, m.GetType(), m.GetFrom(), err)
		if m.GetTerm() >= term {
			c.noteRefused(m.GetTerm(), m.GetFrom(), err)
		}
		return err
	}
	m.Context = inner
	if m.GetTerm() < term {
		return nil
	}
	if err := c.proveLeader(m.GetTerm(), m.GetFrom(), proof); err != nil {
		return fmt.Errorf("%s from %d in term %d: not following it: %w", m.GetType(), m.GetFrom(), m.GetTerm(), err)
	}
	c.proofs.heardAt = c.ticks
	if m.GetType() == pb.MessageType_MsgTimeoutNow {
		if !c.proofs.signer.Verify(m.GetFrom(), handoverStatement(m.GetTerm(), c.cfg.ID), inner) {
			return fmt.Errorf("%w: handover from %d in term %d: bad signature", ErrRejectedMessage, m.GetFrom(), m.GetTerm())
		}
		c.proofs.handover = inner
	}
	return nil
}

// proveLeader makes sure leader is the proven leader of term, checking
// proof if it is not yet. A member that knows no voters yet (it waits for
// its first snapshot) follows only its sponsor, the doorman that admitted
// it. Only a proof that cannot be right costs its sender a strike: too few
// votes may also mean that this member missed a change of voters.
func (c *Core) proveLeader(term, leader uint64, proof []byte) error {
	p := c.proofs
	if p.provenTerm == term && p.provenLeader == leader {
		return nil
	}
	var err error
	switch {
	case len(c.confState.GetVoters()) == 0:
		if c.cfg.Sponsor == 0 || leader != c.cfg.Sponsor {
			err = errors.New("not this member's sponsor, and no voters are known to check a proof")
		}
	case len(proof) == 0:
		c.requestProof(term, leader)
		err = errors.New("no proof that it was elected (asked for it)")
	default:
		err = c.verifyProof(term, leader, proof)
	}
	if err != nil {
		c.noteRefused(term, leader, err)
		return err
	}
	p.provenTerm, p.provenLeader, p.handover = term, leader, nil
	p.refusedTerm, p.refusedLeader = 0, 0
	return nil
}

// stuckRefusing returns the leader whose claim this member refused, if it
// hears from no proven leader either: a member that cannot check the
// leader's proof. A member that goes on hearing from its leader while
// refusing someone's claim (an impostor's) is not stuck, nor is a leader.
func (c *Core) stuckRefusing() uint64 {
	p := c.proofs
	if p == nil || p.refusedLeader == 0 || c.rn.BasicStatus().RaftState == raft.StateLeader ||
		c.ticks-p.heardAt <= uint64(c.cfg.ElectionTicks) {
		return 0
	}
	return p.refusedLeader
}

// noteRefused remembers a refused leader claim for Status and logs the
// first refusal of each claim.
func (c *Core) noteRefused(term, leader uint64, err error) {
	p := c.proofs
	if p.refusedTerm == term && p.refusedLeader == leader {
		return
	}
	p.refusedTerm, p.refusedLeader = term, leader
	c.log.Warn("raftnode: not following a leader whose election is not proven", "leader", leader, "term", term, "err", err)
}

// checkTransfer lets a vote request bypass the lease of a live leader (a
// transfer) only with that leader's signed handover to the candidate;
// without one it is an ordinary vote request, which a member that hears
// from its leader ignores. So no member can depose a live leader by marking
// its campaign as a transfer.
func (c *Core) checkTransfer(m *pb.Message) error {
	ctx := m.GetContext()
	if !bytes.HasPrefix(ctx, campaignTransfer) {
		return nil
	}
	p := c.proofs
	m.Context = nil
	sig := ctx[len(campaignTransfer):]
	if m.GetType() == pb.MessageType_MsgVote && m.GetTerm() > p.provenTerm &&
		p.signer.Verify(p.provenLeader, handoverStatement(p.provenTerm, m.GetFrom()), sig) {
		m.Context = campaignTransfer
		return nil
	}
	c.log.Info("raftnode: a transfer vote request without the leader's handover counts as an ordinary one", "from", m.GetFrom(), "term", m.GetTerm())
	return nil
}

// errReasserted: a response from a later term made this leader campaign
// past it at once.
var errReasserted = errors.New("raftnode: a voter is in a later term; campaigning past it")

// maxTermJump bounds how far one response may move a leader's term.
const maxTermJump = 1000

// reassert answers a voter that responds from a later term nobody was
// proven to lead (it campaigned and lost while this member led): raft
// would step down on such a response, but the members still following this
// leader would then ignore every campaign until their lease ran out, and a
// response is easy to forge. Instead this leader campaigns past that term
// at once, as a transfer to itself: its followers vote for it despite
// their lease, and the voter in the later term comes back. A voter can make
// a leader do this at most once per election timeout.
func (c *Core) reassert(m *pb.Message, term uint64) error {
	p := c.proofs
	if !slices.Contains(c.confState.GetVoters(), m.GetFrom()) || m.GetTerm()-term > maxTermJump || c.ticks < p.nextReassert {
		return fmt.Errorf("raftnode: %s from %d claims term %d, which has no proven leader", m.GetType(), m.GetFrom(), m.GetTerm())
	}
	p.nextReassert = c.ticks + uint64(c.cfg.ElectionTicks)
	p.handover = p.signer.Sign(handoverStatement(term, c.cfg.ID))
	self := c.cfg.ID
	if err := c.stepGuarded(&pb.Message{Type: pb.MessageType_MsgTimeoutNow.Enum(), From: &self, To: &self, Term: new(m.GetTerm())}); err != nil {
		return err
	}
	return errReasserted
}

// checkVote keeps a granted vote for this member's campaign if its
// signature holds; raft then counts it. A vote for another campaign is
// refused, so it cannot move this member's term either.
func (c *Core) checkVote(m *pb.Message, st raft.BasicStatus) error {
	p := c.proofs
	if st.RaftState != raft.StateCandidate || m.GetTerm() != st.GetTerm() {
		return fmt.Errorf("raftnode: vote from %d for term %d: not campaigning in it", m.GetFrom(), m.GetTerm())
	}
	if !p.signer.Verify(m.GetFrom(), voteStatement(m.GetTerm(), c.cfg.ID), m.GetContext()) {
		return fmt.Errorf("%w: vote from %d in term %d: bad signature", ErrRejectedMessage, m.GetFrom(), m.GetTerm())
	}
	if p.votesTerm != m.GetTerm() {
		p.votesTerm, p.votes = m.GetTerm(), map[uint64][]byte{}
	}
	p.votes[m.GetFrom()] = m.GetContext()
	m.Context = nil
	return nil
}

// errTooFewVotes: a proof without the votes of a quorum of the voters this
// member knows. An impostor's proof looks like this, and so does a true
// leader's to a member that missed a change of voters.
var errTooFewVotes = errors.New("too few votes of the voters this member knows")

// verifyProof checks that proof holds signed votes for leader in term from
// a quorum of the voters this member knows (of both halves of a joint
// configuration). A malformed proof or a bad signature is
// ErrRejectedMessage: no true leader sends one.
func (c *Core) verifyProof(term, leader uint64, proof []byte) error {
	votes, err := decodeProof(proof)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrRejectedMessage, err)
	}
	statement := voteStatement(term, leader)
	valid := map[uint64]bool{}
	for voter, sig := range votes {
		if !c.isMember(voter) {
			continue // a voter this member has not heard of: no key to check
		}
		if !c.proofs.signer.Verify(voter, statement, sig) {
			return fmt.Errorf("%w: bad signature on the vote of %d", ErrRejectedMessage, voter)
		}
		valid[voter] = true
	}
	for _, voters := range [][]uint64{c.confState.GetVoters(), c.confState.GetVotersOutgoing()} {
		if len(voters) == 0 {
			continue // no joint configuration
		}
		n := 0
		for _, v := range voters {
			if valid[v] {
				n++
			}
		}
		if n <= len(voters)/2 {
			return fmt.Errorf("%w: %d of %d", errTooFewVotes, n, len(voters))
		}
	}
	return nil
}

// encodeProof writes votes as a count, then each voter and its signature,
// in voter order.
func encodeProof(votes map[uint64][]byte) []byte {
	voters := make([]uint64, 0, len(votes))
	for v := range votes {
		voters = append(voters, v)
	}
	slices.Sort(voters)
	b := binary.AppendUvarint(nil, uint64(len(voters)))
	for _, v := range voters {
		b = binary.AppendUvarint(b, v)
		b = binary.AppendUvarint(b, uint64(len(votes[v])))
		b = append(b, votes[v]...)
	}
	return b
}

func decodeProof(b []byte) (map[uint64][]byte, error) {
	r := reader{b: b}
	n := r.uvarint()
	if n > maxProofVotes {
		return nil, fmt.Errorf("proof holds %d votes", n)
	}
	votes := make(map[uint64][]byte, n)
	for range n {
		voter, size := r.uvarint(), r.uvarint()
		if size > maxSigSize {
			return nil, fmt.Errorf("vote signature of %d bytes", size)
		}
		if _, dup := votes[voter]; dup {
			return nil, fmt.Errorf("voter %d appears twice", voter)
		}
		votes[voter] = r.bytes(size)
	}
	if r.err != nil || len(r.b) > 0 {
		return nil, errors.New("malformed proof")
	}
	return votes, nil
}

// unwrapLeaderContext splits a leader message's context into the proof and
// the context raft gave the message.
func unwrapLeaderContext(b []byte) (proof, inner []byte, err error) {
	if len(b) == 0 || b[0] != proofVersion {
		return nil, nil, errors.New("no proof envelope")
	}
	r := reader{b: b[1:]}
	proof = r.bytes(r.uvarint())
	if r.err != nil {
		return nil, nil, errors.New("malformed proof envelope")
	}
	return proof, r.b, nil
}

// reader reads uvarints and byte strings, remembering the first error.
type reader struct {
	b   []byte
	err error
}

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = errors.New("bad uvarint")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) bytes(n uint64) []byte {
	if r.err != nil {
		return nil
	}
	if n > uint64(len(r.b)) {
		r.err = errors.New("truncated")
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}
