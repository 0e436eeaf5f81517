package room

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
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
	r.mu.Lock()
	r.sponsor = p
	r.mu.Unlock()
	if err := r.startNode(ans.Admitted.RaftID, raftnode.NewMemoryStorage(), doorman); err != nil {
		return err
	}
	if err := p.conn.HandleSignal(ans.Signal); err != nil {
		return fmt.Errorf("doorman's answer: %w", err)
	}
	ctx, stop := whileConnected(ctx, p)
	defer stop()
	return sponsorLost(ctx, r.enter(ctx, p, ans, challenge, &offer))
}

// enter completes an admission once the doorman answered: the connection,
// the password proof, and the check of the doorman's signature, which waits
// until the newcomer has caught up enough to know the doorman's key.
func (r *Room) enter(ctx context.Context, p *peer, ans answerPayload, challenge *admissionChannel, offer *atomic.Value) error {
	if err := p.conn.WaitReady(ctx); err != nil {
		return err
	}
	if challenge != nil {
		sdp, _ := offer.Load().(string)
		if err := r.prove(ctx, challenge, ans.Admitted.RaftID, sdp, ans.Signal.SDP); err != nil {
			return err
		}
	}
	return r.checkAnswer(ctx, ans)
}

// whileConnected returns a context that also ends, with errSponsorGone as
// its cause, when the connection to the doorman that admitted this newcomer
// ends: until the newcomer has caught up, that is its only link to the room
// (the doorman lets it go when it stopped leading before it could add it).
func whileConnected(ctx context.Context, sponsor *peer) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancelCause(ctx)
	go func() {
		select {
		case <-sponsor.conn.Done():
			cancel(errSponsorGone)
		case <-ctx.Done():
		}
	}()
	return ctx, func() { cancel(nil) }
}

// sponsorLost turns err, the end of a wait under whileConnected, into
// errSponsorGone when the connection to the sponsor ended: the watcher
// cancelled ctx, or a wait on the connection itself failed because it
// closed (WaitReady), which may happen before the watcher runs. Any other
// error (a refusal that came before the close) is returned as it is.
func sponsorLost(ctx context.Context, err error) error {
	if err != nil && (errors.Is(context.Cause(ctx), errSponsorGone) || errors.Is(err, mesh.ErrClosed)) {
		return errSponsorGone
	}
	return err
}

// awaitAnswer waits for the doorman's answer to the knock of session. An
// answer to another knock is ignored; a refusal without a session comes
// from a doorman that could not read the knock (a wrong password).
//
// A doorman that stops leading mid-admission can no longer answer: the room
// id moves to the next doorman, with the signalling connection the answer
// would go out on. A doorman that is still deciding says so every
// pendingInterval; after answerPatience without a word the newcomer gives
// up on this knock (errNoWord) and knocks again, reaching the next one.
func (r *Room) awaitAnswer(ctx context.Context, sig *signal.Client, session string) (answerPayload, error) {
	patience := time.NewTimer(answerPatience)
	defer patience.Stop()
	for {
		select {
		case <-patience.C:
			return answerPayload{}, fmt.Errorf("%w in %v (it may have stepped down)", errNoWord, answerPatience)
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
				if ans.Pending {
					patience.Reset(answerPatience)
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
	return ans.Session == session || (ans.Admitted == nil && !ans.Pending && ans.Session == "")
}

// pendingInterval is how often a doorman tells a newcomer it is still
// deciding; answerPatience is how long a newcomer waits for a word from its
// doorman before it knocks again.
const (
	pendingInterval = time.Second
	answerPatience  = 5 * time.Second
)

// errKnockAgain: this knock will not get the newcomer in (its doorman went
// away mid-admission), but a new knock, reaching the next doorman, may.
// errNoWord is the case where the doorman never answered, so nothing of the
// knock was set up yet; errSponsorGone the case where the doorman that
// admitted the newcomer closed the connection before it caught up.
var (
	errKnockAgain  = errors.New("knock again")
	errNoWord      = fmt.Errorf("%w: no word from the doorman", errKnockAgain)
	errSponsorGone = fmt.Errorf("%w: the doorman that admitted this member closed the connection before it caught up", errKnockAgain)
)

// keepWaiting tells the newcomer every pendingInterval that its doorman is
// still deciding, until stop is called.
func (r *Room) keepWaiting(reply func(answerPayload) error, session string) (stop func()) {
	done := make(chan struct{})
	r.wg.Go(func() {
		t := time.NewTicker(pendingInterval)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				if reply(answerPayload{Pending: true, Session: session}) != nil {
					return
				}
			case <-done:
				return
			case <-r.stop:
				return
			}
		}
	})
	var once sync.Once
	return func() { once.Do(func() { close(done) }) }
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
	send := func(ans answerPayload) error {
		payload, err := json.Marshal(ans)
		if sealed { // only a newcomer with the key may read the answer
			payload, err = r.key.seal(signal.TypeAnswer, r.signalID, ans)
		}
		if err != nil {
			return err
		}
		return claim.Send(ctx, signal.Message{Type: signal.TypeAnswer, Dst: msg.Src, Payload: payload})
	}
	stopWaiting := func() {}
	if reason == "" {
		stopWaiting = r.keepWaiting(send, kp.Session)
	}
	defer stopWaiting()
	reply := func(ans answerPayload) error {
		stopWaiting()
		return send(ans)
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
	if hook := r.hooks.beforeAddLearner.Load(); hook != nil {
		(*hook)()
	}
	info, _ := json.Marshal(memberInfo{Participant: kp.Knock.Participant, Key: kp.Knock.Key})
	if err := r.node.Load().AddLearner(ctx, id, info); err != nil {
		// Letting it go tells the newcomer to knock again (catchUp).
		r.log.Warn("room: could not add newcomer", "participant", kp.Knock.Participant, "err", err)
		r.dropPeer(id, p)
		return
	}
	r.sponsorNewcomer(id, p)
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
	if r.leader != r.self.Load() {
		r.mu.Unlock()
		return 0, "this member is no longer the doorman; knock again", true
	}
	// Before the room counts as full: the given-up attempt holds a place.
	memberID, mi, isMember := r.memberNamedLocked(k.Participant)
	if isMember && r.isStaleAttemptLocked(memberID, mi, k) {
		r.mu.Unlock()
		r.removeStaleAttempt(memberID, k.Participant)
		return 0, "this participant's previous attempt to join is being removed; knock again", true
	}
	switch {
	case len(r.members)+len(r.knocking) >= r.opts.MaxMembers:
		r.mu.Unlock()
		return 0, "room is full", false
	case r.knocking[k.Participant] || isMember:
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

// memberNamedLocked finds the member with participant id name (admission
// keeps them unique).
func (r *Room) memberNamedLocked(name string) (id uint64, mi memberInfo, ok bool) {
	for id, mi := range r.members {
		if mi.Participant == name {
			return id, mi, true
		}
	}
	return 0, memberInfo{}, false
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
	if li.Leader != 0 && li.Leader != r.self.Load() {
		r.releaseSponsored()
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
