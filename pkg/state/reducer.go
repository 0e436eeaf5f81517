package state

import (
	"encoding/json"
	"fmt"
)

// Reader gives a reducer read access to the current document. A read costs
// O(size of the value read): read the parts you need, not the whole.
type Reader interface {
	// Get returns the JSON of the value at pointer ("" = whole document).
	// Errors wrap ErrMalformed (bad pointer) or ErrNotFound.
	Get(pointer string) (json.RawMessage, error)
	// Decode unmarshals the value at pointer into v, like json.Unmarshal.
	Decode(pointer string, v any) error
}

// ActionContext tells a reducer which change it is reducing.
type ActionContext struct {
	Proposer string // who proposed the action (a raft id in a room)
	// Participant is the proposer's participant id, as the machine's Namer
	// knows it at that point of the log; "" without a Namer.
	Participant string
	Seq         uint64 // the proposer's sequence number for it
	Index       uint64 // raft index of the entry
	Version     uint64 // document version before the action
}

// Reducer turns a named action into the patch that carries it out. It must
// be deterministic and pure: the same document, payload and context give the
// same patch (or the same error text) on every member. So: no clocks, no
// randomness (derive it from ctx if needed), no map iteration order, no I/O,
// no state kept between calls, and no reading of the Machine itself (use
// doc). A returned error rejects the action with ErrReducer; a panic is
// recovered and rejects it the same way.
type Reducer interface {
	Reduce(doc Reader, payload json.RawMessage, ctx ActionContext) (Patch, error)
}

// ReducerFunc adapts a function to Reducer.
type ReducerFunc func(doc Reader, payload json.RawMessage, ctx ActionContext) (Patch, error)

// Reduce calls f.
func (f ReducerFunc) Reduce(doc Reader, payload json.RawMessage, ctx ActionContext) (Patch, error) {
	return f(doc, payload, ctx)
}

// docReader reads the document without locking: it is only handed to
// reducers, which run inside Apply with the write lock held.
type docReader struct{ m *Machine }

func (r docReader) Get(pointer string) (json.RawMessage, error) { return get(r.m.doc, pointer) }

func (r docReader) Decode(pointer string, v any) error {
	raw, err := r.Get(pointer)
	if err != nil {
		return err
	}
	return json.Unmarshal(raw, v)
}

// reduce runs the action's reducer and checks what it returns.
func (m *Machine) reduce(a *Action, ctx ActionContext) (p Patch, err error) {
	r, ok := m.reducers[a.Name]
	if !ok {
		return nil, fmt.Errorf("action %s: %w", short(a.Name), ErrUnknownAction)
	}
	defer func() {
		if v := recover(); v != nil {
			p, err = nil, fmt.Errorf("action %s: %w: panic: %v", short(a.Name), ErrReducer, v)
		}
	}()
	p, err = r.Reduce(docReader{m}, a.Payload, ctx)
	if err != nil {
		return nil, fmt.Errorf("action %s: %w: %v", short(a.Name), ErrReducer, err)
	}
	if n := patchSize(p); n > MaxChangeSize {
		return nil, fmt.Errorf("action %s: %w: reducer made a patch of about %d bytes, limit %d", short(a.Name), ErrTooLarge, n, MaxChangeSize)
	}
	if p == nil {
		p = Patch{}
	}
	return p, nil
}
