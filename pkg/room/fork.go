package room

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
)

// Fork detection. Signed elections keep anyone but an elected doorman from
// leading, but Raft trusts its leader: an elected doorman running a
// modified page could send members different entries at the same index,
// and they would apply different changes without knowing. So every member
// keeps a running digest of the entries it applied (its chain: SHA-256 of
// the previous digest, the index and the entry), carried in snapshots, and
// tells the members it is connected to where its chain stands. A member
// whose chain differs from a peer's at the same index reports ErrForked.
// This detects; it does not repair: which side is right cannot be told
// from two reports, and either the doorman or the reporting member lies.

// ErrForked: a member's digest of the changes applied up to an index
// differs from this member's: the room's log forked.
var ErrForked = errors.New("room: members applied different changes at the same index")

// chainWindow is how many recent chain positions a member remembers to
// compare with its peers'.
const chainWindow = 1024

// chainFrameSize is the size of a chain frame: the room's epoch, the index,
// then the digest. Raft indexes start over in a re-formed room, so only
// positions of the same epoch compare.
const chainFrameSize = 8 + 8 + sha256.Size

type chainMark struct {
	index  uint64
	digest [sha256.Size]byte
}

// chain is a member's running digest of applied entries and its recent
// positions.
type chain struct {
	head   chainMark
	recent [chainWindow]chainMark
}

// extend adds the entry applied at index.
func (c *chain) extend(index uint64, data []byte) {
	h := sha256.New()
	h.Write(c.head.digest[:])
	h.Write(binary.BigEndian.AppendUint64(nil, index))
	h.Write(data)
	c.head.index = index
	h.Sum(c.head.digest[:0])
	c.recent[index%chainWindow] = c.head
}

// at returns the digest up to index, if this member still remembers it.
func (c *chain) at(index uint64) ([sha256.Size]byte, bool) {
	m := c.recent[index%chainWindow]
	return m.digest, index != 0 && m.index == index
}

// reset starts over from a snapshot's position.
func (c *chain) reset(head chainMark) {
	*c = chain{head: head}
	if head.index != 0 {
		c.recent[head.index%chainWindow] = head
	}
}

// shareChain tells every member it is connected to where this member's
// chain stands. It runs in reconcile.
func (r *Room) shareChain() {
	head := r.sm.chainHead()
	if head.index == 0 {
		return
	}
	frame := binary.BigEndian.AppendUint64(nil, r.sm.roomMeta().Epoch)
	frame = binary.BigEndian.AppendUint64(frame, head.index)
	frame = append(frame, head.digest[:]...)
	for _, c := range r.Connections() {
		_ = c.Send(frameChain, frame)
	}
}

// onChainFrame compares a peer's chain position with this member's.
func (r *Room) onChainFrame(from uint64, payload []byte) {
	if len(payload) != chainFrameSize {
		r.misbehaved(from, "bad chain frame", fmt.Errorf("%d bytes, want %d", len(payload), chainFrameSize))
		return
	}
	epoch, index := binary.BigEndian.Uint64(payload), binary.BigEndian.Uint64(payload[8:])
	if epoch != r.sm.roomMeta().Epoch {
		return
	}
	ours, ok := r.sm.chainAt(index)
	if !ok {
		return
	}
	if [sha256.Size]byte(payload[16:]) == ours {
		r.log.Debug("room: chain agrees", "peer", from, "index", index)
		return
	}
	if !r.markOnce(r.forks, from) {
		return
	}
	err := fmt.Errorf("%w: member %d applied other changes up to index %d than this member: a doorman sent members different entries, or that member lies", ErrForked, from, index)
	r.log.Error("room: the log forked", "peer", from, "index", index)
	r.emit(Event{Type: EventError, Err: err})
}
