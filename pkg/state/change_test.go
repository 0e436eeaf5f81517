package state

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestChangeRoundTrip(t *testing.T) {
	for _, c := range []Change{
		{Proposer: "alice", Seq: 1, Patch: Patch{
			{Op: OpTest, Path: "/seats/3", Value: json.RawMessage(`null`)},
			{Op: OpReplace, Path: "/seats/3", Value: json.RawMessage(`{"name":"alice"}`)},
			{Op: OpCopy, Path: "/b", From: ""},
			{Op: OpMove, Path: "/c", From: "/b"},
			{Op: OpRemove, Path: "/a~1b"},
		}},
		{Proposer: "bob\u00e9\"", Seq: 1<<64 - 1, Patch: Patch{}},
		{Proposer: "carol", Seq: 7, Action: &Action{Name: "move", Payload: json.RawMessage(`{"to":"e4"}`)}},
		{Proposer: "dave", Seq: 8, Action: &Action{Name: "pass", Payload: json.RawMessage(`null`)}},
	} {
		data, err := EncodeChange(c)
		if err != nil {
			t.Fatalf("EncodeChange(%+v): %v", c, err)
		}
		if data[0] != changeFormat {
			t.Fatalf("format byte %d", data[0])
		}
		got, err := DecodeChange(data)
		if err != nil {
			t.Fatalf("DecodeChange(%s): %v", data, err)
		}
		if !reflect.DeepEqual(got, c) {
			t.Fatalf("round trip:\n got %+v\nwant %+v", got, c)
		}
	}
}

func TestDecodedChangeDoesNotAliasInput(t *testing.T) {
	data, _ := EncodeChange(Change{Proposer: "a", Seq: 1, Patch: Patch{{Op: OpAdd, Path: "/x", Value: json.RawMessage(`"v"`)}}})
	c, err := DecodeChange(data)
	if err != nil {
		t.Fatal(err)
	}
	for i := range data {
		data[i] = 'X'
	}
	if string(c.Patch[0].Value) != `"v"` {
		t.Fatalf("value changed with the input buffer: %s", c.Patch[0].Value)
	}
}

func TestEncodeChangeRejects(t *testing.T) {
	big := json.RawMessage(`"` + strings.Repeat("x", MaxChangeSize) + `"`)
	for name, tc := range map[string]struct {
		c    Change
		want error
	}{
		"no proposer":      {Change{Seq: 1, Patch: Patch{}}, ErrMalformed},
		"long proposer":    {Change{Proposer: strings.Repeat("p", MaxProposerLen+1), Seq: 1, Patch: Patch{}}, ErrMalformed},
		"seq 0":            {Change{Proposer: "a", Patch: Patch{}}, ErrMalformed},
		"neither":          {Change{Proposer: "a", Seq: 1}, ErrMalformed},
		"both":             {Change{Proposer: "a", Seq: 1, Patch: Patch{}, Action: &Action{Name: "x"}}, ErrMalformed},
		"nameless action":  {Change{Proposer: "a", Seq: 1, Action: &Action{}}, ErrMalformed},
		"bad payload":      {Change{Proposer: "a", Seq: 1, Action: &Action{Name: "x", Payload: json.RawMessage(`{`)}}, ErrMalformed},
		"bad op":           {Change{Proposer: "a", Seq: 1, Patch: Patch{{Op: "zap", Path: ""}}}, ErrMalformed},
		"bad value":        {Change{Proposer: "a", Seq: 1, Patch: Patch{{Op: OpAdd, Path: "/a", Value: json.RawMessage(`tru`)}}}, ErrMalformed},
		"missing value":    {Change{Proposer: "a", Seq: 1, Patch: Patch{{Op: OpAdd, Path: "/a"}}}, ErrMalformed},
		"bad pointer":      {Change{Proposer: "a", Seq: 1, Patch: Patch{{Op: OpRemove, Path: "a"}}}, ErrMalformed},
		"too large":        {Change{Proposer: "a", Seq: 1, Patch: Patch{{Op: OpAdd, Path: "/a", Value: big}}}, ErrTooLarge},
		"too large action": {Change{Proposer: "a", Seq: 1, Action: &Action{Name: "x", Payload: big}}, ErrTooLarge},
	} {
		if _, err := EncodeChange(tc.c); !errors.Is(err, tc.want) {
			t.Errorf("%s: err = %v, want %v", name, err, tc.want)
		}
	}
}

func TestDecodeChangeRejects(t *testing.T) {
	v1 := func(s string) []byte { return append([]byte{changeFormat}, s...) }
	for name, tc := range map[string]struct {
		data []byte
		want error
		text string
	}{
		"empty":                            {nil, ErrMalformed, "decode change: malformed change: empty"},
		"unknown version":                  {[]byte("\x02{}"), ErrVersion, "decode change: unsupported format version: format 2, this member reads 1 and 3"},
		"version 0":                        {[]byte("\x00{}"), ErrVersion, ""},
		"oversized":                        {v1(strings.Repeat(" ", MaxChangeSize)), ErrTooLarge, ""},
		"not JSON":                         {v1("{nope"), ErrMalformed, ""},
		"not an object":                    {v1(`[1]`), ErrMalformed, ""},
		"trailing data":                    {v1(`{"proposer":"a","seq":1,"patch":[]} x`), ErrMalformed, ""},
		"no proposer":                      {v1(`{"seq":1,"patch":[]}`), ErrMalformed, "decode change: malformed change: no proposer"},
		"proposer number":                  {v1(`{"proposer":5,"seq":1,"patch":[]}`), ErrMalformed, ""},
		"seq negative":                     {v1(`{"proposer":"a","seq":-1,"patch":[]}`), ErrMalformed, ""},
		"seq fraction":                     {v1(`{"proposer":"a","seq":1.5,"patch":[]}`), ErrMalformed, ""},
		"seq overflow":                     {v1(`{"proposer":"a","seq":18446744073709551616,"patch":[]}`), ErrMalformed, ""},
		"seq string":                       {v1(`{"proposer":"a","seq":"1","patch":[]}`), ErrMalformed, ""},
		"seq zero":                         {v1(`{"proposer":"a","seq":0,"patch":[]}`), ErrMalformed, ""},
		"duplicate seq":                    {v1(`{"proposer":"a","seq":1,"seq":2,"patch":[]}`), ErrMalformed, `decode change: malformed change: member "seq" appears twice`},
		"patch and act":                    {v1(`{"proposer":"a","seq":1,"patch":[],"action":"x"}`), ErrMalformed, ""},
		"neither":                          {v1(`{"proposer":"a","seq":1}`), ErrMalformed, ""},
		"patch null":                       {v1(`{"proposer":"a","seq":1,"patch":null}`), ErrMalformed, ""},
		"action empty":                     {v1(`{"proposer":"a","seq":1,"action":""}`), ErrMalformed, ""},
		"bad op":                           {v1(`{"proposer":"a","seq":1,"patch":[{"op":"add","path":"/a","value":1,"value":2}]}`), ErrMalformed, ""},
		"lone surrogate ok but bad escape": {v1(`{"proposer":"a\x","seq":1,"patch":[]}`), ErrMalformed, ""},
	} {
		_, err := DecodeChange(tc.data)
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: err = %v, want %v", name, err, tc.want)
		}
		if tc.text != "" && (err == nil || err.Error() != tc.text) {
			t.Errorf("%s: err text %q, want %q", name, err, tc.text)
		}
	}
}

func TestDecodeChangeIgnoresUnknownMembers(t *testing.T) {
	c, err := DecodeChange([]byte("\x01" + `{"sig":"AAAA","proposer":"a","seq":2,"patch":[{"op":"remove","path":"/x","future":[1]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if c.Proposer != "a" || c.Seq != 2 || len(c.Patch) != 1 || c.Patch[0].Path != "/x" {
		t.Fatalf("c = %+v", c)
	}
}

// TestParserAgreesWithEncodingJSON checks the hand-written parser against
// encoding/json on tricky inputs (FuzzParseValue does it on random ones).
func TestParserAgreesWithEncodingJSON(t *testing.T) {
	for _, s := range []string{
		`"\ud83d\ude00"`, `"\ud83d"`, `"\ud83dx"`, `"\ude00\ud83d"`, `"\ud83d\u0041"`, "\"a\xffb\"", "\"\xed\xa0\x80\"",
		`"\u00e9\/\b\f\n\r\t"`, `-0.0e+00`, `1E5`, `[1, {"a" : [ ] } , "x" ]`, `{"a":1,"a":2}`,
		`01`, `1.`, `.5`, `-`, `1e`, `tru`, `nulll`, `"a` + "\x01" + `"`, `[1,]`, `{"a":1,}`, `{,}`, `"\u12"`, `"\x"`, ` `, ``,
	} {
		compareWithEncodingJSON(t, []byte(s))
	}
}

func compareWithEncodingJSON(t *testing.T, data []byte) {
	t.Helper()
	got, err := parseValue(data, MaxDepth)
	if errors.Is(err, ErrTooLarge) {
		return
	}
	valid := json.Valid(data)
	if (err == nil) != valid {
		t.Fatalf("parseValue(%q): err %v, but json.Valid = %v", data, err, valid)
	}
	if !valid {
		return
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var std any
	if err := dec.Decode(&std); err != nil {
		t.Fatalf("encoding/json: %v", err)
	}
	if a, b := string(appendJSON(nil, got)), string(appendJSON(nil, fromStd(std))); a != b {
		t.Fatalf("parse(%q):\n ours %s\n std  %s", data, a, b)
	}
}

// fromStd converts encoding/json's []any arrays into the tree's *array.
func fromStd(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = fromStd(e)
		}
		return x
	case []any:
		for i, e := range x {
			x[i] = fromStd(e)
		}
		return &array{elems: x}
	}
	return v
}
