package raftnode

import (
	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
)

// Storage is raft's stable storage: the log, the hard state and the latest
// snapshot. Core writes to it in the Ready loop before it sends any message
// that depends on the write, so an implementation that persists (IndexedDB,
// a file) makes the member crash-safe. Everything in Storage survives a
// restart of the Core that uses it.
type Storage interface {
	raft.Storage
	// Save persists, in this order, a snapshot (if not empty), the hard
	// state (if not empty) and log entries (possibly overwriting a
	// conflicting suffix).
	Save(hs *pb.HardState, entries []*pb.Entry, snap *pb.Snapshot) error
	// CreateSnapshot records a snapshot of the state machine at applied
	// index i, with the membership cs at that index.
	CreateSnapshot(i uint64, cs *pb.ConfState, data []byte) (*pb.Snapshot, error)
	// Compact discards log entries before index i.
	Compact(i uint64) error
}

// MemoryStorage is an in-memory Storage. It survives a restart of the Core
// (a new Core built on the same MemoryStorage) but not of the process.
type MemoryStorage struct {
	*raft.MemoryStorage
}

// NewMemoryStorage returns an empty MemoryStorage.
func NewMemoryStorage() *MemoryStorage {
	return &MemoryStorage{raft.NewMemoryStorage()}
}

// Save implements Storage.
func (s *MemoryStorage) Save(hs *pb.HardState, entries []*pb.Entry, snap *pb.Snapshot) error {
	if !raft.IsEmptySnap(snap) {
		if err := s.ApplySnapshot(snap); err != nil && err != raft.ErrSnapOutOfDate {
			return err
		}
	}
	if !raft.IsEmptyHardState(hs) {
		if err := s.SetHardState(hs); err != nil {
			return err
		}
	}
	if len(entries) > 0 {
		return s.Append(entries)
	}
	return nil
}

// Compact implements Storage; compacting at or below the current first
// index is not an error.
func (s *MemoryStorage) Compact(i uint64) error {
	if err := s.MemoryStorage.Compact(i); err != nil && err != raft.ErrCompacted {
		return err
	}
	return nil
}
