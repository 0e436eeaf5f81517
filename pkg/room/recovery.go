package room

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/rooms-dev/rooms/pkg/mesh"
	"github.com/rooms-dev/rooms/pkg/raftnode"
	"github.com/rooms-dev/rooms/pkg/signal"
)

// Quorum-loss recovery (DESIGN: admission, step 7). Raft cannot elect a
// leader without a majority of voters, so a room of two whose other member
// vanished would be stuck for good. A member that has been alone (no working
// connection) and leaderless for RecoveryTimeout re-forms the room from its
// own state, as the only voter of a new epoch. The signalling server
// arbitrates between members that try at once: the re-former takes the room
// id over with the old token, lets it go, and claims it again with a new
// token; whoever comes second gets ID-TAKEN and knocks on the new epoch as a
// newcomer, its own changes since the split lost. This trades strict Raft
// for availability; RecoveryNever turns it off.

// watchQuorum runs in reconcile: it starts recovery when it is due.
func (r *Room) watchQuorum(now time.Time) {
	if r.opts.Recovery == RecoveryNever {
		return
	}
	r.mu.Lock()
	leaderless := r.leader == 0
	switch {
	case !leaderless:
		r.leaderlessSince = time.Time{}
	case r.leaderlessSince.IsZero():
		r.leaderlessSince = now
	}
	due := leaderless && !r.recovering && now.Sub(r.leaderlessSince) >= r.opts.RecoveryTimeout && r.aloneLocked()
	if due {
		r.recovering = true
	}
	r.mu.Unlock()
	if due {
		r.wg.Go(r.recover)
	}
}

func (r *Room) aloneLocked() bool {
	for _, p := range r.peers {
		if p.conn.State() == mesh.StateConnected {
			return false
		}
	}
	return true
}

func (r *Room) recover() {
	defer func() {
		r.mu.Lock()
		r.recovering, r.leaderlessSince = false, time.Time{}
		r.mu.Unlock()
	}()
	ctx, cancel := context.WithTimeout(context.Background(), r.opts.JoinTimeout)
	defer cancel()
	old := r.sm.roomMeta()
	claim, err := r.arbitrate(ctx, old.Token)
	switch {
	case err == nil:
		if err := r.reform(claim, old); err != nil {
			r.emit(Event{Type: EventError, Err: fmt.Errorf("re-forming the room: %w", err)})
		}
	case errors.Is(err, signal.ErrIDTaken):
		// The room lives on elsewhere (re-formed by another member, or its
		// doorman is back): join it as a newcomer.
		if err := r.rejoin(ctx); err != nil {
			r.emit(Event{Type: EventError, Err: fmt.Errorf("rejoining the room: %w", err)})
		}
	default:
		r.log.Info("room: recovery postponed", "err", err)
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
	info, _ := json.Marshal(memberInfo{Participant: r.participant})
	storage := raftnode.NewMemoryStorage()
	if err := raftnode.Bootstrap(storage, r.sm, []raftnode.Member{{ID: self, Context: info}}); err != nil {
		_ = claim.Close()
		return err
	}
	r.mu.Lock()
	r.claim = claim
	r.mu.Unlock()
	if err := r.startNode(self, storage); err != nil {
		return err
	}
	r.goServeKnocks(claim)
	r.log.Warn("room: quorum lost; re-formed the room", "epoch", old.Epoch+1)
	r.emit(Event{Type: EventRecovered, Epoch: old.Epoch + 1})
	return nil
}

// rejoin leaves this member's stale epoch and knocks on the live room.
func (r *Room) rejoin(ctx context.Context) error {
	r.dropEpoch()
	r.updateMu.Lock()
	r.seq = 0 // a new raft id is a new proposer
	r.updateMu.Unlock()
	if err := r.knock(ctx); err != nil {
		return err
	}
	if err := r.node.Load().Read(ctx); err != nil {
		return err
	}
	r.emit(Event{Type: EventRecovered, Epoch: r.sm.roomMeta().Epoch})
	return nil
}

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
