package state

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
)

// Result is what applying one change gave, the same on every member.
type Result struct {
	// Version is the document version after the change: the number of
	// changes applied so far. A rejected change leaves it unchanged.
	Version uint64
	// Err is nil when the change was applied, else why it was rejected
	// (ErrConflict, ErrMalformed, ErrTooLarge, ErrUnknownAction, ErrReducer,
	// ErrStale, ErrVersion, ErrBadSignature; compare with errors.Is). Its
	// text is identical on every member.
	Err error
}

// Applied describes one Apply (or Restore) to OnApply hooks.
type Applied struct {
	// Index is the raft index of the entry (or of the snapshot).
	Index uint64
	// Change is the decoded change; zero if the entry did not decode.
	Change Change
	// Result is what Apply returned.
	Result Result
	// Changed is true when the document changed: the change was applied
	// now, not rejected and not a duplicate.
	Changed bool
	// Patch is the patch that was applied when Changed: the change's own,
	// or the one its action's reducer made. Replaying these patches in order
	// on a copy of the document keeps the copy equal to it, at the cost of
	// the changes. Hooks must not modify it.
	Patch Patch
	// Restored is true when a snapshot replaced the whole document.
	Restored bool
	// Duplicate is true when the change was a retry (or an older change)
	// answered from the exactly-once table, without being run again.
	Duplicate bool
}

// session is what the machine remembers of one proposer for exactly-once:
// its last change's seq and result, and, when that change came in a batch,
// the results of all of the proposer's changes in that batch, so that a
// retried batch gets every one of its answers back.
type session struct {
	seq    uint64
	result Result
	batch  []seqResult
}

type seqResult struct {
	seq    uint64
	result Result
}

// remembered returns the remembered result of seq, if there is one.
func (s session) remembered(seq uint64) (Result, bool) {
	if seq == s.seq {
		return s.result, true
	}
	for _, b := range s.batch {
		if b.seq == seq {
			return b.result, true
		}
	}
	return Result{}, false
}

// Machine is a room's replicated JSON document. Apply, Snapshot and Restore
// are meant for one goroutine (raft's apply loop); reads (Get, Decode, JSON,
// Version, Index) and Register/OnApply are safe from any goroutine.
type Machine struct {
	mu       sync.RWMutex
	doc      any
	version  uint64
	index    uint64
	sessions map[string]session
	reducers map[string]Reducer
	verify   Verifier
	namer    func(proposer string) string
	cache    atomic.Pointer[[]byte] // JSON of doc, nil when stale

	hookMu sync.Mutex                  // serializes changes to hooks
	hooks  atomic.Pointer[[]applyHook] // copied on change: notify reads without locking
	nextID int
}

type applyHook struct {
	id int
	fn func(Applied)
}

// New returns a machine whose document is initial (nil or empty means {}),
// at version 0 and raft index 0.
func New(initial json.RawMessage) (*Machine, error) {
	var doc any = map[string]any{}
	if len(initial) > 0 {
		v, err := parseValue(initial, MaxDepth)
		if err != nil {
			return nil, fmt.Errorf("initial state: %w", err)
		}
		doc = v
	}
	return &Machine{
		doc:      doc,
		sessions: map[string]session{},
		reducers: map[string]Reducer{},
	}, nil
}

// Register makes r handle actions called name (nil r removes it). Every
// member must register the same reducers before applying entries that use
// them, or members diverge.
func (m *Machine) Register(name string, r Reducer) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if r == nil {
		delete(m.reducers, name)
		return
	}
	m.reducers[name] = r
}

// Verifier decides whether a decoded change may be applied at all, before
// the document sees it: typically it checks the
// change's Signature against the key of its Proposer. It runs on every
// member for every change in the same order, so it must be deterministic
// (decided by the change and by state replicated in the same log order),
// and its error text must be the same on every member. For the changes of a
// signed batch it is asked once per proposer, so its verdict must depend on
// the change's Proposer, Signature and SignedBytes only (which hold the
// sequence numbers), not on Seq or the body alone. It is called with the
// machine's lock held: it must not call the Machine.
type Verifier func(Change) error

// SetVerifier makes the machine check with v every change it would apply
// (nil: no check); a duplicate or older change is answered from the
// exactly-once table without it, which changes nothing. A refused change is
// rejected with ErrBadSignature (wrapping v's error) and, unlike other
// rejections, is not remembered for the proposer it names, so a forger
// cannot use up another member's sequence numbers. Set it before the first
// Apply, the same on every member.
func (m *Machine) SetVerifier(v Verifier) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.verify = v
}

// SetNamer makes the machine give reducers the participant id behind each
// change's proposer (ActionContext.Participant), as namer tells it. namer
// runs on the applying goroutine and must answer the same on every member
// at the same point of the log (a room derives it from the replicated
// member table). Set it before the first Apply.
func (m *Machine) SetNamer(namer func(proposer string) string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.namer = namer
}

// OnApply calls fn after every Apply and Restore, on the applying goroutine,
// after the machine's lock is released (fn may read the machine). fn must be
// quick: it holds up the apply loop. The returned func removes fn.
func (m *Machine) OnApply(fn func(Applied)) (remove func()) {
	m.hookMu.Lock()
	defer m.hookMu.Unlock()
	id := m.nextID
	m.nextID++
	m.setHooks(func(hs []applyHook) []applyHook { return append(hs, applyHook{id, fn}) })
	return func() {
		m.hookMu.Lock()
		defer m.hookMu.Unlock()
		m.setHooks(func(hs []applyHook) []applyHook {
			return slices.DeleteFunc(hs, func(h applyHook) bool { return h.id == id })
		})
	}
}

// setHooks replaces the hook list with edit applied to a copy of it.
func (m *Machine) setHooks(edit func([]applyHook) []applyHook) {
	var hs []applyHook
	if p := m.hooks.Load(); p != nil {
		hs = slices.Clone(*p)
	}
	hs = edit(hs)
	m.hooks.Store(&hs)
}

func (m *Machine) notify(a Applied) {
	if p := m.hooks.Load(); p != nil {
		for _, h := range *p {
			h.fn(a)
		}
	}
}

// Apply applies the encoded change data committed at raft index and returns
// its Result. It never panics on bad data: a rejected change is a Result
// with Err set and the document untouched. A change whose Seq is not above
// its proposer's last applied one is not applied again: for the same Seq
// the remembered Result is returned, for an older one ErrStale. Empty data
// (raft's own empty entries, which no change encodes to) is a no-op: no
// error, no OnApply call.
//
// A batch entry (EncodeBatch, EncodeSignedBatch) returns a []Result
// instead, one per change.
func (m *Machine) Apply(index uint64, data []byte) any {
	if len(data) > 0 && (data[0] == batchFormat || data[0] == signedBatchFormat) {
		return m.ApplyBatch(index, data)
	}
	return m.ApplyEntry(index, data)
}

// ApplyEntry is Apply with a typed result.
func (m *Machine) ApplyEntry(index uint64, data []byte) Result {
	if len(data) == 0 {
		m.mu.Lock()
		defer m.mu.Unlock()
		m.index = index
		return Result{Version: m.version}
	}
	return m.applyOne(index, data)
}

func (m *Machine) applyOne(index uint64, data []byte) Result {
	r, _ := m.applyOneChange(index, data, nil)
	return r
}

// applyOneChange applies one encoded change and returns its result and the
// change, or a zero Change when the Verifier refused it: nothing may be
// remembered of it for the proposer it names.
//
// signed is the signed batch the change came in, if any: the change carries
// the batch's signature.
func (m *Machine) applyOneChange(index uint64, data []byte, signed *signedBatch) (Result, Change) {
	c, decodeErr := decodeChange(data)
	if signed != nil && c.Proposer != "" {
		c.Signature, c.signed = signed.sig, signed.body
	}
	m.mu.Lock()
	a, refused := m.apply(index, c, decodeErr, signed)
	m.mu.Unlock()
	m.notify(a)
	if refused {
		c = Change{}
	}
	return a.Result, c
}

// apply runs with m.mu held. refused reports a change the Verifier refused.
func (m *Machine) apply(index uint64, c Change, decodeErr error, signed *signedBatch) (a Applied, refused bool) {
	m.index = index
	a = Applied{Index: index, Change: c}
	if c.Proposer == "" { // undecodable: nobody to remember it for
		a.Result = Result{Version: m.version, Err: canonical(decodeErr)}
		return a, false
	}
	last, ok := m.sessions[c.Proposer]
	if res, again := last.remembered(c.Seq); ok && again {
		a.Result, a.Duplicate = res, true
		return a, false
	}
	if ok && c.Seq < last.seq {
		err := fmt.Errorf("change %s#%d: %w: already applied up to #%d", short(c.Proposer), c.Seq, ErrStale, last.seq)
		a.Result, a.Duplicate = Result{Version: m.version, Err: canonical(err)}, true
		return a, false
	}
	// Only a change that would apply is verified: the answers above change
	// nothing, and retries of an entry cost no signature check.
	if err := m.verified(c, signed); err != nil {
		a.Result = Result{Version: m.version, Err: canonical(err)}
		return a, true
	}
	err := decodeErr
	if err == nil {
		a.Patch, err = m.run(index, c)
	}
	if err == nil {
		m.version++
		m.cache.Store(nil)
		a.Changed = true
	} else {
		a.Patch = nil
	}
	a.Result = Result{Version: m.version, Err: canonical(err)}
	m.sessions[c.Proposer] = session{seq: c.Seq, result: a.Result}
	return a, false
}

// verified runs the Verifier on c (once per proposer for the changes of a
// signed batch); its refusal becomes ErrBadSignature.
func (m *Machine) verified(c Change, signed *signedBatch) error {
	if m.verify == nil {
		return nil
	}
	var err error
	if signed == nil {
		err = m.verify(c)
	} else {
		err = signed.verdict(c, m.verify)
	}
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrBadSignature):
		return fmt.Errorf("change %s#%d: %w", short(c.Proposer), c.Seq, err)
	default:
		return fmt.Errorf("change %s#%d: %w: %w", short(c.Proposer), c.Seq, ErrBadSignature, err)
	}
}

// run applies c's patch, or its action's, and returns the patch applied.
func (m *Machine) run(index uint64, c Change) (Patch, error) {
	if c.Action == nil {
		return c.Patch, m.patch(c.Patch)
	}
	ctx := ActionContext{Proposer: c.Proposer, Seq: c.Seq, Index: index, Version: m.version}
	if m.namer != nil {
		ctx.Participant = m.namer(c.Proposer)
	}
	p, err := m.reduce(c.Action, ctx)
	if err != nil {
		return nil, err
	}
	if err := m.patch(p); err != nil {
		return nil, fmt.Errorf("action %s: %w", short(c.Action.Name), err)
	}
	return p, nil
}

// patch applies p to the document, all ops or none.
func (m *Machine) patch(p Patch) error {
	ops, err := compile(p)
	if err != nil {
		return err
	}
	t := txn{root: &m.doc, copier: copier{left: MaxCopyValues}}
	return t.run(ops)
}

// Version returns the number of changes applied so far.
func (m *Machine) Version() uint64 {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.version
}

// Index returns the raft index of the last entry applied (or restored).
func (m *Machine) Index() uint64 {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.index
}

// Get returns the JSON of the value at pointer (RFC 6901; "" is the whole
// document). Errors wrap ErrMalformed (bad pointer) or ErrNotFound.
func (m *Machine) Get(pointer string) (json.RawMessage, error) {
	if pointer == "" {
		return m.JSON()
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	return get(m.doc, pointer)
}

// Decode unmarshals the value at pointer into v, like json.Unmarshal.
func (m *Machine) Decode(pointer string, v any) error {
	raw, err := m.Get(pointer)
	if err != nil {
		return err
	}
	return json.Unmarshal(raw, v)
}

// JSON returns the whole document: sorted keys, numbers as written, no
// insignificant space; the same bytes on every member at the same version.
// It is serialized once per version and then copied.
func (m *Machine) JSON() ([]byte, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	b := m.cache.Load()
	if b == nil {
		// Apply holds the write lock to change doc and clear the cache, so
		// under the read lock this is the current document's text.
		s := appendJSON(nil, m.doc)
		b = &s
		m.cache.Store(b)
	}
	return append([]byte(nil), *b...), nil
}

func get(doc any, p string) (json.RawMessage, error) {
	ptr, err := parsePointer(p)
	if err != nil {
		return nil, err
	}
	v, err := lookup(doc, ptr)
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", short(p), err)
	}
	return appendJSON(nil, v), nil
}
