package state

import (
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	jsonpatch "github.com/evanphx/json-patch/v5"
)

// TestPatchMatchesEvanphx is a differential test: random documents and
// patches are applied both here and by github.com/evanphx/json-patch/v5 (a
// widely used independent implementation, configured for strict RFC 6902),
// and the outcomes (applied or rejected, and the document) must agree.
func TestPatchMatchesEvanphx(t *testing.T) {
	const seeds = 3000
	skipped := 0
	defer func() {
		if skipped > seeds/10 {
			t.Errorf("evanphx could not judge %d of %d cases", skipped, seeds)
		}
	}()
	for seed := uint64(1); seed <= seeds; seed++ {
		r := rand.New(rand.NewPCG(seed, 6902))
		doc := genValue(r, 3)
		if _, ok := doc.(map[string]any); !ok { // evanphx wants an object or array
			doc = map[string]any{"a": doc}
		}
		paths := collectPaths(doc, "")
		var ops []string
		for range 1 + r.IntN(4) {
			ops = append(ops, genOp(r, paths))
		}
		docJSON := string(appendJSON(nil, doc))
		patchJSON := "[" + strings.Join(ops, ",") + "]"
		ours, ourErr := patchDoc(t, docJSON, patchJSON)
		theirs, theirErr := evanphxApply(docJSON, patchJSON)
		if theirErr == errReferencePanicked {
			skipped++
			continue
		}
		if (ourErr == nil) != (theirErr == nil) {
			t.Fatalf("seed %d: doc %s\npatch %s\nours: %s, %v\nevanphx: %s, %v", seed, docJSON, patchJSON, ours, ourErr, theirs, theirErr)
		}
		if ourErr == nil && ours != canon(t, theirs) {
			t.Fatalf("seed %d: doc %s\npatch %s\nours    %s\nevanphx %s", seed, docJSON, patchJSON, ours, canon(t, theirs))
		}
	}
}

// errReferencePanicked marks cases evanphx cannot judge: it panics
// comparing some values holding null in a test op.
var errReferencePanicked = fmt.Errorf("evanphx panicked")

func evanphxApply(doc, patch string) (out string, err error) {
	defer func() {
		if recover() != nil {
			out, err = "", errReferencePanicked
		}
	}()
	p, err := jsonpatch.DecodePatch([]byte(patch))
	if err != nil {
		return "", err
	}
	opts := jsonpatch.NewApplyOptions()
	opts.SupportNegativeIndices = false // not RFC 6902
	b, err := p.ApplyWithOptions([]byte(doc), opts)
	return string(b), err
}

// diffKeys has no "": evanphx mishandles empty tokens inside a path
// ("//2/"); TestRFC6901Examples and TestPatchSemantics cover them.
var diffKeys = []string{"a", "b", "c", "-", "0", "a/b", "m~n"}

// genValue makes a small random JSON value nesting at most depth deep.
func genValue(r *rand.Rand, depth int) any {
	k := r.IntN(8)
	if depth == 0 {
		k = r.IntN(5)
	}
	switch k {
	case 0:
		return nil
	case 1:
		return r.IntN(2) == 0
	case 2:
		return json.Number(fmt.Sprint(r.IntN(5)))
	case 3:
		return diffKeys[r.IntN(3)]
	case 4, 5:
		m := map[string]any{}
		for range r.IntN(4) {
			m[diffKeys[r.IntN(len(diffKeys))]] = genValue(r, depth-1)
		}
		return m
	default:
		a := &array{elems: []any{}}
		for range r.IntN(4) {
			a.elems = append(a.elems, genValue(r, depth-1))
		}
		return a
	}
}

// collectPaths lists the pointers of every node of v.
func collectPaths(v any, at string) []string {
	paths := []string{at}
	switch x := v.(type) {
	case map[string]any:
		for _, k := range slices.Sorted(maps.Keys(x)) { // sorted: seeds must replay
			paths = append(paths, collectPaths(x[k], at+"/"+tokenEscaper.Replace(k))...)
		}
	case *array:
		for i, e := range x.elems {
			paths = append(paths, collectPaths(e, fmt.Sprintf("%s/%d", at, i))...)
		}
	}
	return paths
}

// genPath picks an existing path, or one near it that may not exist.
func genPath(r *rand.Rand, paths []string) string {
	p := paths[r.IntN(len(paths))]
	switch r.IntN(6) {
	case 0:
		// No "01": evanphx takes it as index 1; RFC 6901 allows no leading
		// zeros (TestPatchRejections covers it).
		return p + "/" + []string{"-", "0", "1", "5", "z", "~1"}[r.IntN(6)]
	case 1:
		if i := strings.LastIndex(p, "/"); i >= 0 {
			return p[:i]
		}
	}
	return p
}

func genOp(r *rand.Rand, paths []string) string {
	val := func() string { return string(appendJSON(nil, genValue(r, 2))) }
	q := func(s string) string { return string(appendString(nil, s)) }
	switch r.IntN(6) {
	case 0:
		return fmt.Sprintf(`{"op":"add","path":%s,"value":%s}`, q(nonRoot(genPath(r, paths))), val())
	case 1:
		return fmt.Sprintf(`{"op":"remove","path":%s}`, q(nonRoot(genPath(r, paths))))
	case 2:
		return fmt.Sprintf(`{"op":"replace","path":%s,"value":%s}`, q(nonRoot(genPath(r, paths))), val())
	case 3:
		from, path := nonRoot(genPath(r, paths)), nonRoot(genPath(r, paths))
		if strings.HasPrefix(path, from+"/") {
			// RFC 6902 forbids moving into oneself; evanphx does not check
			// (TestPatchRejections covers it).
			from, path = path, from
		}
		return fmt.Sprintf(`{"op":"move","from":%s,"path":%s}`, q(from), q(path))
	case 4:
		return fmt.Sprintf(`{"op":"copy","from":%s,"path":%s}`, q(nonRoot(genPath(r, paths))), q(nonRoot(genPath(r, paths))))
	default:
		// Not null: evanphx lets a test for null pass on a missing path,
		// where RFC 6902 (and this package) fails it.
		v := val()
		for v == "null" {
			v = val()
		}
		return fmt.Sprintf(`{"op":"test","path":%s,"value":%s}`, q(genPath(r, paths)), v)
	}
}

// nonRoot keeps ops that change the document off the root, where evanphx
// departs from RFC 6902 (it wants an object or array there, and mishandles
// a move to ""); TestPatchSemantics covers the root.
func nonRoot(p string) string {
	if p == "" {
		return "/a"
	}
	return p
}
