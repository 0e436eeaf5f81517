package state

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// patchDoc applies patch (JSON text) to doc (JSON text) through a Machine, as
// a raft entry would, and returns the resulting document's JSON and the
// change's error. A rejected patch must leave the document byte-identical.
func patchDoc(t testing.TB, doc, patch string) (string, error) {
	t.Helper()
	m, err := New(json.RawMessage(doc))
	if err != nil {
		t.Fatalf("New(%s): %v", doc, err)
	}
	before := mustJSON(t, m)
	data := append([]byte{changeFormat}, `{"proposer":"p","seq":1,"patch":`+patch+`}`...)
	res := m.ApplyEntry(1, data)
	after := mustJSON(t, m)
	if res.Err != nil {
		if after != before {
			t.Fatalf("rejected patch %s changed the document:\nbefore %s\nafter  %s", patch, before, after)
		}
		if res.Version != 0 {
			t.Fatalf("rejected patch: version %d, want 0", res.Version)
		}
		return after, res.Err
	}
	if res.Version != 1 {
		t.Fatalf("applied patch: version %d, want 1", res.Version)
	}
	return after, nil
}

func mustJSON(t testing.TB, m *Machine) string {
	t.Helper()
	b, err := m.JSON()
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// canon re-serializes JSON text in the machine's canonical form.
func canon(t testing.TB, s string) string {
	t.Helper()
	v, err := parseValue([]byte(s), MaxDepth)
	if err != nil {
		t.Fatalf("parse %s: %v", s, err)
	}
	return string(appendJSON(nil, v))
}

// rfc6902Examples are the examples of RFC 6902 Appendix A. want "" means the
// patch must be rejected with wantErr.
var rfc6902Examples = []struct {
	name, doc, patch, want string
	wantErr                error
}{
	{"A.1 adding an object member", `{"foo":"bar"}`,
		`[{"op":"add","path":"/baz","value":"qux"}]`, `{"baz":"qux","foo":"bar"}`, nil},
	{"A.2 adding an array element", `{"foo":["bar","baz"]}`,
		`[{"op":"add","path":"/foo/1","value":"qux"}]`, `{"foo":["bar","qux","baz"]}`, nil},
	{"A.3 removing an object member", `{"baz":"qux","foo":"bar"}`,
		`[{"op":"remove","path":"/baz"}]`, `{"foo":"bar"}`, nil},
	{"A.4 removing an array element", `{"foo":["bar","qux","baz"]}`,
		`[{"op":"remove","path":"/foo/1"}]`, `{"foo":["bar","baz"]}`, nil},
	{"A.5 replacing a value", `{"baz":"qux","foo":"bar"}`,
		`[{"op":"replace","path":"/baz","value":"boo"}]`, `{"baz":"boo","foo":"bar"}`, nil},
	{"A.6 moving a value", `{"foo":{"bar":"baz","waldo":"fred"},"qux":{"corge":"grault"}}`,
		`[{"op":"move","from":"/foo/waldo","path":"/qux/thud"}]`,
		`{"foo":{"bar":"baz"},"qux":{"corge":"grault","thud":"fred"}}`, nil},
	{"A.7 moving an array element", `{"foo":["all","grass","cows","eat"]}`,
		`[{"op":"move","from":"/foo/1","path":"/foo/3"}]`, `{"foo":["all","cows","eat","grass"]}`, nil},
	{"A.8 testing a value: success", `{"baz":"qux","foo":["a",2,"c"]}`,
		`[{"op":"test","path":"/baz","value":"qux"},{"op":"test","path":"/foo/1","value":2}]`,
		`{"baz":"qux","foo":["a",2,"c"]}`, nil},
	{"A.9 testing a value: error", `{"baz":"qux"}`,
		`[{"op":"test","path":"/baz","value":"bar"}]`, "", ErrConflict},
	{"A.10 adding a nested member object", `{"foo":"bar"}`,
		`[{"op":"add","path":"/child","value":{"grandchild":{}}}]`, `{"child":{"grandchild":{}},"foo":"bar"}`, nil},
	{"A.11 ignoring unrecognized elements", `{"foo":"bar"}`,
		`[{"op":"add","path":"/baz","value":"qux","xyz":123}]`, `{"baz":"qux","foo":"bar"}`, nil},
	{"A.12 adding to a nonexistent target", `{"foo":"bar"}`,
		`[{"op":"add","path":"/baz/bat","value":"qux"}]`, "", ErrConflict},
	{"A.13 invalid JSON patch document", `{"foo":"bar"}`,
		`[{"op":"add","path":"/baz","value":"qux","op":"remove"}]`, "", ErrMalformed},
	{"A.14 ~ escape ordering", `{"/":9,"~1":10}`,
		`[{"op":"test","path":"/~01","value":10}]`, `{"/":9,"~1":10}`, nil},
	{"A.15 comparing strings and numbers", `{"/":9,"~1":10}`,
		`[{"op":"test","path":"/~01","value":"10"}]`, "", ErrConflict},
	{"A.16 adding an array value", `{"foo":["bar"]}`,
		`[{"op":"add","path":"/foo/-","value":["abc","def"]}]`, `{"foo":["bar",["abc","def"]]}`, nil},
}

func TestRFC6902Examples(t *testing.T) {
	for _, tc := range rfc6902Examples {
		t.Run(tc.name, func(t *testing.T) {
			got, err := patchDoc(t, tc.doc, tc.patch)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("err = %v", err)
			}
			if got != canon(t, tc.want) {
				t.Fatalf("got %s, want %s", got, tc.want)
			}
		})
	}
}

// TestPatchSemantics covers what the RFC examples leave out.
func TestPatchSemantics(t *testing.T) {
	cases := []struct {
		name, doc, patch, want string
	}{
		{"add replaces an existing member", `{"a":1}`, `[{"op":"add","path":"/a","value":2}]`, `{"a":2}`},
		{"add at root replaces the document", `{"a":1}`, `[{"op":"add","path":"","value":[1]}]`, `[1]`},
		{"replace root", `{"a":1}`, `[{"op":"replace","path":"","value":"x"}]`, `"x"`},
		{"append with -", `[1]`, `[{"op":"add","path":"/-","value":2}]`, `[1,2]`},
		{"insert at end index", `[1]`, `[{"op":"add","path":"/1","value":2}]`, `[1,2]`},
		{"insert at 0", `[1]`, `[{"op":"add","path":"/0","value":0}]`, `[0,1]`},
		{"- is a plain key in objects", `{}`, `[{"op":"add","path":"/-","value":1}]`, `{"-":1}`},
		{"empty key", `{}`, `[{"op":"add","path":"/","value":1}]`, `{"":1}`},
		{"move to same path is a no-op", `{"a":1}`, `[{"op":"move","from":"/a","path":"/a"}]`, `{"a":1}`},
		{"move array element forward", `[1,2,3]`, `[{"op":"move","from":"/0","path":"/-"}]`, `[2,3,1]`},
		{"copy deep", `{"a":{"b":[1]}}`, `[{"op":"copy","from":"/a","path":"/c"},{"op":"add","path":"/c/b/-","value":2}]`, `{"a":{"b":[1]},"c":{"b":[1,2]}}`},
		{"copy root into member", `{"a":1}`, `[{"op":"copy","from":"","path":"/b"}]`, `{"a":1,"b":{"a":1}}`},
		{"test numbers numerically", `{"n":1}`, `[{"op":"test","path":"/n","value":1.0},{"op":"test","path":"/n","value":1e0},{"op":"test","path":"/n","value":0.1e1}]`, `{"n":1}`},
		{"test objects ignore order", `{"o":{"a":1,"b":[true,null]}}`, `[{"op":"test","path":"/o","value":{"b":[true,null],"a":1}}]`, `{"o":{"a":1,"b":[true,null]}}`},
		{"test null", `{"s":null}`, `[{"op":"test","path":"/s","value":null},{"op":"replace","path":"/s","value":"alice"}]`, `{"s":"alice"}`},
		{"numbers keep their text", `{}`, `[{"op":"add","path":"/n","value":12345678901234567890.50}]`, `{"n":12345678901234567890.50}`},
		{"empty patch", `{"a":1}`, `[]`, `{"a":1}`},
		{"later ops see earlier ones", `{}`, `[{"op":"add","path":"/a","value":{}},{"op":"add","path":"/a/b","value":1},{"op":"test","path":"/a","value":{"b":1}}]`, `{"a":{"b":1}}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := patchDoc(t, tc.doc, tc.patch)
			if err != nil {
				t.Fatalf("err = %v", err)
			}
			if got != canon(t, tc.want) {
				t.Fatalf("got %s, want %s", got, tc.want)
			}
		})
	}
}

// TestPatchRejections checks the error kind and text of rejected patches,
// and (through patchDoc) that they leave the document untouched.
func TestPatchRejections(t *testing.T) {
	cases := []struct {
		name, doc, patch string
		want             []error
		text             string
	}{
		{"test fails after ops ran (undo)", `{"a":[1,2],"b":{"c":1}}`,
			`[{"op":"add","path":"/a/0","value":0},{"op":"remove","path":"/b/c"},{"op":"move","from":"/a/1","path":"/z"},{"op":"copy","from":"/a","path":"/b/d"},{"op":"replace","path":"","value":{"a":1}},{"op":"test","path":"/a","value":2}]`,
			[]error{ErrConflict}, "patch op 5 (test /a): conflict: test failed: the value differs"},
		{"replace missing member", `{"a":{}}`, `[{"op":"replace","path":"/a/b","value":1}]`,
			[]error{ErrConflict, ErrNotFound}, `patch op 0 (replace /a/b): conflict: not found: no member "b" in /a`},
		{"remove missing", `{}`, `[{"op":"remove","path":"/x"}]`, []error{ErrConflict, ErrNotFound}, ""},
		{"index out of range", `{"a":[1]}`, `[{"op":"add","path":"/a/2","value":1}]`,
			[]error{ErrConflict, ErrNotFound}, "patch op 0 (add /a/2): conflict: in /a: not found: index 2 out of range for array of length 1"},
		{"leading zero index", `[1,2]`, `[{"op":"replace","path":"/01","value":1}]`, []error{ErrConflict}, ""},
		{"- on replace", `[1]`, `[{"op":"replace","path":"/-","value":1}]`, []error{ErrConflict}, ""},
		{"into a scalar", `{"a":1}`, `[{"op":"add","path":"/a/b","value":1}]`, []error{ErrConflict}, ""},
		{"test missing path", `{}`, `[{"op":"test","path":"/seat","value":null}]`, []error{ErrConflict, ErrNotFound}, ""},
		{"move from missing", `{}`, `[{"op":"move","from":"/x","path":"/y"}]`, []error{ErrConflict}, ""},
		{"unknown op", `{}`, `[{"op":"frob","path":"/x"}]`, []error{ErrMalformed}, "decode change: patch op 0: malformed change: unknown op frob"},
		{"missing value", `{}`, `[{"op":"add","path":"/x"}]`, []error{ErrMalformed}, ""},
		{"missing path", `{}`, `[{"op":"add","value":1}]`, []error{ErrMalformed}, ""},
		{"missing from", `{}`, `[{"op":"copy","path":"/x"}]`, []error{ErrMalformed}, ""},
		{"bad pointer", `{}`, `[{"op":"add","path":"x","value":1}]`, []error{ErrMalformed}, ""},
		{"bad escape", `{}`, `[{"op":"add","path":"/a~2","value":1}]`, []error{ErrMalformed}, ""},
		{"op not a string", `{}`, `[{"op":1,"path":"/x"}]`, []error{ErrMalformed}, ""},
		{"op name case matters", `{}`, `[{"OP":"add","path":"/x","value":1}]`, []error{ErrMalformed}, ""},
		{"patch not an array", `{}`, `{"op":"add"}`, []error{ErrMalformed}, ""},
		{"op not an object", `{}`, `[1]`, []error{ErrMalformed}, ""},
		{"move into itself", `{"a":{}}`, `[{"op":"move","from":"/a","path":"/a/b"}]`, []error{ErrMalformed}, ""},
		{"remove root", `{}`, `[{"op":"remove","path":""}]`, []error{ErrMalformed}, ""},
		{"bad value JSON", `{}`, `[{"op":"add","path":"/x","value":01}]`, []error{ErrMalformed}, ""},
		{"too deep", `{}`, `[{"op":"add","path":"/x","value":` + strings.Repeat("[", MaxDepth) + strings.Repeat("]", MaxDepth) + `}]`, []error{ErrTooLarge}, ""},
		{"copy too deep", `{"a":` + strings.Repeat("[", MaxDepth-1) + strings.Repeat("]", MaxDepth-1) + `}`,
			`[{"op":"copy","from":"/a","path":"/a/0/0"}]`, []error{ErrTooLarge}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := patchDoc(t, tc.doc, tc.patch)
			if err == nil {
				t.Fatal("patch applied, want a rejection")
			}
			for _, w := range tc.want {
				if !errors.Is(err, w) {
					t.Errorf("err = %v, want errors.Is %v", err, w)
				}
			}
			if tc.text != "" && err.Error() != tc.text {
				t.Errorf("err text\n got %q\nwant %q", err.Error(), tc.text)
			}
		})
	}
}

// TestRFC6901Examples resolves the pointers of RFC 6901 section 5.
func TestRFC6901Examples(t *testing.T) {
	doc := `{"foo":["bar","baz"],"":0,"a/b":1,"c%d":2,"e^f":3,"g|h":4,"i\\j":5,"k\"l":6," ":7,"m~n":8}`
	m, err := New(json.RawMessage(doc))
	if err != nil {
		t.Fatal(err)
	}
	for ptr, want := range map[string]string{
		"":       canon(t, doc),
		"/foo":   `["bar","baz"]`,
		"/foo/0": `"bar"`,
		"/":      `0`,
		"/a~1b":  `1`,
		"/c%d":   `2`,
		"/e^f":   `3`,
		"/g|h":   `4`,
		`/i\j`:   `5`,
		`/k"l`:   `6`,
		"/ ":     `7`,
		"/m~0n":  `8`,
	} {
		got, err := m.Get(ptr)
		if err != nil || string(got) != want {
			t.Errorf("Get(%q) = %s, %v; want %s", ptr, got, err, want)
		}
	}
	for ptr, want := range map[string]error{
		"foo":     ErrMalformed,
		"/m~2n":   ErrMalformed,
		"/m~":     ErrMalformed,
		"/nope":   ErrNotFound,
		"/foo/2":  ErrNotFound,
		"/foo/-":  ErrNotFound,
		"/foo/00": ErrNotFound,
		"/ /x":    ErrNotFound,
	} {
		if _, err := m.Get(ptr); !errors.Is(err, want) {
			t.Errorf("Get(%q) err = %v, want %v", ptr, err, want)
		}
	}
}

func TestPointerRoundTrip(t *testing.T) {
	for _, s := range []string{"", "/", "//", "/a~1b/~0/c", "/~01", "/-/0"} {
		p, err := parsePointer(s)
		if err != nil {
			t.Fatalf("parsePointer(%q): %v", s, err)
		}
		if p.String() != s {
			t.Errorf("parsePointer(%q).String() = %q", s, p.String())
		}
	}
}

func TestNumberEqual(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		eq   bool
	}{
		{"1", "1.0", true}, {"1", "1e0", true}, {"100", "1e2", true}, {"100", "1E+2", true},
		{"0.001", "1e-3", true}, {"0", "-0", true}, {"0", "0.0e5", true}, {"-1.5", "-15e-1", true},
		{"1", "2", false}, {"1", "-1", false}, {"0.1", "0.01", false}, {"10", "1", false},
		{"12345678901234567890", "12345678901234567891", false},
		{"1e999999999999999999999", "1e999999999999999999999", true},
		{"1e999999999999999999999", "10e999999999999999999998", false}, // beyond ±1e15: compared as text
	} {
		if got := numberEqual(json.Number(tc.a), json.Number(tc.b)); got != tc.eq {
			t.Errorf("numberEqual(%s, %s) = %v", tc.a, tc.b, got)
		}
	}
}

func TestParsePatchAndMarshalRoundTrip(t *testing.T) {
	src := `[{"op":"add","path":"/a","value":{"b":[1,"x",null]}},{"op":"copy","path":"/b","from":""},{"op":"remove","path":"/a"}]`
	p, err := ParsePatch([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if len(p) != 3 || p[1].Op != OpCopy || p[1].From != "" || p[2].Value != nil {
		t.Fatalf("ParsePatch = %+v", p)
	}
	out, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	want := `[{"op":"add","path":"/a","value":{"b":[1,"x",null]}},{"op":"copy","path":"/b","from":""},{"op":"remove","path":"/a"}]`
	if string(out) != want {
		t.Fatalf("Marshal = %s\nwant      %s", out, want)
	}
	var back Patch
	if err := json.Unmarshal(out, &back); err != nil || len(back) != 3 {
		t.Fatalf("Unmarshal = %+v, %v", back, err)
	}
	if _, err := json.Marshal(Op{Op: OpAdd, Path: "/x", Value: json.RawMessage("{")}); err == nil {
		t.Fatal("Marshal of an op with invalid value JSON succeeded")
	}
}

func TestSerializationIsDeterministicAndEscaped(t *testing.T) {
	got := canon(t, `{"b":1,"a":{"z":"\u2028\n\"\\\u0001é","y":[]},"":false}`)
	want := `{"":false,"a":{"y":[],"z":"\u2028\n\"\\\u0001é"},"b":1}`
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	if s := string(appendString(nil, "a\xffb")); s != `"a\ufffdb"` {
		t.Fatalf("invalid UTF-8: %s", s)
	}
}

// TestCopyBomb: copies that double the document each op are stopped by
// MaxCopyValues, with the document untouched.
func TestCopyBomb(t *testing.T) {
	var ops []string
	for i := range 20 {
		ops = append(ops, fmt.Sprintf(`{"op":"copy","from":"","path":"/y%d"}`, i))
	}
	_, err := patchDoc(t, `{"x":[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]}`, "["+strings.Join(ops, ",")+"]")
	// The document has 18 values; op i copies 18·2^i, so ops 0..i copy
	// 18·(2^(i+1)-1) in all, over 2^18 first at i = 13.
	if !errors.Is(err, ErrTooLarge) || !strings.HasPrefix(err.Error(), "patch op 13 (copy /y13 from ): too large") {
		t.Fatalf("err = %v, want ErrTooLarge at op 13", err)
	}
	// Copies that stay under the limit are fine.
	if _, err := patchDoc(t, `{"x":[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]}`, "["+strings.Join(ops[:10], ",")+"]"); err != nil {
		t.Fatal(err)
	}
}
