package room

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/rooms-dev/rooms/pkg/mesh"
	"github.com/rooms-dev/rooms/pkg/raftnode"
	"github.com/rooms-dev/rooms/pkg/signal"
)

// knock is the newcomer's side of admission: register a throwaway id on the
// signalling server, send the doorman an offer with the knock, and wait for
// its answer. On admission the raft node starts with the id the doorman gave.
func (r *Room) knock(ctx context.Context) error {
	sig, err := r.dialSignal(ctx, "", "")
	if err != nil {
		return fmt.Errorf("signalling: %w", err)
	}
	defer sig.Close() // the signalling server is for first contact only
	knock := Knock{Version: protocolVersion, Participant: r.participant, Metadata: r.opts.Metadata}
	session := randomHex(8)
	var admitted atomic.Bool
	var doorman uint64
	var offer atomic.Value // the SDP of the first offer, for the admission proof
	p, err := r.newPeer(0, session, func(s mesh.Signal) error {
		if admitted.Load() {
			return r.relaySignal(doorman, session)(s)
		}
		offer.CompareAndSwap(nil, s.SDP)
		payload, err := r.encodeSignalling(signal.TypeOffer, knockPayload{Knock: r.signKnock(knock, s.SDP), Session: session, Signal: s})
		if err != nil {
			return err
		}
		return sig.Send(ctx, signal.Message{Type: signal.TypeOffer, Dst: r.signalID, Payload: payload})
	})
	if err != nil {
		return err
	}
	var challenge *admissionChannel
	if r.key != nil {
		if challenge, err = newAdmissionChannel(p.conn); err != nil {
			p.close()
			return err
		}
	}
	if err := p.conn.Dial(ctx); err != nil {
		p.close()
		return fmt.Errorf("knock: %w", err)
	}
	ans, err := r.awaitAnswer(ctx, sig, session)
	if err != nil {
		p.close()
		return err
	}
	doorman = ans.Admitted.DoormanID
	p.id.Store(doorman)
	admitted.Store(true)
	if !r.setPeer(doorman, p) {
		return ErrClosed
	}
	if err := r.startNode(ans.Admitted.RaftID, raftnode.NewMemoryStorage(), doorman); err != nil {
		return err
	}
	if err := p.conn.HandleSignal(ans.Signal); err != nil {
		return fmt.Errorf("doorman's answer: %w", err)
	}
	if err := p.conn.WaitReady(ctx); err != nil {
		return err
	}
	if challenge != nil {
		sdp, _ := offer.Load().(string)
		if err := r.prove(ctx, challenge, ans.Admitted.RaftID, sdp, ans.Signal.SDP); err != nil {
			return err
		}
	}
	return r.checkAnswer(ans, timeLeft(ctx, r.opts.JoinTimeout))
}

// timeLeft is the time until ctx's deadline, or otherwise.
func timeLeft(ctx context.Context, otherwise time.Duration) time.Duration {
	if deadline, ok := ctx.Deadline(); ok {
		return time.Until(deadline)
	}
	return otherwise
}

// awaitAnswer waits for the doorman's answer to the knock of session. An
// answer to another knock is ignored; a refusal without a session comes
// from a doorman that could not read the knock (a wrong password).
func (r *Room) awaitAnswer(ctx context.Context, sig *signal.Client, session string) (answerPayload, error) {
	for {
		select {
		case msg, ok := <-sig.Messages():
			if !ok {
				return answerPayload{}, fmt.Errorf("signalling closed: %w", sig.Err())
			}
			if msg.Src != r.signalID {
				continue
			}
			switch msg.Type {
			case signal.TypeExpire:
				return answerPayload{}, ErrRoomNotFound
			case signal.TypeAnswer:
				ans, err := r.openAnswer(msg.Type, msg.Payload)
				if err != nil {
					return ans, err
				}
				if !answersKnock(ans, session) {
					r.log.Warn("room: ignored an answer to another knock (replayed?)", "session", ans.Session)
					continue
				}
				if ans.Refused != "" {
					return ans, &RefusedError{Reason: ans.Refused, retry: ans.Retry, cause: passwordRefusal(ans.Refused)}
				}
				if ans.Admitted == nil || ans.Admitted.RaftID == 0 || ans.Admitted.DoormanID == 0 {
					return ans, fmt.Errorf("%w: doorman's answer admits nobody", ErrBadMessage)
				}
				return ans, nil
			}
		case <-ctx.Done():
			return answerPayload{}, fmt.Errorf("waiting for the doorman: %w", ctx.Err())
		}
	}
}

// answersKnock reports whether ans answers the knock of session. A refusal
// without a session comes from a doorman that could not read the knock (a
// wrong password); an admission always names the knock's session.
func answersKnock(ans answerPayload, session string) bool {
	return ans.Session == session || (ans.Admitted == nil && ans.Session == "")
}

// goServeKnocks handles the knocks that reach this doorman's claim.
func (r *Room) goServeKnocks(claim *signal.Client) {
	r.wg.Go(func() {
		for {
			select {
			case msg, ok := <-claim.Messages():
				if !ok {
					return
				}
				if msg.Type == signal.TypeOffer {
					r.wg.Go(func() { r.admit(claim, msg) })
				}
			case <-r.stop:
				return
			}
		}
	})
}

// admit runs admission for one knock and answers it, admitted or refused.
func (r *Room) admit(claim *signal.Client, msg signal.Message) {
	ctx, cancel := context.WithTimeout(context.Background(), r.opts.JoinTimeout)
	defer cancel()
	kp, sealed, reason := r.openKnock(msg.Type, msg.Payload)
	reply := func(ans answerPayload) error {
		payload, err := json.Marshal(ans)
		if sealed { // only a newcomer with the key may read the answer
			payload, err = r.key.seal(signal.TypeAnswer, r.signalID, ans)
		}
		if err != nil {
			return err
		}
		return claim.Send(ctx, signal.Message{Type: signal.TypeAnswer, Dst: msg.Src, Payload: payload})
	}
	var id uint64
	var retry bool
	if reason == "" {
		reason = r.knockIdentityRefusal(kp)
	}
	if reason == "" {
		id, reason, retry = r.admission(kp.Knock)
	}
	if reason != "" {
		r.log.Info("room: refused newcomer", "participant", kp.Knock.Participant, "from", msg.Src, "reason", reason)
		_ = reply(answerPayload{Refused: reason, Retry: retry, Session: kp.Session})
		return
	}
	defer r.doneKnocking(kp.Knock.Participant)
	self := r.self.Load()
	var answered atomic.Bool
	var answer atomic.Value // the SDP of our answer, for the admission proof
	p, err := r.newPeer(id, kp.Session, func(s mesh.Signal) error {
		if answered.Swap(true) {
			return r.relaySignal(id, kp.Session)(s)
		}
		answer.Store(s.SDP)
		return reply(r.signAnswer(answerPayload{Admitted: &admission{RaftID: id, DoormanID: self}, Signal: s, Session: kp.Session}))
	})
	if err != nil {
		_ = reply(answerPayload{Refused: "doorman could not open a connection", Retry: true, Session: kp.Session})
		return
	}
	var challenge *admissionChannel
	if r.key != nil {
		if challenge, err = newAdmissionChannel(p.conn); err != nil {
			r.log.Warn("room: admission", "participant", kp.Knock.Participant, "err", err)
			p.close()
			_ = reply(answerPayload{Refused: "doorman could not open a connection", Retry: true, Session: kp.Session})
			return
		}
	}
	if !r.setPeer(id, p) {
		return
	}
	if err := p.conn.Accept(ctx, kp.Signal); err != nil {
		r.log.Info("room: newcomer's offer", "participant", kp.Knock.Participant, "err", err)
		r.dropPeer(id, p)
		return
	}
	if err := p.conn.WaitReady(ctx); err != nil {
		r.log.Info("room: newcomer never connected", "participant", kp.Knock.Participant, "err", err)
		r.dropPeer(id, p)
		return
	}
	if challenge != nil {
		sdp, _ := answer.Load().(string)
		if err := r.challenge(ctx, challenge, id, kp.Signal.SDP, sdp); err != nil {
			r.log.Warn("room: refused newcomer: no proof of the password", "participant", kp.Knock.Participant, "err", err)
			r.dropPeer(id, p)
			return
		}
	}
	info, _ := json.Marshal(memberInfo{Participant: kp.Knock.Participant, Key: kp.Knock.Key})
	if err := r.node.Load().AddLearner(ctx, id, info); err != nil {
		r.log.Warn("room: could not add newcomer", "participant", kp.Knock.Participant, "err", err)
		r.dropPeer(id, p)
	}
}

// admission applies the built-in checks and the app's Admit hook, and
// reserves a raft id for an admitted newcomer. A non-empty reason refuses;
// retry marks a refusal the newcomer should simply knock again after.
func (r *Room) admission(k Knock) (id uint64, reason string, retry bool) {
	switch {
	case k.Version != protocolVersion:
		return 0, fmt.Sprintf("unsupported protocol version %d (this doorman speaks %d)", k.Version, protocolVersion), false
	case k.Participant == "" || len(k.Participant) > 128:
		return 0, "participant id must be 1 to 128 bytes", false
	}
	r.mu.Lock()
	self := r.self.Load()
	switch {
	case r.leader != self:
		r.mu.Unlock()
		return 0, "this member is no longer the doorman; knock again", true
	case len(r.members)+len(r.knocking) >= r.opts.MaxMembers:
		r.mu.Unlock()
		return 0, "room is full", false
	case r.knocking[k.Participant] || r.hasParticipant(k.Participant):
		r.mu.Unlock()
		return 0, fmt.Sprintf("participant id %q is already in the room", k.Participant), false
	}
	r.knocking[k.Participant] = true
	r.mu.Unlock()
	if r.opts.Admit != nil {
		if err := r.opts.Admit(k); err != nil {
			r.doneKnocking(k.Participant)
			return 0, err.Error(), false
		}
	}
	next := r.node.Load().Status().NextID
	r.mu.Lock()
	defer r.mu.Unlock()
	id = max(next, r.reserved+1)
	r.reserved = id
	return id, "", false
}

func (r *Room) hasParticipant(name string) bool {
	for _, mi := range r.members {
		if mi.Participant == name {
			return true
		}
	}
	return false
}

func (r *Room) doneKnocking(participant string) {
	r.mu.Lock()
	delete(r.knocking, participant)
	r.mu.Unlock()
}

// onLeaderChange runs on the work goroutine after raft reports a new leader
// or role: the doorman claims the room id, a former doorman lets it go.
func (r *Room) onLeaderChange(li raftnode.LeaderInfo) {
	r.mu.Lock()
	changed := r.leader != li.Leader
	r.leader = li.Leader
	name := r.members[li.Leader].Participant
	var release *signal.Client
	// Only a known other leader makes this member let the claim go: during
	// an election (no leader) it may well be elected again.
	if li.Leader != 0 && li.Leader != r.self.Load() && r.claim != nil {
		release, r.claim = r.claim, nil
	}
	r.mu.Unlock()
	if release != nil {
		release.Close()
	}
	if changed {
		r.emit(Event{Type: EventDoormanChange, Doorman: name})
	}
	r.ensureClaim()
}

// ensureClaim makes the doorman hold the room id on the signalling server,
// taking it over with the room's token from a previous doorman whose socket
// may still be registered.
func (r *Room) ensureClaim() {
	r.mu.Lock()
	if r.closed || r.leader != r.self.Load() || r.claim != nil || r.claiming {
		r.mu.Unlock()
		return
	}
	r.claiming = true
	r.mu.Unlock()
	token := r.sm.roomMeta().Token
	r.wg.Go(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		claim, err := r.dialSignal(ctx, r.signalID, token)
		r.work.push(func() {
			r.mu.Lock()
			r.claiming = false
			keep := err == nil && !r.closed && r.leader == r.self.Load() && r.claim == nil
			if keep {
				r.claim = claim
			}
			r.mu.Unlock()
			switch {
			case keep:
				r.goServeKnocks(claim)
			case err != nil:
				r.log.Warn("room: doorman could not claim the room id", "err", err)
				if errors.Is(err, signal.ErrIDTaken) {
					r.emit(Event{Type: EventError, Err: fmt.Errorf("claim room id: %w", err)})
				}
			default:
				claim.Close()
			}
		})
	})
}

// refreshMembers reads the replicated member table, reports who came and
// went, and closes connections to members that are gone.
func (r *Room) refreshMembers() {
	n := r.node.Load()
	if n == nil || r.isClosed() {
		return
	}
	st := n.Status()
	if st.Removed {
		if r.leaving.Load() {
			r.shutdown(nil)
		} else {
			r.shutdown(fmt.Errorf("%w: removed from the room", ErrClosed))
		}
		return
	}
	if len(st.Members) == 0 {
		return // not caught up yet
	}
	fresh := map[uint64]memberInfo{}
	voters := map[uint64]bool{}
	for _, m := range st.Members {
		mi, err := decodeMemberInfo(m.Context)
		if err != nil {
			r.log.Warn("room: member without participant info", "id", m.ID, "err", err)
		}
		fresh[m.ID], voters[m.ID] = mi, !m.Learner
	}
	r.mu.Lock()
	old := r.members
	r.members, r.voters = fresh, voters
	var gone []*peer
	for id := range old {
		if _, ok := fresh[id]; !ok {
			if p := r.peers[id]; p != nil {
				gone = append(gone, p)
				delete(r.peers, id)
			}
			delete(r.missing, id)
		}
	}
	r.mu.Unlock()
	for _, p := range gone {
		p.close()
	}
	r.reconcileConnections(time.Now())
	self := r.self.Load()
	for _, id := range sortedIDs(fresh) {
		if _, ok := old[id]; !ok && id != self {
			r.emit(Event{Type: EventPeerJoin, Peer: fresh[id].Participant})
		}
	}
	for _, id := range sortedIDs(old) {
		if _, ok := fresh[id]; !ok && id != self {
			r.emit(Event{Type: EventPeerLeave, Peer: old[id].Participant})
		}
	}
}

// reconcile is the periodic upkeep, on the work goroutine.
func (r *Room) reconcile() {
	r.refreshMembers()
	if r.isClosed() {
		return
	}
	now := time.Now()
	r.reconcileConnections(now)
	r.removeUnreachable(now)
	r.watchQuorum(now)
	r.ensureClaim()
	r.shareChain()
}
