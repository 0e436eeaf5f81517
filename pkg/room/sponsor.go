package room

import (
	"bytes"
	"slices"
	"time"

	"github.com/rooms-dev/rooms/pkg/raftnode"
)

// A newcomer follows only the doorman that admitted it (its sponsor) until
// it has caught up: before its first snapshot it knows no member's key, so
// it cannot check another leader's proof of election. When the sponsor
// stops leading after adding it but before it caught up, nobody can catch it
// up any more. The sponsor then lets its connection go, which makes the
// newcomer give up this attempt and knock again (whileConnected). The next
// doorman finds the given-up attempt still in the member table, a learner
// with the newcomer's key that is not connected to it, and removes it before
// letting the newcomer in again.

// sponsorNewcomer remembers a newcomer this doorman added until it has
// caught up (it acknowledged something), left, or the attempt timed out.
func (r *Room) sponsorNewcomer(id uint64, p *peer) {
	r.mu.Lock()
	leading := r.leader == r.self.Load()
	if leading {
		r.sponsored[id] = p
	}
	r.mu.Unlock()
	if !leading { // leadership moved while it was being added: releaseSponsored ran already
		r.log.Info("room: stopped leading before a newcomer caught up: letting it go so it knocks again", "peer", id)
		r.dropPeer(id, p)
		return
	}
	r.wg.Go(func() {
		if !r.awaitCaughtUp(id) {
			return // releaseSponsored lets it go
		}
		r.mu.Lock()
		if r.sponsored[id] == p {
			delete(r.sponsored, id)
		}
		r.mu.Unlock()
	})
}

// caughtUpCheck is how often a doorman looks whether a newcomer it added
// has caught up: only during the admission, and a newcomer let go by
// mistake (it caught up in the last check's interval) merely knocks again.
const caughtUpCheck = 50 * time.Millisecond

// awaitCaughtUp waits until newcomer id has acknowledged something to this
// leader, is no member, or its join would have timed out (true: forget it),
// or until this member stops leading or closes (false).
func (r *Room) awaitCaughtUp(id uint64) (forget bool) {
	tick := time.NewTicker(caughtUpCheck)
	defer tick.Stop()
	give := time.NewTimer(r.opts.JoinTimeout)
	defer give.Stop()
	for {
		select {
		case <-tick.C:
		case <-give.C:
			return true
		case <-r.stop:
			return false
		}
		st := r.node.Load().Status()
		switch {
		case st.Leader != st.ID:
			return false
		case st.Progress[id] > 0 || !slices.ContainsFunc(st.Members, func(m raftnode.Member) bool { return m.ID == id }):
			return true
		}
	}
}

// releaseSponsored lets go of the newcomers this member added as doorman
// that have not caught up: it no longer leads, and they follow no one else.
func (r *Room) releaseSponsored() {
	r.mu.Lock()
	sponsored := r.sponsored
	r.sponsored = map[uint64]*peer{}
	for id := range sponsored {
		if r.voters[id] { // promoted, which only a caught-up learner is
			delete(sponsored, id)
		}
	}
	r.mu.Unlock()
	for id, p := range sponsored {
		r.log.Info("room: stopped leading before a newcomer caught up: letting it go so it knocks again", "peer", id)
		r.dropPeer(id, p)
	}
}

// isStaleAttemptLocked tells whether member id (mi), which has k's
// participant id, is an attempt of k's newcomer that it gave up: a learner
// with its key (the knock proves the key) that this doorman has no
// connection to.
func (r *Room) isStaleAttemptLocked(id uint64, mi memberInfo, k Knock) bool {
	return !r.voters[id] && bytes.Equal(mi.Key, k.Key) && !r.connectedLocked(id)
}

// removeStaleAttempt removes a given-up attempt from the room, once.
func (r *Room) removeStaleAttempt(id uint64, participant string) {
	if !r.markOnce(r.removingStale, id) {
		return
	}
	r.log.Info("room: removing a newcomer's given-up attempt", "participant", participant, "peer", id)
	r.wg.Go(func() {
		defer func() {
			r.mu.Lock()
			delete(r.removingStale, id)
			r.mu.Unlock()
		}()
		if err := r.removeMember(id); err != nil {
			r.log.Info("room: could not remove a given-up attempt", "peer", id, "err", err)
		}
	})
}

// markOnce sets id in set, a map guarded by r.mu, and says whether it was
// not set before.
func (r *Room) markOnce(set map[uint64]bool, id uint64) (first bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	first = !set[id]
	set[id] = true
	return first
}
