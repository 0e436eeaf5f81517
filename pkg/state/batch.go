package state

import (
	"encoding/binary"
	"fmt"
)

// A batch carries several changes in one raft entry, so that a member with
// many updates in flight commits them together (group commit) while each
// keeps its own result and its place in its proposer's sequence. Format 2:
//
//	[2] then, per change, [uvarint length][an encoded change (format 1)]
const batchFormat byte = 2

// Batch limits.
const (
	// MaxBatchChanges bounds the changes in one batch.
	MaxBatchChanges = 1024
	// MaxBatchSize bounds an encoded batch.
	MaxBatchSize = 4 << 20
)

// EncodeBatch encodes changes, in order, for one raft entry. Each is
// validated as by EncodeChange.
func EncodeBatch(changes []Change) ([]byte, error) {
	if len(changes) == 0 || len(changes) > MaxBatchChanges {
		return nil, fmt.Errorf("encode batch: %w: %d changes (1 to %d)", ErrMalformed, len(changes), MaxBatchChanges)
	}
	b := []byte{batchFormat}
	for i, c := range changes {
		enc, err := EncodeChange(c)
		if err != nil {
			return nil, fmt.Errorf("encode batch: change %d: %w", i, err)
		}
		b = binary.AppendUvarint(b, uint64(len(enc)))
		b = append(b, enc...)
		if len(b) > MaxBatchSize {
			return nil, fmt.Errorf("encode batch: %w: over %d bytes", ErrTooLarge, MaxBatchSize)
		}
	}
	return b, nil
}

// splitBatch returns the encoded changes of a batch.
func splitBatch(data []byte) ([][]byte, error) {
	if len(data) > MaxBatchSize {
		return nil, fmt.Errorf("decode batch: %w: %d bytes, limit %d", ErrTooLarge, len(data), MaxBatchSize)
	}
	var parts [][]byte
	rest := data[1:]
	for len(rest) > 0 {
		n, k := binary.Uvarint(rest)
		if k <= 0 || n == 0 || n > uint64(len(rest)-k) {
			return nil, fmt.Errorf("decode batch: %w: bad length of change %d", ErrMalformed, len(parts))
		}
		parts = append(parts, rest[k:k+int(n)])
		rest = rest[k+int(n):]
		if len(parts) > MaxBatchChanges {
			return nil, fmt.Errorf("decode batch: %w: more than %d changes", ErrMalformed, MaxBatchChanges)
		}
	}
	if len(parts) == 0 {
		return nil, fmt.Errorf("decode batch: %w: empty", ErrMalformed)
	}
	return parts, nil
}

// ApplyBatch applies a batch entry: each change in order, as ApplyEntry
// would, with one Result per change (and one OnApply call per change, all
// with the entry's index). A batch whose framing is malformed is rejected
// whole with a single Result.
func (m *Machine) ApplyBatch(index uint64, data []byte) []Result {
	parts, err := splitBatch(data)
	if err != nil {
		m.mu.Lock()
		m.index = index
		r := Result{Version: m.version, Err: canonical(err)}
		m.mu.Unlock()
		m.notify(Applied{Index: index, Result: r})
		return []Result{r}
	}
	results := make([]Result, len(parts))
	seqs := make([]Change, len(parts))
	for i, part := range parts {
		results[i], seqs[i] = m.applyOneChange(index, part)
	}
	m.rememberBatch(seqs, results)
	return results
}

// rememberBatch records, for each proposer with several changes in the
// batch, all their results (see session).
func (m *Machine) rememberBatch(changes []Change, results []Result) {
	m.mu.Lock()
	defer m.mu.Unlock()
	byProposer := map[string][]seqResult{}
	for i, c := range changes {
		if c.Proposer != "" {
			byProposer[c.Proposer] = append(byProposer[c.Proposer], seqResult{c.Seq, results[i]})
		}
	}
	for p, list := range byProposer {
		if s, ok := m.sessions[p]; ok && len(list) > 1 {
			s.batch = list
			m.sessions[p] = s
		}
	}
}
