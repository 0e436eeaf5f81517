package room

import (
	"context"
	"crypto/ed25519"
	crand "crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rooms-dev/rooms/pkg/mesh"
	"github.com/rooms-dev/rooms/pkg/raftnode"
	"github.com/rooms-dev/rooms/pkg/room/internal/edsign"
	"github.com/rooms-dev/rooms/pkg/signal"
	"github.com/rooms-dev/rooms/pkg/state"
)

// Room is this member's handle on a room. All methods are safe for
// concurrent use.
type Room struct {
	opts        Options
	log         *slog.Logger
	roomID      string
	participant string
	signalID    string
	key         *roomKey // derived from Options.Password; nil without one (password.go)

	app  *state.Machine
	sm   *machine
	self atomic.Uint64 // raft id, set once admitted
	node atomic.Pointer[raftnode.Node]

	// identity signs this member's knock, relayed signals and changes
	// (identity.go).
	identity ed25519.PrivateKey
	hooks    testHooks

	events *queue[Event]
	work   *queue[func()]

	mu      sync.Mutex
	peers   map[uint64]*peer
	members map[uint64]memberInfo // the replicated member table, as last seen
	voters  map[uint64]bool
	missing map[uint64]time.Time // members with no connection, since when
	leader  uint64
	sponsor *peer // a newcomer's connection to the doorman that admitted it
	// The newcomers this doorman added that have not caught up yet, and
	// the given-up attempts being removed (sponsor.go).
	sponsored     map[uint64]*peer
	removingStale map[uint64]bool
	claim         *signal.Client
	claiming      bool
	reserved      uint64
	knocking      map[string]bool // participants being admitted
	dialing       map[uint64]bool // members being dialled
	strikes       map[uint64]int  // bad frames received, per member
	forks         map[uint64]bool // members whose chain was found to differ (fork.go)
	closed        bool
	proposals     chan *proposal // to the proposer goroutine (proposer.go)
	stop          chan struct{}
	stopOnce      sync.Once
	closedErr     error
	leaving       atomic.Bool

	leaderlessSince time.Time
	recovering      bool
	wg              sync.WaitGroup
}

func newRoom(participant, roomID string, opts Options, app *state.Machine, meta roomMeta) *Room {
	opts = opts.withDefaults()
	edsign.Usable() // in the browser, WebCrypto's self-test runs while the room forms
	r := &Room{
		opts: opts, roomID: roomID, participant: participant,
		signalID: signalID(opts.AppID, roomID),
		key:      deriveRoomKey(opts.Password, opts.AppID, roomID),
		log:      opts.Logger.With("room", roomID, "participant", participant),
		app:      app, sm: newMachine(meta, app), identity: newIdentity(opts.Identity),
		peers: map[uint64]*peer{}, members: map[uint64]memberInfo{}, voters: map[uint64]bool{},
		missing: map[uint64]time.Time{}, knocking: map[string]bool{}, dialing: map[uint64]bool{}, strikes: map[uint64]int{}, forks: map[uint64]bool{},
		sponsored: map[uint64]*peer{}, removingStale: map[uint64]bool{},
		stop: make(chan struct{}),
	}
	for name, reducer := range opts.Reducers {
		app.Register(name, reducer)
	}
	r.proposals = make(chan *proposal)
	r.events = newQueue(r.deliver)
	r.work = newQueue(func(f func()) { f() })
	r.wg.Go(r.runProposer)
	app.OnApply(r.onApplied)
	return r
}

func (r *Room) deliver(e Event) {
	if r.opts.OnEvent != nil {
		r.opts.OnEvent(e)
	}
}

func (r *Room) emit(e Event) {
	e.At = time.Now()
	r.events.push(e)
}

func (r *Room) onApplied(a state.Applied) {
	if !a.Changed {
		return
	}
	if a.Restored {
		r.emit(Event{Type: EventStateUpdate, Restored: true, Version: a.Result.Version})
		return
	}
	change := a.Change
	r.emit(Event{Type: EventStateUpdate, Change: &change, Patch: a.Patch, Version: a.Result.Version})
}

// Create creates room roomID with initialState, this member as its only
// member and doorman. It fails with ErrRoomExists when the room id is taken.
func Create(ctx context.Context, participant, roomID string, initialState json.RawMessage, opts Options) (*Room, error) {
	if err := checkNames(participant, roomID); err != nil {
		return nil, err
	}
	if err := checkIdentity(opts.Identity); err != nil {
		return nil, err
	}
	app, err := state.New(initialState)
	if err != nil {
		return nil, fmt.Errorf("create %s: initial state: %w", roomID, err)
	}
	meta := roomMeta{RoomID: roomID, Token: randomHex(16)}
	r := newRoom(participant, roomID, opts, app, meta)
	ctx, cancel := context.WithTimeout(ctx, r.opts.JoinTimeout)
	defer cancel()
	claim, err := r.dialSignal(ctx, r.signalID, meta.Token)
	if errors.Is(err, signal.ErrIDTaken) {
		r.shutdown(ErrRoomExists)
		return nil, fmt.Errorf("create %s: %w", roomID, ErrRoomExists)
	}
	if err != nil {
		r.shutdown(err)
		return nil, fmt.Errorf("create %s: signalling: %w", roomID, err)
	}
	storage := raftnode.NewMemoryStorage()
	if err := raftnode.Bootstrap(storage, r.sm, []raftnode.Member{{ID: 1, Context: r.ownMemberInfo()}}); err != nil {
		_ = claim.Close()
		r.shutdown(err)
		return nil, fmt.Errorf("create %s: %w", roomID, err)
	}
	// The claim is in place before raft can report this member's
	// leadership, so the doorman does not claim the room id a second time.
	r.mu.Lock()
	r.claim = claim
	r.mu.Unlock()
	if err := r.startNode(1, storage, 0); err != nil {
		r.shutdown(err)
		return nil, fmt.Errorf("create %s: %w", roomID, err)
	}
	r.goServeKnocks(claim)
	if err := r.node.Load().Read(ctx); err != nil {
		r.shutdown(err)
		return nil, fmt.Errorf("create %s: %w", roomID, err)
	}
	r.startBackground()
	r.settle()
	return r, nil
}

// Join knocks on room roomID and returns once the doorman has admitted this
// member and it has caught up with the room's state. It fails with
// ErrRoomNotFound, a *RefusedError (errors.Is ErrRefused) or ErrTimeout.
func Join(ctx context.Context, participant, roomID string, opts Options) (*Room, error) {
	if err := checkNames(participant, roomID); err != nil {
		return nil, err
	}
	if err := checkIdentity(opts.Identity); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, opts.withDefaults().JoinTimeout)
	defer cancel()
	// Every attempt knocks as the same identity, so that a doorman can tell
	// an attempt this member gave up (added, but never caught up) from
	// someone else with the same participant id (isStaleAttemptLocked).
	opts.Identity = newIdentity(opts.Identity)
	for {
		r, err := joinOnce(ctx, participant, roomID, opts)
		if !errors.Is(err, errKnockAgain) || ctx.Err() != nil {
			return r, err
		}
	}
}

// joinOnce is one attempt at joining, with a room of its own: an attempt
// whose doorman went away after answering is given up (errKnockAgain), and
// the next starts afresh.
func joinOnce(ctx context.Context, participant, roomID string, opts Options) (*Room, error) {
	app, _ := state.New(nil)
	r := newRoom(participant, roomID, opts, app, roomMeta{})
	if err := r.knockUntilAnswered(ctx); err != nil {
		r.shutdown(err)
		if errors.Is(err, errKnockAgain) && ctx.Err() == nil {
			r.log.Info("room: knocking again", "reason", err)
			return nil, err
		}
		if ctx.Err() != nil && !errors.Is(err, ErrRefused) && !errors.Is(err, ErrRoomNotFound) {
			return nil, fmt.Errorf("join %s: %w: %w", roomID, ErrTimeout, err)
		}
		return nil, fmt.Errorf("join %s: %w", roomID, err)
	}
	if err := r.catchUp(ctx); err != nil {
		r.shutdown(err)
		if errors.Is(err, errKnockAgain) {
			r.log.Info("room: knocking again", "reason", err)
			return nil, err
		}
		return nil, fmt.Errorf("join %s: catching up: %w: %w", roomID, ErrTimeout, err)
	}
	if err := r.checkOwnKey(); err != nil {
		r.shutdown(err)
		return nil, fmt.Errorf("join %s: %w", roomID, err)
	}
	r.startBackground()
	// Ready means connected to every member, and a voter while the room has
	// room for voters: without its own links and vote a newcomer could not
	// help elect the next doorman if this one vanished.
	if err := r.awaitSettled(ctx); err != nil {
		r.shutdown(err)
		return nil, fmt.Errorf("join %s: connecting to the members: %w: %w", roomID, ErrTimeout, err)
	}
	r.settle()
	return r, nil
}

func checkNames(participant, roomID string) error {
	switch {
	case participant == "" || len(participant) > 128:
		return fmt.Errorf("room: participant id must be 1 to 128 bytes, got %d", len(participant))
	case roomID == "" || len(roomID) > 256:
		return fmt.Errorf("room: room id must be 1 to 256 bytes, got %d", len(roomID))
	}
	return nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = crand.Read(b)
	return hex.EncodeToString(b)
}

func (r *Room) dialSignal(ctx context.Context, id, token string) (*signal.Client, error) {
	return signal.Dial(ctx, signal.ClientConfig{
		URL: r.opts.SignalURL, Key: r.opts.SignalKey, ID: id, Token: token, Logger: r.log,
	})
}

// startNode starts this member's raft node as id on storage. sponsor is the
// doorman that admitted it (0 for a founder): the leader it follows until
// its first snapshot tells it whose votes count.
func (r *Room) startNode(id uint64, storage raftnode.Storage, sponsor uint64) error {
	r.self.Store(id)
	n, err := raftnode.Start(raftnode.Config{
		ID: id, TickInterval: r.opts.TickInterval, MaxVoters: r.opts.MaxVoters, Logger: r.log,
		Signer: raftSigner{r}, Sponsor: sponsor,
		OnLeaderChange:     func(li raftnode.LeaderInfo) { r.work.push(func() { r.onLeaderChange(li) }) },
		OnMembershipChange: func(raftnode.MembershipChange) { r.work.push(r.refreshMembers) },
		OnRejectedMessage: func(from uint64, err error) {
			r.work.push(func() { r.misbehaved(from, "rejected raft message", err) })
		},
	}, storage, r.sm, raftnode.TransportFunc(r.sendRaft))
	if err != nil {
		return err
	}
	r.node.Store(n)
	r.wg.Go(func() {
		select {
		case <-n.Done():
			if err := n.Err(); err != nil {
				r.shutdown(err)
			}
		case <-r.stop:
		}
	})
	return nil
}

// startBackground starts the periodic upkeep: connections to every member,
// removal of unreachable members, and the doorman's claim on the room id.
func (r *Room) startBackground() {
	r.work.push(r.refreshMembers)
	r.wg.Go(func() {
		t := time.NewTicker(500 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				r.work.push(r.reconcile)
			case <-r.stop:
				return
			}
		}
	})
}

// ID returns the room id.
func (r *Room) ID() string { return r.roomID }

// Self returns this member's participant id.
func (r *Room) Self() string { return r.participant }

// Doorman returns the doorman's participant id, or "" during an election.
func (r *Room) Doorman() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.members[r.leader].Participant
}

// Peers describes every member of the room, this one included.
func (r *Room) Peers() []PeerInfo {
	r.mu.Lock()
	defer r.mu.Unlock()
	self := r.self.Load()
	var out []PeerInfo
	for id, mi := range r.members {
		pi := PeerInfo{Participant: mi.Participant, RaftID: id, Key: keyFingerprint(mi.Key), Voter: r.voters[id], Doorman: id == r.leader, Self: id == self, State: "self"}
		if id != self {
			pi.State = "absent"
			if p := r.peers[id]; p != nil {
				pi.State, pi.RTT = p.conn.State().String(), p.conn.RTT()
			}
		}
		out = append(out, pi)
	}
	sortPeers(out)
	return out
}

// Done is closed when the room is closed for this member and every event
// has been delivered.
func (r *Room) Done() <-chan struct{} { return r.events.done }

// Err returns why the room closed (nil after Leave), once Done is closed.
func (r *Room) Err() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.closedErr
}

func (r *Room) shutdown(err error) {
	r.stopOnce.Do(func() {
		r.mu.Lock()
		r.closed, r.closedErr = true, err
		peers, claim := r.peers, r.claim
		r.peers, r.claim = map[uint64]*peer{}, nil
		r.mu.Unlock()
		close(r.stop)
		if n := r.node.Load(); n != nil {
			n.Stop()
		}
		for _, p := range peers {
			p.close()
		}
		if claim != nil {
			claim.Close()
		}
		r.work.close()
		r.emit(Event{Type: EventClosed, Err: err})
		r.events.close()
	})
}

func (r *Room) isClosed() bool {
	select {
	case <-r.stop:
		return true
	default:
		return false
	}
}

func peerName(id uint64) string { return strconv.FormatUint(id, 10) }

// settle waits until the work queued so far (leader and membership
// updates) is done, so Doorman and Peers are current when Create or Join
// returns.
func (r *Room) settle() {
	done := make(chan struct{})
	r.work.push(func() { r.refreshMembers(); close(done) })
	select {
	case <-done:
	case <-r.stop:
	}
}

// awaitSettled waits until this member is a voter (or the room has its fill
// of voters) and has a working connection to every other member. A member
// that died and is not removed yet must not hold a newcomer up for
// PeerTimeout: after meshGrace, connections to the doorman and to a majority
// of the voters are enough.
func (r *Room) awaitSettled(ctx context.Context) error {
	check := time.NewTicker(20 * time.Millisecond)
	defer check.Stop()
	start := time.Now()
	for {
		r.work.push(r.refreshMembers)
		if r.votingOrFull() && (r.meshComplete() || (time.Since(start) > meshGrace && r.meshSufficient())) {
			return nil
		}
		select {
		case <-check.C:
		case <-ctx.Done():
			return ctx.Err()
		case <-r.stop:
			return ErrClosed
		}
	}
}

func (r *Room) meshComplete() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.members) == 0 {
		return false
	}
	for id := range r.members {
		if id == r.self.Load() {
			continue
		}
		p := r.peers[id]
		if p == nil || p.conn.State() != mesh.StateConnected {
			return false
		}
	}
	return true
}

func (r *Room) votingOrFull() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.voters[r.self.Load()] {
		return true
	}
	n := 0
	for _, v := range r.voters {
		if v {
			n++
		}
	}
	return n >= r.opts.MaxVoters
}

// knockUntilAnswered knocks, and knocks again while the doorman asks for it
// (a doorman stepping down answers so) or says nothing at all, until ctx
// ends. A knock that failed after the answer (errKnockAgain) set things up
// in this room, so Join starts the next attempt with a fresh one.
func (r *Room) knockUntilAnswered(ctx context.Context) error {
	for {
		err := r.knock(ctx)
		var refused *RefusedError
		switch {
		case errors.As(err, &refused) && refused.retry:
			r.log.Info("room: knocking again", "reason", refused.Reason)
		case errors.Is(err, errNoWord) && ctx.Err() == nil: // nothing was set up: knock from here
			r.log.Info("room: knocking again", "reason", err)
		default:
			return err
		}
		select {
		case <-time.After(100 * time.Millisecond):
		case <-ctx.Done():
			return err
		}
	}
}

// catchUp waits until this newcomer has the room's state. Until then its
// one connection is to the doorman that admitted it: if that connection ends
// first (the doorman stopped leading before it could add the newcomer, and
// let it go), this attempt is over and the newcomer knocks again.
func (r *Room) catchUp(ctx context.Context) error {
	r.mu.Lock()
	sponsor := r.sponsor
	r.mu.Unlock()
	if sponsor == nil {
		return r.node.Load().Read(ctx)
	}
	ctx, stop := whileConnected(ctx, sponsor)
	defer stop()
	return sponsorLost(ctx, r.node.Load().Read(ctx))
}

// meshGrace is how long Join waits for a connection to every member before
// it settles for the doorman and a majority of the voters.
const meshGrace = time.Second

func (r *Room) meshSufficient() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	leader := r.leader
	return leader != 0 && (leader == r.self.Load() || r.connectedLocked(leader)) && r.reachesMajorityLocked()
}
