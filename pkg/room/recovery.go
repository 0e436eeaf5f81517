package room

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rooms-dev/rooms/pkg/mesh"
	"github.com/rooms-dev/rooms/pkg/raftnode"
	"github.com/rooms-dev/rooms/pkg/signal"
)

// Quorum-loss recovery (DESIGN: admission, step 7). Raft cannot elect a
// leader without a majority of voters, so a room of two whose other member
// vanished would be stuck for good. A member that has been leaderless for
// RecoveryTimeout while the members it can reach hold no majority of voters
// leaves its epoch and asks the signalling server where the room is:
//
//   - it knocks on the room id as a newcomer: a live doorman (the majority
//     side of a partition, or a room another member already re-formed)
//     admits it, or refuses it while it is still listed; either way the room
//     lives on elsewhere and this member joins it, its own changes since the
//     split lost;
//   - nobody answers (the room id is free, or held by a dead socket): it
//     re-forms the room from its own state as the only voter of a new epoch.
//     The server arbitrates between members that try at once: the re-former
//     takes the id over with the old token, lets it go and claims it again
//     with a new token; whoever comes second gets ID-TAKEN and knocks again.
//
// This trades strict Raft for availability; RecoveryNever turns it off.

// watchQuorum runs in reconcile: it starts recovery when it is due. A
// member that refuses the leader's proof of election is stuck as well,
// even among a majority: it missed a change of voters, so it cannot check
// that the new leader was elected (raftnode.Signer), and must be let in
// again as a newcomer.
func (r *Room) watchQuorum(now time.Time) {
	if r.opts.Recovery == RecoveryNever {
		return
	}
	refusing := false
	if n := r.node.Load(); n != nil {
		refusing = n.Status().RefusedLeader != 0
	}
	r.mu.Lock()
	// A learner never campaigns, so it goes on naming a vanished leader:
	// a leader this member cannot reach counts as none, and so does one it
	// no longer hears from while it refuses another's claim.
	leaderless := refusing || r.leader == 0 || (r.leader != r.self.Load() && !r.connectedLocked(r.leader))
	switch {
	case !leaderless:
		r.leaderlessSince = time.Time{}
	case r.leaderlessSince.IsZero():
		r.leaderlessSince = now
	}
	due := leaderless && !r.recovering && now.Sub(r.leaderlessSince) >= r.opts.RecoveryTimeout && (refusing || !r.reachesMajorityLocked())
	if due {
		r.recovering = true
	}
	r.mu.Unlock()
	if due {
		r.wg.Go(r.recover)
	}
}

// reachesMajorityLocked: this member and the members it has a working
// connection to include a majority of the voters, so raft can elect.
func (r *Room) reachesMajorityLocked() bool {
	voters, reached := 0, 0
	self := r.self.Load()
	for id, isVoter := range r.voters {
		if !isVoter {
			continue
		}
		voters++
		if id == self || r.connectedLocked(id) {
			reached++
		}
	}
	return voters > 0 && reached > voters/2
}

func (r *Room) connectedLocked(id uint64) bool {
	p := r.peers[id]
	return p != nil && p.conn.State() == mesh.StateConnected
}

func (r *Room) recover() {
	defer func() {
		r.mu.Lock()
		r.recovering, r.leaderlessSince = false, time.Time{}
		r.mu.Unlock()
	}()
	r.dropEpoch()
	ctx, cancel := context.WithTimeout(context.Background(), r.opts.RecoveryTimeout+r.opts.JoinTimeout)
	defer cancel()
	err := r.rejoin(ctx)
	switch {
	case err == nil:
		return
	case errors.Is(err, ErrRefused):
		// The room is alive and still lists this member: the doorman
		// removes it as unreachable, and the next attempt gets in.
		r.log.Info("room: recovery: the live room refused this member for now", "err", err)
		return
	case !errors.Is(err, ErrRoomNotFound) && !errors.Is(err, errNoAnswer):
		r.log.Info("room: recovery postponed", "err", err)
		return
	}
	old := r.sm.roomMeta()
	claim, err := r.arbitrate(ctx, old.Token)
	if err != nil {
		r.log.Info("room: recovery: another member re-formed the room first, or signalling failed", "err", err)
		return
	}
	if err := r.reform(claim, old); err != nil {
		r.emit(Event{Type: EventError, Err: fmt.Errorf("re-forming the room: %w", err)})
	}
}

// arbitrate takes the room id over with the old token, frees it, and claims it
// with a new one. ErrIDTaken means another member won.
func (r *Room) arbitrate(ctx context.Context, oldToken string) (*signal.Client, error) {
	takeover, err := r.dialSignal(ctx, r.signalID, oldToken)
	if err != nil {
		return nil, err
	}
	_ = takeover.Close()
	return r.dialSignal(ctx, r.signalID, randomHex(16))
}

// reform makes this member the only voter and doorman of a new epoch that
// starts from its current state.
func (r *Room) reform(claim *signal.Client, old roomMeta) error {
	r.dropEpoch()
	self := r.self.Load()
	r.sm.setRoomMeta(roomMeta{RoomID: old.RoomID, Token: claim.Token(), Epoch: old.Epoch + 1})
	storage := raftnode.NewMemoryStorage()
	if err := raftnode.Bootstrap(storage, r.sm, []raftnode.Member{{ID: self, Context: r.ownMemberInfo()}}); err != nil {
		_ = claim.Close()
		return err
	}
	r.mu.Lock()
	r.claim = claim
	r.mu.Unlock()
	if err := r.startNode(self, storage, 0); err != nil {
		return err
	}
	r.goServeKnocks(claim)
	r.settle()
	r.log.Warn("room: quorum lost; re-formed the room", "epoch", old.Epoch+1)
	r.emit(Event{Type: EventRecovered, Epoch: old.Epoch + 1})
	return nil
}

// rejoin knocks on the room as a newcomer, after this member left its
// stale epoch. A knock nobody answers in time fails with errNoAnswer.
func (r *Room) rejoin(ctx context.Context) error {
	knock, cancel := context.WithTimeout(ctx, r.opts.RecoveryTimeout)
	err := r.knock(knock)
	cancel()
	if err != nil {
		r.dropEpoch() // whatever the failed knock had started
		// No word from the room id in answerPatience is no answer too: a
		// doorman says it is deciding every pendingInterval.
		silent := knock.Err() != nil || errors.Is(err, errNoWord)
		if silent && ctx.Err() == nil && !errors.Is(err, ErrRefused) && !errors.Is(err, ErrRoomNotFound) {
			return fmt.Errorf("%w: %w", errNoAnswer, err)
		}
		return err
	}
	if err := r.node.Load().Read(ctx); err != nil {
		return err
	}
	r.settle()
	r.emit(Event{Type: EventRecovered, Epoch: r.sm.roomMeta().Epoch})
	return nil
}

// errNoAnswer: a knock got no answer, so whoever holds the room id is gone.
var errNoAnswer = errors.New("room: no answer from the room id")

// dropEpoch stops the raft node and closes every connection of the epoch
// this member is leaving.
func (r *Room) dropEpoch() {
	if n := r.node.Load(); n != nil {
		n.Stop()
	}
	r.mu.Lock()
	peers, claim := r.peers, r.claim
	r.peers, r.claim, r.leader = map[uint64]*peer{}, nil, 0
	r.members, r.voters, r.missing = map[uint64]memberInfo{}, map[uint64]bool{}, map[uint64]time.Time{}
	r.mu.Unlock()
	for _, p := range peers {
		p.close()
	}
	if claim != nil {
		_ = claim.Close()
	}
}
