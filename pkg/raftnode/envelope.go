package raftnode

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"
)

// Entry and snapshot envelopes: what raftnode wraps around the state
// machine's bytes.
//
// An entry is [version=1][request id: 8 bytes big-endian][payload]. The
// request id lets the proposing member find the caller waiting for the
// entry; other members ignore it.
//
// A snapshot is [version=1][meta length: 4 bytes][meta JSON][state machine
// snapshot]. The meta part is raftnode's own replicated state: the member
// table, the removed ids and the next free raft id.

const (
	entryVersion    = 1
	entryHeaderSize = 1 + 8
	snapshotVersion = 1
)

func encodeEntry(requestID uint64, payload []byte) []byte {
	buf := make([]byte, entryHeaderSize+len(payload))
	buf[0] = entryVersion
	binary.BigEndian.PutUint64(buf[1:], requestID)
	copy(buf[entryHeaderSize:], payload)
	return buf
}

func decodeEntry(data []byte) (requestID uint64, payload []byte, err error) {
	if len(data) < entryHeaderSize {
		return 0, nil, fmt.Errorf("raftnode: entry of %d bytes is shorter than its header", len(data))
	}
	if data[0] != entryVersion {
		return 0, nil, fmt.Errorf("raftnode: unknown entry version %d", data[0])
	}
	return binary.BigEndian.Uint64(data[1:]), data[entryHeaderSize:], nil
}

// Member is one entry of the replicated member table.
type Member struct {
	ID uint64 `json:"id"`
	// Context is the opaque data given when the member was added (the room
	// stores the participant's identity there).
	Context []byte `json:"context,omitempty"`
	Learner bool   `json:"learner,omitempty"`
}

// membership is the replicated part of raftnode's own state, changed only by
// applied conf changes.
type membership struct {
	Members map[uint64]*Member `json:"members"`
	Removed []uint64           `json:"removed,omitempty"` // sorted
	NextID  uint64             `json:"nextID"`
}

func newMembership() *membership {
	return &membership{Members: map[uint64]*Member{}, NextID: 1}
}

func (m *membership) isRemoved(id uint64) bool {
	_, found := slices.BinarySearch(m.Removed, id)
	return found
}

func (m *membership) noteID(id uint64) {
	if id >= m.NextID {
		m.NextID = id + 1
	}
}

func (m *membership) voters() int {
	n := 0
	for _, mem := range m.Members {
		if !mem.Learner {
			n++
		}
	}
	return n
}

func (m *membership) remove(id uint64) {
	delete(m.Members, id)
	if i, found := slices.BinarySearch(m.Removed, id); !found {
		m.Removed = slices.Insert(m.Removed, i, id)
	}
	m.noteID(id)
}

func (m *membership) clone() *membership {
	c := &membership{Members: make(map[uint64]*Member, len(m.Members)), Removed: slices.Clone(m.Removed), NextID: m.NextID}
	for id, mem := range m.Members {
		cp := *mem
		c.Members[id] = &cp
	}
	return c
}

func encodeSnapshot(meta *membership, app []byte) ([]byte, error) {
	metaJSON, err := json.Marshal(meta)
	if err != nil {
		return nil, err
	}
	buf := make([]byte, 0, 5+len(metaJSON)+len(app))
	buf = append(buf, snapshotVersion)
	buf = binary.BigEndian.AppendUint32(buf, uint32(len(metaJSON)))
	buf = append(buf, metaJSON...)
	return append(buf, app...), nil
}

func decodeSnapshot(data []byte) (*membership, []byte, error) {
	if len(data) < 5 {
		return nil, nil, fmt.Errorf("%w: %d bytes", ErrCorruptSnapshot, len(data))
	}
	if data[0] != snapshotVersion {
		return nil, nil, fmt.Errorf("%w: unknown version %d", ErrCorruptSnapshot, data[0])
	}
	n := binary.BigEndian.Uint32(data[1:5])
	if uint64(n) > uint64(len(data)-5) {
		return nil, nil, fmt.Errorf("%w: meta length %d beyond end", ErrCorruptSnapshot, n)
	}
	meta := newMembership()
	if err := json.Unmarshal(data[5:5+n], meta); err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrCorruptSnapshot, err)
	}
	if meta.Members == nil {
		meta.Members = map[uint64]*Member{}
	}
	for id, m := range meta.Members {
		if m == nil || m.ID != id || id == 0 {
			return nil, nil, fmt.Errorf("%w: bad member entry %d", ErrCorruptSnapshot, id)
		}
	}
	if !slices.IsSorted(meta.Removed) {
		return nil, nil, fmt.Errorf("%w: removed ids not sorted", ErrCorruptSnapshot)
	}
	return meta, data[5+n:], nil
}
