package mesh

import "fmt"

// Defaults of the reassembly limits; see Config.
const (
	DefaultMaxFrameSize      = 64 << 20
	DefaultMaxPendingFrames  = 16
	defaultInitialReassembly = 1 << 20
)

// partial is a frame whose chunks are still arriving.
type partial struct {
	typ   FrameType
	total uint32 // announced length of the whole payload
	next  uint32 // index of the chunk expected next
	buf   []byte
}

// reassembler rebuilds chunked frames from the ordered reliable channel.
// Chunks of different frames may interleave (a small raft frame can pass a big
// snapshot), but the chunks of one frame must come in order, since the channel
// is ordered. It is used by one goroutine only.
type reassembler struct {
	maxFrame   int
	maxPending int
	pending    map[uint32]*partial
}

func newReassembler(maxFrame, maxPending int) *reassembler {
	return &reassembler{maxFrame: maxFrame, maxPending: maxPending, pending: map[uint32]*partial{}}
}

// add takes one decoded message. It returns the completed frame's type and
// payload with done true when m completes a frame (at once for a message that
// is not chunked). On error the frame m belongs to is discarded; the
// reassembler stays usable for other frames.
func (r *reassembler) add(m message) (t FrameType, payload []byte, done bool, err error) {
	if !m.chunked {
		return m.typ, m.payload, true, nil
	}
	p, err := r.partialFor(m)
	if err != nil {
		return 0, nil, false, err
	}
	if err := r.check(p, m); err != nil {
		delete(r.pending, m.id)
		return 0, nil, false, err
	}
	p.buf = append(p.buf, m.payload...)
	p.next++
	if len(p.buf) < int(p.total) {
		return 0, nil, false, nil
	}
	delete(r.pending, m.id)
	return p.typ, p.buf, true, nil
}

// partialFor finds the frame m continues, or starts one if m is its first chunk.
func (r *reassembler) partialFor(m message) (*partial, error) {
	if p, ok := r.pending[m.id]; ok {
		return p, nil
	}
	if m.index != 0 {
		return nil, fmt.Errorf("%w: frame %d starts at chunk %d", ErrChunkSequence, m.id, m.index)
	}
	if int64(m.total) > int64(r.maxFrame) {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrOversized, m.total, r.maxFrame)
	}
	if len(r.pending) >= r.maxPending {
		return nil, fmt.Errorf("%w: limit %d", ErrTooManyPending, r.maxPending)
	}
	// Grow with the data actually received rather than trusting m.total, so
	// a peer announcing huge frames cannot make us allocate them up front.
	p := &partial{typ: m.typ, total: m.total, buf: make([]byte, 0, min(int(m.total), defaultInitialReassembly))}
	r.pending[m.id] = p
	return p, nil
}

// check validates that m is the next chunk of p.
func (r *reassembler) check(p *partial, m message) error {
	switch {
	case m.index != p.next:
		return fmt.Errorf("%w: frame %d got chunk %d, want %d", ErrChunkSequence, m.id, m.index, p.next)
	case m.typ != p.typ || m.total != p.total:
		return fmt.Errorf("%w: frame %d changed type or length", ErrChunkSequence, m.id)
	case len(p.buf)+len(m.payload) > int(p.total):
		return fmt.Errorf("%w: frame %d overruns its length %d", ErrChunkSequence, m.id, p.total)
	}
	return nil
}
