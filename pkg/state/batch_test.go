package state

import (
	"errors"
	"testing"
)

func TestBatchAppliesEachChangeWithItsOwnResult(t *testing.T) {
	m := newMachine(t, `{"seat":null,"n":0}`)
	var seen []uint64
	m.OnApply(func(a Applied) { seen = append(seen, a.Change.Seq) })
	batch, err := EncodeBatch([]Change{
		{Proposer: "a", Seq: 1, Patch: patchOf(t, `[{"op":"replace","path":"/n","value":1}]`)},
		{Proposer: "a", Seq: 2, Patch: patchOf(t, `[{"op":"test","path":"/seat","value":"x"},{"op":"replace","path":"/seat","value":"a"}]`)},
		{Proposer: "a", Seq: 3, Patch: patchOf(t, `[{"op":"replace","path":"/n","value":3}]`)},
	})
	if err != nil {
		t.Fatal(err)
	}
	results, ok := m.Apply(7, batch).([]Result)
	if !ok || len(results) != 3 {
		t.Fatalf("Apply(batch) = %#v", m.Apply(8, batch))
	}
	if results[0].Err != nil || !errors.Is(results[1].Err, ErrConflict) || results[2].Err != nil || results[2].Version != 2 {
		t.Fatalf("results = %+v", results)
	}
	if got := mustJSON(t, m); got != `{"n":3,"seat":null}` {
		t.Fatalf("doc = %s", got)
	}
	// The same batch again (a retry) is answered from the exactly-once table.
	again := m.ApplyBatch(9, batch)
	if again[0] != results[0] || again[2] != results[2] || m.Version() != 2 {
		t.Fatalf("retried batch = %+v, version %d", again, m.Version())
	}
	if len(seen) != 6 {
		t.Fatalf("OnApply saw %v", seen)
	}
	// The remembered batch results survive a snapshot.
	snap, err := m.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	other := newMachine(t, `{}`)
	if err := other.Restore(snap); err != nil {
		t.Fatal(err)
	}
	if again := other.ApplyBatch(10, batch); !errors.Is(again[1].Err, ErrConflict) || again[0] != results[0] {
		t.Fatalf("retry after restore = %+v", again)
	}
}

func TestMalformedBatchesAreRejectedWhole(t *testing.T) {
	m := newMachine(t, `{}`)
	good, _ := EncodeBatch([]Change{{Proposer: "a", Seq: 1, Patch: Patch{}}})
	for name, bad := range map[string][]byte{
		"empty":       {batchFormat},
		"overrun":     {batchFormat, 0x7f, '1'},
		"zero-length": {batchFormat, 0x00},
		"truncated":   good[:len(good)-2],
	} {
		rs := m.ApplyBatch(1, bad)
		if len(rs) != 1 || rs[0].Err == nil {
			t.Errorf("%s: %+v, want one rejection", name, rs)
		}
	}
	if m.Version() != 0 {
		t.Fatalf("a malformed batch changed the document (version %d)", m.Version())
	}
	if _, err := EncodeBatch(nil); !errors.Is(err, ErrMalformed) {
		t.Fatalf("empty batch: %v", err)
	}
}

func FuzzApplyBatch(f *testing.F) {
	good, _ := EncodeBatch([]Change{{Proposer: "a", Seq: 1, Patch: Patch{{Op: OpAdd, Path: "/x", Value: []byte("1")}}}, {Proposer: "b", Seq: 1, Patch: Patch{}}})
	f.Add(good)
	f.Add([]byte{batchFormat, 1, 1})
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := New([]byte(`{"x":0}`))
		if err != nil {
			t.Fatal(err)
		}
		data = append([]byte{batchFormat}, data...)
		rs := m.ApplyBatch(1, data)
		if len(rs) == 0 {
			t.Fatal("no result")
		}
		if _, err := m.JSON(); err != nil {
			t.Fatal(err)
		}
	})
}
