package room

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"sync"

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
type machine struct {
	mu   sync.RWMutex
	meta roomMeta
	app  *state.Machine
}

func newMachine(meta roomMeta, app *state.Machine) *machine {
	return &machine{meta: meta, app: app}
}

func (m *machine) Apply(index uint64, data []byte) any { return m.app.Apply(index, data) }

func (m *machine) Snapshot() ([]byte, error) {
	m.mu.RLock()
	meta, err := json.Marshal(m.meta)
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
	var meta roomMeta
	if err := json.Unmarshal(snapshot[4:4+n], &meta); err != nil {
		return fmt.Errorf("room snapshot: %w", err)
	}
	if err := m.app.Restore(snapshot[4+n:]); err != nil {
		return err
	}
	m.mu.Lock()
	m.meta = meta
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
