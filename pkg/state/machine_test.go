package state

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"strings"
	"sync"
	"testing"
)

func newMachine(t testing.TB, initial string) *Machine {
	t.Helper()
	m, err := New(json.RawMessage(initial))
	if err != nil {
		t.Fatalf("New(%s): %v", initial, err)
	}
	return m
}

func encode(t testing.TB, c Change) []byte {
	t.Helper()
	b, err := EncodeChange(c)
	if err != nil {
		t.Fatalf("EncodeChange(%+v): %v", c, err)
	}
	return b
}

func patchOf(t testing.TB, s string) Patch {
	t.Helper()
	p, err := ParsePatch([]byte(s))
	if err != nil {
		t.Fatalf("ParsePatch(%s): %v", s, err)
	}
	return p
}

func TestNewInitialState(t *testing.T) {
	for in, want := range map[string]string{"": `{}`, `{"b":1,"a":2}`: `{"a":2,"b":1}`, ` [1, 2.50] `: `[1,2.50]`} {
		if got := mustJSON(t, newMachine(t, in)); got != want {
			t.Errorf("New(%q).JSON() = %s, want %s", in, got, want)
		}
	}
	if m, err := New(nil); err != nil || mustJSON(t, m) != `{}` || m.Version() != 0 {
		t.Fatalf("New(nil) = %v", err)
	}
	for _, bad := range []string{`{`, `{} {}`, `nul`, strings.Repeat("[", MaxDepth+1) + strings.Repeat("]", MaxDepth+1)} {
		if _, err := New(json.RawMessage(bad)); err == nil {
			t.Errorf("New(%.20q) succeeded", bad)
		}
	}
}

// TestExactlyOnce: a retried change is applied once and answered with the
// first result; older ones are stale; skipped numbers are fine.
func TestExactlyOnce(t *testing.T) {
	m := newMachine(t, `{"n":0,"log":[]}`)
	var duplicates []uint64
	m.OnApply(func(a Applied) {
		if a.Duplicate {
			duplicates = append(duplicates, a.Change.Seq)
		}
	})
	inc := func(seq uint64) []byte {
		return encode(t, Change{Proposer: "alice", Seq: seq, Patch: patchOf(t, `[{"op":"add","path":"/log/-","value":1}]`)})
	}
	defer func() {
		if fmt.Sprint(duplicates) != "[1 3]" {
			t.Errorf("OnApply saw duplicates %v, want the retry of #1 and the stale #3", duplicates)
		}
	}()
	r1 := m.ApplyEntry(1, inc(1))
	if r1.Err != nil || r1.Version != 1 {
		t.Fatalf("first apply = %+v", r1)
	}
	if r := m.ApplyEntry(2, inc(1)); r != r1 {
		t.Fatalf("retry = %+v, want the remembered %+v", r, r1)
	}
	if r := m.ApplyEntry(3, inc(5)); r.Err != nil || r.Version != 2 {
		t.Fatalf("seq 5 after 1 = %+v", r)
	}
	r := m.ApplyEntry(4, inc(3))
	if !errors.Is(r.Err, ErrStale) || r.Version != 2 {
		t.Fatalf("seq 3 after 5 = %+v, want ErrStale at version 2", r)
	}
	// Another proposer has its own numbering.
	if r := m.ApplyEntry(5, encode(t, Change{Proposer: "bob", Seq: 1, Patch: Patch{}})); r.Err != nil || r.Version != 3 {
		t.Fatalf("bob #1 = %+v", r)
	}
	if got := mustJSON(t, m); got != `{"log":[1,1],"n":0}` {
		t.Fatalf("doc = %s", got)
	}
	if m.Version() != 3 || m.Index() != 5 {
		t.Fatalf("Version, Index = %d, %d", m.Version(), m.Index())
	}
}

// TestRejectionIsRemembered: a retried rejected change gets the same
// rejection even if it would now succeed.
func TestRejectionIsRemembered(t *testing.T) {
	m := newMachine(t, `{"seat":"bob"}`)
	take := encode(t, Change{Proposer: "alice", Seq: 1, Patch: patchOf(t,
		`[{"op":"test","path":"/seat","value":null},{"op":"replace","path":"/seat","value":"alice"}]`)})
	r1 := m.ApplyEntry(1, take)
	if !errors.Is(r1.Err, ErrConflict) || r1.Version != 0 {
		t.Fatalf("take a taken seat = %+v", r1)
	}
	m.ApplyEntry(2, encode(t, Change{Proposer: "bob", Seq: 1, Patch: patchOf(t, `[{"op":"replace","path":"/seat","value":null}]`)}))
	r2 := m.ApplyEntry(3, take)
	if r2.Err == nil || r2.Err.Error() != r1.Err.Error() || r2.Version != 0 {
		t.Fatalf("retry = %+v, want the remembered %+v", r2, r1)
	}
	if got := mustJSON(t, m); got != `{"seat":null}` {
		t.Fatalf("doc = %s", got)
	}
}

// TestMalformedEntries: undecodable entries are rejected, never panic, and
// leave no exactly-once record; a bad body with a good envelope is recorded.
func TestMalformedEntries(t *testing.T) {
	m := newMachine(t, `{}`)
	if r := m.ApplyEntry(1, nil); r != (Result{}) || m.Index() != 1 {
		t.Errorf("empty entry = %+v, index %d; want a no-op", r, m.Index())
	}
	for _, data := range [][]byte{{2, '{', '}'}, []byte("\x01{"), []byte("\x01[]"), []byte(`\x01{"seq":1}`),
		append([]byte{1}, make([]byte, MaxChangeSize)...)} {
		r := m.ApplyEntry(1, data)
		if r.Err == nil || r.Version != 0 {
			t.Errorf("Apply(%.20q) = %+v, want an error", data, r)
		}
	}
	bad := []byte("\x01" + `{"proposer":"p","seq":4,"patch":[{"op":"nope","path":""}]}`)
	r := m.ApplyEntry(2, bad)
	if !errors.Is(r.Err, ErrMalformed) {
		t.Fatalf("bad body = %+v", r)
	}
	good := encode(t, Change{Proposer: "p", Seq: 4, Patch: patchOf(t, `[{"op":"add","path":"/a","value":1}]`)})
	if r2 := m.ApplyEntry(3, good); r2.Err == nil || r2.Err.Error() != r.Err.Error() {
		t.Fatalf("seq 4 again = %+v, want the remembered rejection", r2)
	}
	if got := m.ApplyEntry(4, []byte{9}); !errors.Is(got.Err, ErrVersion) {
		t.Fatalf("unknown format = %+v", got)
	}
	if !errors.Is(m.ApplyEntry(5, append([]byte{1}, make([]byte, MaxChangeSize)...)).Err, ErrTooLarge) {
		t.Fatal("oversized entry not ErrTooLarge")
	}
	if mustJSON(t, m) != `{}` || m.Version() != 0 {
		t.Fatalf("document changed: %s", mustJSON(t, m))
	}
}

func TestApplyReturnsResultAsAny(t *testing.T) {
	m := newMachine(t, `{}`)
	var sm interface {
		Apply(uint64, []byte) any
		Snapshot() ([]byte, error)
		Restore([]byte) error
	} = m
	if r, ok := sm.Apply(1, encode(t, Change{Proposer: "a", Seq: 1, Patch: Patch{}})).(Result); !ok || r.Version != 1 {
		t.Fatalf("Apply = %#v", r)
	}
}

// TestReducers: actions run the registered reducer with the context and
// apply its patch atomically; errors and panics become typed results.
func TestReducers(t *testing.T) {
	m := newMachine(t, `{"turn":"alice","board":[]}`)
	var gotCtx ActionContext
	m.Register("move", ReducerFunc(func(doc Reader, payload json.RawMessage, ctx ActionContext) (Patch, error) {
		gotCtx = ctx
		var turn string
		if err := doc.Decode("/turn", &turn); err != nil {
			return nil, err
		}
		if turn != ctx.Proposer {
			return nil, fmt.Errorf("not your turn, %s", ctx.Proposer)
		}
		next := map[string]string{"alice": "bob", "bob": "alice"}[turn]
		return Patch{
			{Op: OpAdd, Path: "/board/-", Value: payload},
			{Op: OpReplace, Path: "/turn", Value: json.RawMessage(`"` + next + `"`)},
		}, nil
	}))
	m.Register("boom", ReducerFunc(func(Reader, json.RawMessage, ActionContext) (Patch, error) { panic("kaboom") }))
	m.Register("half", ReducerFunc(func(Reader, json.RawMessage, ActionContext) (Patch, error) {
		return Patch{{Op: OpAdd, Path: "/x", Value: json.RawMessage(`1`)}, {Op: OpRemove, Path: "/nope"}}, nil
	}))
	act := func(who string, seq uint64, name, payload string) Result {
		return m.ApplyEntry(seq+10, encode(t, Change{Proposer: who, Seq: seq, Action: &Action{Name: name, Payload: json.RawMessage(payload)}}))
	}
	if r := act("alice", 1, "move", `"e4"`); r.Err != nil || r.Version != 1 {
		t.Fatalf("alice moves = %+v", r)
	}
	if gotCtx != (ActionContext{Proposer: "alice", Seq: 1, Index: 11, Version: 0}) {
		t.Fatalf("ctx = %+v", gotCtx)
	}
	r := act("alice", 2, "move", `"d4"`)
	if !errors.Is(r.Err, ErrReducer) || r.Err.Error() != `action move: reducer failed: not your turn, alice` {
		t.Fatalf("alice again = %+v", r)
	}
	if r := act("bob", 1, "boom", ``); !errors.Is(r.Err, ErrReducer) || !strings.Contains(r.Err.Error(), "kaboom") {
		t.Fatalf("panicking reducer = %+v", r)
	}
	if r := act("bob", 2, "half", `null`); !errors.Is(r.Err, ErrConflict) || !strings.HasPrefix(r.Err.Error(), "action half: patch op 1 (remove /nope)") {
		t.Fatalf("half-failing reducer patch = %+v", r)
	}
	if r := act("bob", 3, "nope", `{}`); !errors.Is(r.Err, ErrUnknownAction) {
		t.Fatalf("unknown action = %+v", r)
	}
	if got := mustJSON(t, m); got != `{"board":["e4"],"turn":"bob"}` {
		t.Fatalf("doc = %s", got)
	}
	m.Register("move", nil)
	if r := act("bob", 4, "move", `"d5"`); !errors.Is(r.Err, ErrUnknownAction) {
		t.Fatalf("unregistered = %+v", r)
	}
}

// TestOnApply: hooks see every entry, with the effective patch for actions.
func TestOnApply(t *testing.T) {
	m := newMachine(t, `{}`)
	m.Register("set", ReducerFunc(func(_ Reader, p json.RawMessage, _ ActionContext) (Patch, error) {
		return Patch{{Op: OpAdd, Path: "/v", Value: p}}, nil
	}))
	var seen []Applied
	remove := m.OnApply(func(a Applied) {
		// Hooks run outside the lock: reading must not deadlock.
		if _, err := m.JSON(); err != nil {
			t.Error(err)
		}
		seen = append(seen, a)
	})
	m.ApplyEntry(1, encode(t, Change{Proposer: "a", Seq: 1, Action: &Action{Name: "set", Payload: json.RawMessage(`7`)}}))
	m.ApplyEntry(2, encode(t, Change{Proposer: "a", Seq: 1, Action: &Action{Name: "set", Payload: json.RawMessage(`7`)}}))
	m.ApplyEntry(3, []byte("junk"))
	remove()
	m.ApplyEntry(4, encode(t, Change{Proposer: "a", Seq: 2, Patch: Patch{}}))
	if len(seen) != 3 {
		t.Fatalf("hook saw %d applies, want 3", len(seen))
	}
	first := seen[0]
	if !first.Changed || first.Index != 1 || first.Result.Version != 1 || len(first.Patch) != 1 || string(first.Patch[0].Value) != "7" || first.Change.Action.Name != "set" {
		t.Fatalf("first = %+v", first)
	}
	if seen[1].Changed || seen[1].Patch != nil || seen[1].Result != first.Result {
		t.Fatalf("duplicate = %+v", seen[1])
	}
	if seen[2].Changed || seen[2].Result.Err == nil || seen[2].Change.Proposer != "" {
		t.Fatalf("junk = %+v", seen[2])
	}
}

// TestMirrorFollowsAppliedPatches: replaying Applied.Patch on a second
// machine keeps it equal to the first, as the JS mirror will.
func TestMirrorFollowsAppliedPatches(t *testing.T) {
	m := newMachine(t, `{"a":[1,2,3]}`)
	mirror := newMachine(t, `{"a":[1,2,3]}`)
	seq := uint64(0)
	m.OnApply(func(a Applied) {
		if a.Changed {
			seq++
			if r := mirror.ApplyEntry(a.Index, encode(t, Change{Proposer: "m", Seq: seq, Patch: a.Patch})); r.Err != nil {
				t.Errorf("mirror: %v", r.Err)
			}
		}
	})
	m.Register("rot", ReducerFunc(func(Reader, json.RawMessage, ActionContext) (Patch, error) {
		return Patch{{Op: OpMove, From: "/a/0", Path: "/a/-"}}, nil
	}))
	for i := uint64(1); i <= 5; i++ {
		m.ApplyEntry(i, encode(t, Change{Proposer: "x", Seq: i, Action: &Action{Name: "rot"}}))
	}
	m.ApplyEntry(6, encode(t, Change{Proposer: "y", Seq: 1, Patch: patchOf(t, `[{"op":"test","path":"/a/0","value":9}]`)}))
	if a, b := mustJSON(t, m), mustJSON(t, mirror); a != b || a != `{"a":[3,1,2]}` {
		t.Fatalf("machine %s, mirror %s", a, b)
	}
}

// TestSnapshotRoundTrip: document, version, index and the exactly-once table
// survive Snapshot/Restore, and the restored machine answers retries alike.
func TestSnapshotRoundTrip(t *testing.T) {
	m := newMachine(t, `{"n":1.50,"s":"x"}`)
	m.ApplyEntry(7, encode(t, Change{Proposer: "alice", Seq: 3, Patch: patchOf(t, `[{"op":"add","path":"/k","value":[true]}]`)}))
	conflict := encode(t, Change{Proposer: "bob", Seq: 9, Patch: patchOf(t, `[{"op":"test","path":"/s","value":"y"}]`)})
	rBob := m.ApplyEntry(8, conflict)
	snap, err := m.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	other := newMachine(t, `{"other":true}`)
	var hooked []Applied
	other.OnApply(func(a Applied) { hooked = append(hooked, a) })
	if err := other.Restore(snap); err != nil {
		t.Fatal(err)
	}
	if mustJSON(t, other) != mustJSON(t, m) || other.Version() != 1 || other.Index() != 8 {
		t.Fatalf("restored %s v%d i%d", mustJSON(t, other), other.Version(), other.Index())
	}
	if len(hooked) != 1 || !hooked[0].Restored || hooked[0].Index != 8 {
		t.Fatalf("restore hook = %+v", hooked)
	}
	again, _ := other.Snapshot()
	if !bytes.Equal(again, snap) {
		t.Fatalf("snapshot of restored state differs:\n%s\n%s", again, snap)
	}
	r := other.ApplyEntry(9, conflict)
	if !errors.Is(r.Err, ErrConflict) || r.Err.Error() != rBob.Err.Error() || r.Version != rBob.Version {
		t.Fatalf("retry after restore = %+v, want %+v", r, rBob)
	}
	if r := other.ApplyEntry(10, encode(t, Change{Proposer: "alice", Seq: 2, Patch: Patch{}})); !errors.Is(r.Err, ErrStale) {
		t.Fatalf("stale after restore = %+v", r)
	}
}

// TestRestoreRejectsCorruptSnapshots: every corruption is an error and the
// state stays as it was.
func TestRestoreRejectsCorruptSnapshots(t *testing.T) {
	src := newMachine(t, `{"a":[1,2,{"b":"c"}]}`)
	src.ApplyEntry(1, encode(t, Change{Proposer: "p", Seq: 1, Patch: Patch{}}))
	snap, _ := src.Snapshot()
	m := newMachine(t, `{"keep":"me"}`)
	m.ApplyEntry(4, encode(t, Change{Proposer: "q", Seq: 2, Patch: Patch{}}))
	before, _ := m.Snapshot()
	cases := map[string][]byte{
		"empty":     nil,
		"truncated": snap[:len(snap)-1],
		"version":   append([]byte{2}, snap[1:]...),
	}
	for i := 1; i < len(snap); i += len(snap) / 7 {
		c := bytes.Clone(snap)
		c[i] ^= 0x20
		cases[fmt.Sprintf("bit flip at %d", i)] = c
	}
	cases["valid checksum, bad session"] = resum([]byte("\x01" + `{"version":0,"index":1,"sessions":[{"proposer":"","seq":1}],"doc":{}}`))
	cases["valid checksum, bad doc"] = resum([]byte("\x01" + `{"version":0,"index":1,"sessions":[],"doc":{"a":}}`))
	cases["valid checksum, unknown kind"] = resum([]byte("\x01" + `{"version":1,"index":1,"sessions":[{"proposer":"a","seq":1,"result":1,"error":"x","kinds":["zap"]}],"doc":{}}`))
	for name, c := range cases {
		err := m.Restore(c)
		if err == nil {
			t.Errorf("%s: Restore succeeded", name)
			continue
		}
		if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrVersion) {
			t.Errorf("%s: err = %v, want ErrCorrupt or ErrVersion", name, err)
		}
		if after, _ := m.Snapshot(); !bytes.Equal(after, before) {
			t.Fatalf("%s: failed Restore changed the state", name)
		}
	}
}

// resum appends a hand-made snapshot's checksum.
func resum(body []byte) []byte {
	return binary.BigEndian.AppendUint32(body, crc32.ChecksumIEEE(body))
}

// TestConcurrentReads runs reads against the apply loop; run with -race.
func TestConcurrentReads(t *testing.T) {
	m := newMachine(t, `{"n":0}`)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				b, err := m.JSON()
				if err != nil || !json.Valid(b) {
					t.Errorf("JSON() = %s, %v", b, err)
					return
				}
				if _, err := m.Get("/n"); err != nil {
					t.Error(err)
					return
				}
				_ = m.Version()
			}
		}()
	}
	for i := uint64(1); i <= 300; i++ {
		m.ApplyEntry(i, encode(t, Change{Proposer: "w", Seq: i, Patch: Patch{{Op: OpReplace, Path: "/n", Value: json.RawMessage(fmt.Sprint(i))}}}))
	}
	close(stop)
	wg.Wait()
	if got := mustJSON(t, m); got != `{"n":300}` {
		t.Fatalf("doc = %s", got)
	}
}

// TestApplyCostIndependentOfDocumentSize checks the O(change) promise
// without timing: a one-op patch allocates the same on a 1 KB and a 1 MB
// document (re-parsing or copying the document would allocate in
// proportion to it).
func TestApplyCostIndependentOfDocumentSize(t *testing.T) {
	allocs := func(size int) float64 {
		m := newMachine(t, string(benchDoc(size)))
		m.JSON() // fill the cache, so that invalidating it is part of the cost
		const runs = 50
		entries := make([][]byte, runs+1) // AllocsPerRun adds a warm-up run
		for i := range entries {
			entries[i] = encode(t, Change{Proposer: "b", Seq: uint64(i + 1), Patch: benchPatch(i)})
		}
		i := 0
		return testing.AllocsPerRun(runs, func() {
			if r := m.ApplyEntry(uint64(i+1), entries[i]); r.Err != nil {
				t.Fatal(r.Err)
			}
			i++
		})
	}
	small, large := allocs(1<<10), allocs(1<<20)
	if large > small+2 {
		t.Fatalf("one-op patch: %.0f allocs on 1 MB, %.0f on 1 KB", large, small)
	}
}
