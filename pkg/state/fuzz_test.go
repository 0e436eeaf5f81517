package state

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// Fuzz targets: `go test` runs their seeds; `go test -fuzz FuzzX` explores.

func FuzzDecodeChange(f *testing.F) {
	for _, c := range []Change{
		{Proposer: "alice", Seq: 1, Patch: Patch{{Op: OpTest, Path: "/seat", Value: json.RawMessage(`null`)}, {Op: OpReplace, Path: "/seat", Value: json.RawMessage(`"alice"`)}}},
		{Proposer: "bob", Seq: 99, Patch: Patch{{Op: OpCopy, From: "/a/0", Path: "/b/-"}, {Op: OpMove, From: "/x~1y", Path: "/z~0"}, {Op: OpRemove, Path: "/q"}}},
		{Proposer: "carol", Seq: 3, Action: &Action{Name: "move", Payload: json.RawMessage(`{"to":[1,2.5e3,"\u00e9"]}`)}},
		{Proposer: "d", Seq: 1, Patch: Patch{}},
		{Proposer: "e", Seq: 2, Patch: Patch{{Op: OpAdd, Path: "/e", Value: json.RawMessage(`1`)}}, Signature: bytes.Repeat([]byte{0xee}, 64)},
	} {
		data, err := EncodeChange(c)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, s := range []string{"", "\x02{}", "\x01", "\x01{}", "\x01null", `\x01{"proposer":"a","seq":1,"seq":1,"patch":[]}`,
		"\x01" + `{"proposer":"a","seq":1,"patch":[{"op":"add","path":"/a","value":1,"op":"remove"}]}`,
		"\x01" + `{"proposer":"\ud800","seq":18446744073709551615,"action":"x","payload":[[[[]]]]}`,
		"\x01" + `{"proposer":"a","seq":1,"patch":[{"op":"add","path":"/a~","value":{"\u0000":"\x"}}]}`,
		"\x01" + `{"proposer":"a","seq":1e3,"patch":[]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := DecodeChange(data)
		m, _ := New(json.RawMessage(`{"a":[1,{"b":null}],"seat":null}`))
		r := m.ApplyEntry(1, data)
		if err != nil {
			if r.Err == nil && len(data) > 0 { // empty entries are no-ops
				t.Fatalf("DecodeChange failed (%v) but Apply succeeded", err)
			}
			return
		}
		// A decodable change re-encodes to a change that decodes the same.
		enc, err := EncodeChange(c)
		if err != nil {
			t.Fatalf("EncodeChange of a decoded change: %v", err)
		}
		c2, err := DecodeChange(enc)
		if err != nil || !reflect.DeepEqual(normalizeChange(c), normalizeChange(c2)) {
			t.Fatalf("re-encoded change differs: %+v / %+v, %v", c, c2, err)
		}
		if r.Err == nil && r.Version != 1 {
			t.Fatalf("applied change: version %d", r.Version)
		}
	})
}

// normalizeChange compacts raw JSON so that re-encoding whitespace does not
// count as a difference.
func normalizeChange(c Change) Change {
	compact := func(raw json.RawMessage) json.RawMessage {
		if raw == nil {
			return nil
		}
		var b bytes.Buffer
		if err := json.Compact(&b, raw); err != nil {
			return raw
		}
		return b.Bytes()
	}
	out := c
	out.signed = nil // the entry's own bytes: whitespace may differ
	if c.Patch != nil {
		out.Patch = make(Patch, len(c.Patch))
		for i, o := range c.Patch {
			o.Value = compact(o.Value)
			out.Patch[i] = o
		}
	}
	if c.Action != nil {
		out.Action = &Action{Name: c.Action.Name, Payload: compact(c.Action.Payload)}
	}
	return out
}

func FuzzApplyPatch(f *testing.F) {
	for _, tc := range rfc6902Examples {
		f.Add(tc.doc, tc.patch)
	}
	f.Add(`{"a":[1,2],"b":{"c":1}}`, `[{"op":"add","path":"/a/0","value":0},{"op":"remove","path":"/b/c"},{"op":"move","from":"/a/1","path":"/z"},{"op":"copy","from":"/a","path":"/b/d"},{"op":"test","path":"/a","value":2}]`)
	f.Add(`[]`, `[{"op":"add","path":"/-","value":{"x":[null,true,-1.5e-7]}},{"op":"copy","from":"/0","path":"/-"},{"op":"move","from":"/0/x","path":"/1/y"}]`)
	f.Add(`{"s":"\u2028\ud83d\ude00"}`, `[{"op":"replace","path":"","value":{"~":{"/":0}}},{"op":"test","path":"/~0/~1","value":0.0}]`)
	f.Add(`{}`, `[{"op":"add","path":"/x","value":`+strings.Repeat("[", MaxDepth)+strings.Repeat("]", MaxDepth)+`}]`)
	f.Add(`{"a":{"b":{}}}`, `[{"op":"move","from":"/a","path":"/a/b/c"}]`)
	f.Add(`5`, `[{"op":"add","path":"/0","value":1}]`)
	f.Fuzz(func(t *testing.T, doc, patch string) {
		run := func() (*Machine, Result, string) {
			m, err := New(json.RawMessage(doc))
			if err != nil {
				return nil, Result{}, ""
			}
			before := mustJSON(t, m)
			data := append([]byte{changeFormat}, `{"proposer":"f","seq":1,"patch":`+patch+`}`...)
			return m, m.ApplyEntry(1, data), before
		}
		m, r, before := run()
		if m == nil {
			return
		}
		after := mustJSON(t, m)
		if r.Err != nil {
			if after != before || r.Version != 0 {
				t.Fatalf("rejected patch (%v) changed the document:\n%s\n%s", r.Err, before, after)
			}
		} else {
			if !json.Valid([]byte(after)) {
				t.Fatalf("result is not valid JSON: %s", after)
			}
			if canon(t, after) != after {
				t.Fatalf("serialization is not canonical: %s", after)
			}
		}
		// Deterministic: another member gets the same document and result.
		m2, r2, _ := run()
		if mustJSON(t, m2) != after || r2.Version != r.Version || (r.Err == nil) != (r2.Err == nil) ||
			(r.Err != nil && r.Err.Error() != r2.Err.Error()) {
			t.Fatalf("second run differs: %+v vs %+v", r2, r)
		}
		// And a snapshot carries it all.
		snap, err := m.Snapshot()
		if err != nil {
			t.Fatal(err)
		}
		m3, _ := New(nil)
		if err := m3.Restore(snap); err != nil || mustJSON(t, m3) != after {
			t.Fatalf("restore: %v, %s", err, mustJSON(t, m3))
		}
	})
}

func FuzzPointer(f *testing.F) {
	for _, s := range []string{"", "/", "/a/b", "/a~1b", "/m~0n", "/~01", "/~", "/~2", "a", "/-", "/0", "/01", "/a//b", "/999999999999", "/\xff"} {
		f.Add(s)
	}
	m, err := New(json.RawMessage(`{"a":{"b":[1,{"c":2}]},"":{"":3},"a/b":4,"m~n":5,"-":[]}`))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := parsePointer(s)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("parsePointer(%q): %v is not ErrMalformed", s, err)
			}
			if _, gerr := m.Get(s); !errors.Is(gerr, ErrMalformed) {
				t.Fatalf("Get(%q) = %v for a malformed pointer", s, gerr)
			}
			return
		}
		if p.String() != s {
			t.Fatalf("parsePointer(%q).String() = %q", s, p.String())
		}
		raw, err := m.Get(s)
		if err != nil && !errors.Is(err, ErrNotFound) {
			t.Fatalf("Get(%q): %v", s, err)
		}
		if err == nil && !json.Valid(raw) {
			t.Fatalf("Get(%q) = %s, not JSON", s, raw)
		}
	})
}

// FuzzParseValue checks the hand-written parser against encoding/json.
func FuzzParseValue(f *testing.F) {
	for _, s := range []string{`{"a":[1,2.5,-3e-2,true,false,null,"x\n\u00e9\ud83d\ude00"]}`, `"\ud83d"`, "\"\xff\"", `[`, `01`, `{"a":1,"a":2}`, ` 1 `, `[]`, `{}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		compareWithEncodingJSON(t, data)
	})
}

// FuzzRestore feeds arbitrary snapshots: no panic, and a failed Restore
// leaves the state alone.
func FuzzRestore(f *testing.F) {
	src, _ := New(json.RawMessage(`{"a":[1,"x",{"b":null}]}`))
	data, _ := EncodeChange(Change{Proposer: "p", Seq: 2, Patch: Patch{{Op: OpTest, Path: "/a/0", Value: json.RawMessage(`2`)}}})
	src.ApplyEntry(3, data)
	snap, _ := src.Snapshot()
	f.Add(snap)
	f.Add(snap[:len(snap)-4])
	f.Add([]byte{1, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, _ := New(json.RawMessage(`{"keep":1}`))
		before, _ := m.Snapshot()
		if err := m.Restore(b); err != nil {
			if after, _ := m.Snapshot(); !bytes.Equal(before, after) {
				t.Fatalf("failed Restore (%v) changed the state", err)
			}
			return
		}
		again, _ := m.Snapshot()
		m2, _ := New(nil)
		if err := m2.Restore(again); err != nil {
			t.Fatalf("re-restore: %v", err)
		}
	})
}
