package state

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// A batch carries several changes in one raft entry, so that a member with
// many updates in flight commits them together (group commit) while each
// keeps its own result and its place in its proposer's sequence. Format 2:
//
//	[2] then, per change, [uvarint length][an encoded change (format 1)]
const batchFormat byte = 2

// signedBatchFormat (4) is a batch of one proposer's changes under one
// signature, which costs its proposer one signature and every member one
// check per entry instead of one per change:
//
//	[4][uvarint signature length][signature][a batch (format 2) of unsigned changes]
//
// The signature covers the whole format-2 batch: every change decoded from
// it has that Signature, and the batch as its SignedBytes.
const signedBatchFormat byte = 4

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

// EncodeSignedBatch encodes changes, in order and all from one proposer, as
// one entry under one signature: sign receives the bytes to sign (the
// changes as an unsigned batch) and returns the signature. The changes' own
// Signatures are ignored.
func EncodeSignedBatch(changes []Change, sign func(signed []byte) ([]byte, error)) ([]byte, error) {
	unsigned := make([]Change, len(changes))
	for i, c := range changes {
		if c.Proposer != changes[0].Proposer {
			return nil, fmt.Errorf("encode signed batch: %w: changes of %s and %s", ErrMalformed, short(changes[0].Proposer), short(c.Proposer))
		}
		c.Signature = nil
		unsigned[i] = c
	}
	body, err := EncodeBatch(unsigned)
	if err != nil {
		return nil, err
	}
	sig, err := sign(body)
	switch {
	case err != nil:
		return nil, fmt.Errorf("encode signed batch: %w", err)
	case len(sig) == 0 || len(sig) > MaxSignatureLen:
		return nil, fmt.Errorf("encode signed batch: %w: signature of %d bytes (1 to %d)", ErrMalformed, len(sig), MaxSignatureLen)
	}
	b := binary.AppendUvarint([]byte{signedBatchFormat}, uint64(len(sig)))
	b = append(append(b, sig...), body...)
	if len(b) > MaxBatchSize {
		return nil, fmt.Errorf("encode signed batch: %w: over %d bytes", ErrTooLarge, MaxBatchSize)
	}
	return b, nil
}

// signedBatch is a decoded signed batch's signature and signed bytes, and
// the Verifier's verdicts on them so far, by proposer.
type signedBatch struct {
	sig, body []byte
	verdicts  map[string]error
}

// verdict verifies c, which came in the batch, once per proposer.
func (sb *signedBatch) verdict(c Change, verify Verifier) error {
	if err, ok := sb.verdicts[c.Proposer]; ok {
		return err
	}
	err := verify(c)
	if sb.verdicts == nil {
		sb.verdicts = map[string]error{}
	}
	sb.verdicts[c.Proposer] = err
	return err
}

// openSignedBatch splits a signed batch into its signature and its format-2
// batch, copied so that changes may keep them.
func openSignedBatch(data []byte) (signedBatch, error) {
	if len(data) > MaxBatchSize {
		return signedBatch{}, fmt.Errorf("decode batch: %w: %d bytes, limit %d", ErrTooLarge, len(data), MaxBatchSize)
	}
	n, k := binary.Uvarint(data[1:])
	if k <= 0 || n == 0 || n > MaxSignatureLen || n >= uint64(len(data)-1-k) {
		return signedBatch{}, fmt.Errorf("decode batch: %w: bad signature length", ErrMalformed)
	}
	own := bytes.Clone(data[1+k:])
	sb := signedBatch{sig: own[:n:n], body: own[n:]}
	if sb.body[0] != batchFormat {
		return signedBatch{}, fmt.Errorf("decode batch: %w: a signed batch of format %d", ErrVersion, sb.body[0])
	}
	return sb, nil
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

// ApplyBatch applies a batch entry, signed or not: each change in order, as
// ApplyEntry would, with one Result per change (and one OnApply call per
// change, all with the entry's index). A batch whose framing is malformed,
// or a signed batch of several proposers or with signed changes inside, is
// rejected whole with a single Result. The signature of a signed batch is
// verified once, when the first of its changes that would apply needs it.
func (m *Machine) ApplyBatch(index uint64, data []byte) []Result {
	var signed *signedBatch
	if len(data) > 0 && data[0] == signedBatchFormat {
		sb, err := openSignedBatch(data)
		if err != nil {
			return m.rejectBatch(index, err)
		}
		signed, data = &sb, sb.body
	}
	parts, err := splitBatch(data)
	if err == nil && signed != nil {
		err = checkSignedParts(parts)
	}
	if err != nil {
		return m.rejectBatch(index, err)
	}
	results := make([]Result, len(parts))
	seqs := make([]Change, len(parts))
	for i, part := range parts {
		results[i], seqs[i] = m.applyOneChange(index, part, signed)
	}
	m.rememberBatch(seqs, results)
	return results
}

// checkSignedParts: the changes of a signed batch are unsigned (the batch's
// signature is theirs). A change naming another proposer than the signer
// fails verification on its own.
func checkSignedParts(parts [][]byte) error {
	for i, part := range parts {
		if part[0] != changeFormat {
			return fmt.Errorf("decode batch: %w: change %d of a signed batch is in format %d", ErrMalformed, i, part[0])
		}
	}
	return nil
}

// rejectBatch answers a batch that cannot be split into changes.
func (m *Machine) rejectBatch(index uint64, err error) []Result {
	m.mu.Lock()
	m.index = index
	r := Result{Version: m.version, Err: canonical(err)}
	m.mu.Unlock()
	m.notify(Applied{Index: index, Result: r})
	return []Result{r}
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
