package raftnode

import (
	"bytes"
	"errors"
	"testing"
)

func TestEntryEnvelopeRoundTrip(t *testing.T) {
	id, payload, err := decodeEntry(encodeEntry(42, []byte("change")))
	if err != nil || id != 42 || string(payload) != "change" {
		t.Fatalf("got %d %q %v", id, payload, err)
	}
	if _, _, err := decodeEntry([]byte{9, 0, 0, 0, 0, 0, 0, 0, 1}); err == nil {
		t.Fatal("unknown entry version accepted")
	}
	if _, _, err := decodeEntry([]byte{1, 2}); err == nil {
		t.Fatal("truncated entry accepted")
	}
}

func TestSnapshotEnvelopeRejectsCorruption(t *testing.T) {
	meta := newMembership()
	meta.Members[3] = &Member{ID: 3, Context: []byte("alice"), Learner: true}
	meta.remove(2)
	good, err := encodeSnapshot(meta, []byte(`{"app":1}`))
	if err != nil {
		t.Fatal(err)
	}
	got, app, err := decodeSnapshot(good)
	if err != nil || string(app) != `{"app":1}` || string(got.Members[3].Context) != "alice" || !got.isRemoved(2) || got.NextID != 3 {
		t.Fatalf("round trip: %+v %q %v", got, app, err)
	}
	for name, bad := range map[string][]byte{
		"empty":        nil,
		"version":      append([]byte{7}, good[1:]...),
		"meta-overrun": append([]byte{1, 0xff, 0xff, 0xff, 0xff}, good[5:]...),
		"meta-json":    append([]byte{1, 0, 0, 0, 3}, []byte("{{{rest")...),
		"null-member":  append([]byte{1, 0, 0, 0, 22}, []byte(`{"members":{"1":null}}`)...),
	} {
		if _, _, err := decodeSnapshot(bad); !errors.Is(err, ErrCorruptSnapshot) {
			t.Errorf("%s: err = %v, want ErrCorruptSnapshot", name, err)
		}
	}
}

func FuzzDecodeEntry(f *testing.F) {
	f.Add(encodeEntry(1, []byte(`{"op":"put"}`)))
	f.Add([]byte{1})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		id, payload, err := decodeEntry(data)
		if err != nil {
			return
		}
		if !bytes.Equal(encodeEntry(id, payload), data) {
			t.Fatalf("decode/encode is not the identity for %x", data)
		}
	})
}

func FuzzDecodeSnapshot(f *testing.F) {
	good, _ := encodeSnapshot(newMembership(), []byte("state"))
	f.Add(good)
	f.Add([]byte{1, 0, 0, 0, 2, '{', '}'})
	f.Add([]byte{1, 0, 0, 0, 4, 'n', 'u', 'l', 'l'})
	f.Fuzz(func(t *testing.T, data []byte) {
		meta, _, err := decodeSnapshot(data)
		if err != nil {
			return
		}
		if meta.Members == nil {
			t.Fatal("decoded membership without a member table")
		}
		for id, m := range meta.Members {
			if m == nil {
				t.Fatalf("member %d decoded as null", id)
			}
		}
	})
}
