package room

import (
	"crypto/ed25519"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"

	"github.com/rooms-dev/rooms/pkg/raftnode"
	"github.com/rooms-dev/rooms/pkg/state"
)

// roomMeta is the room's own replicated settings, fixed at creation and
// carried in every snapshot, so that whoever becomes doorman can claim the
// room id with the room's token.
type roomMeta struct {
	RoomID string `json:"roomID"`
	// Token is the signalling token of the room id: a secret known only to
	// members, that lets a new doorman take the id over from a dead one.
	Token string `json:"token"`
	// Epoch counts re-formations after quorum loss (see recovery.go).
	Epoch uint64 `json:"epoch,omitempty"`
}

// machine is the raft state machine of a room: the room's meta plus the
// app's JSON document (pkg/state), which receives every entry's payload.
// raftnode tells it the member table in log order (ApplyMembership), and it
// checks each change's signature against its proposer's key as of that
// point (identity.go).
type machine struct {
	mu   sync.RWMutex
	meta roomMeta
	app  *state.Machine
	// keys are the members' public keys as of the last applied entry,
	// names their participant ids.
	keys  map[uint64]ed25519.PublicKey
	names map[uint64]string
	// chain is the running digest of applied entries (fork.go).
	chain chain
	// sigs remembers signatures already found good (sigcache.go).
	sigs *sigCache
	// keysChanged is closed (and replaced) whenever keys change.
	keysChanged chan struct{}
}

func newMachine(meta roomMeta, app *state.Machine) *machine {
	m := &machine{meta: meta, app: app, keys: map[uint64]ed25519.PublicKey{}, sigs: newSigCache(), keysChanged: make(chan struct{})}
	app.SetVerifier(m.verifyChange)
	app.SetNamer(m.participant)
	return m
}

// ApplyMembership implements raftnode.MembershipObserver. A member whose
// context holds no valid key gets none, and none of its changes apply.
func (m *machine) ApplyMembership(_ uint64, members []raftnode.Member) {
	keys := make(map[uint64]ed25519.PublicKey, len(members))
	names := make(map[uint64]string, len(members))
	for _, mem := range members {
		mi, err := decodeMemberInfo(mem.Context)
		if err != nil {
			continue
		}
		names[mem.ID] = mi.Participant
		if len(mi.Key) == ed25519.PublicKeySize {
			keys[mem.ID] = mi.Key
		}
	}
	m.mu.Lock()
	m.keys, m.names = keys, names
	close(m.keysChanged)
	m.keysChanged = make(chan struct{})
	m.mu.Unlock()
}

// memberKey returns member id's key (nil if none is known yet) and a
// channel closed at the next change of the member table.
func (m *machine) memberKey(id uint64) (ed25519.PublicKey, <-chan struct{}) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.keys[id], m.keysChanged
}

// participant names the member behind a change's proposer (its raft id),
// as of the entry being applied: reducers see who really proposed an action.
func (m *machine) participant(proposer string) string {
	id, err := strconv.ParseUint(proposer, 10, 64)
	if err != nil {
		return ""
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.names[id]
}

// Apply applies a change and extends the chain of applied entries
// (fork.go) with it, whatever the change's outcome.
func (m *machine) Apply(index uint64, data []byte) any {
	m.mu.Lock()
	m.chain.extend(index, data)
	m.mu.Unlock()
	return m.app.Apply(index, data)
}

// chainHead returns where this member's chain of applied entries stands.
func (m *machine) chainHead() chainMark {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.chain.head
}

// chainAt returns the chain's digest up to index, if still remembered.
func (m *machine) chainAt(index uint64) ([32]byte, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.chain.at(index)
}

// snapshotHeader is the JSON head of a room snapshot: the room's meta and
// where the chain of applied entries stands.
type snapshotHeader struct {
	roomMeta
	ChainIndex  uint64 `json:"chainIndex,omitempty"`
	ChainDigest []byte `json:"chainDigest,omitempty"`
}

func (m *machine) Snapshot() ([]byte, error) {
	m.mu.RLock()
	meta, err := json.Marshal(snapshotHeader{roomMeta: m.meta, ChainIndex: m.chain.head.index, ChainDigest: m.chain.head.digest[:]})
	m.mu.RUnlock()
	if err != nil {
		return nil, err
	}
	app, err := m.app.Snapshot()
	if err != nil {
		return nil, err
	}
	buf := binary.BigEndian.AppendUint32(make([]byte, 0, 4+len(meta)+len(app)), uint32(len(meta)))
	return append(append(buf, meta...), app...), nil
}

func (m *machine) Restore(snapshot []byte) error {
	if len(snapshot) < 4 {
		return fmt.Errorf("room snapshot: %d bytes", len(snapshot))
	}
	n := binary.BigEndian.Uint32(snapshot)
	if uint64(n) > uint64(len(snapshot)-4) {
		return fmt.Errorf("room snapshot: meta length %d beyond end", n)
	}
	var head snapshotHeader
	if err := json.Unmarshal(snapshot[4:4+n], &head); err != nil {
		return fmt.Errorf("room snapshot: %w", err)
	}
	mark := chainMark{index: head.ChainIndex}
	if copy(mark.digest[:], head.ChainDigest) != len(mark.digest) && head.ChainIndex != 0 {
		return fmt.Errorf("room snapshot: chain digest of %d bytes", len(head.ChainDigest))
	}
	if err := m.app.Restore(snapshot[4+n:]); err != nil {
		return err
	}
	m.mu.Lock()
	m.meta = head.roomMeta
	m.chain.reset(mark)
	m.mu.Unlock()
	return nil
}

func (m *machine) roomMeta() roomMeta {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.meta
}

func (m *machine) setRoomMeta(meta roomMeta) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.meta = meta
}
