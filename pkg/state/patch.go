package state

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// JSON Patch operation names (RFC 6902).
const (
	OpAdd     = "add"
	OpRemove  = "remove"
	OpReplace = "replace"
	OpMove    = "move"
	OpCopy    = "copy"
	OpTest    = "test"
)

// Op is one JSON Patch operation. Path and From are JSON Pointers (RFC 6901);
// From is used by move and copy only; Value (add, replace, test) is raw JSON,
// nil when absent (JSON null is the 4 bytes "null").
type Op struct {
	Op    string
	Path  string
	From  string
	Value json.RawMessage
}

// Patch is a JSON Patch: operations applied in order, all or none.
type Patch []Op

// MarshalJSON writes the op as an RFC 6902 object. "from" is written for
// move and copy (where "" is a valid pointer, the root), "value" when set.
func (o Op) MarshalJSON() ([]byte, error) {
	b := []byte(`{"op":`)
	b = appendString(b, o.Op)
	b = append(b, `,"path":`...)
	b = appendString(b, o.Path)
	if o.Op == OpMove || o.Op == OpCopy || o.From != "" {
		b = append(b, `,"from":`...)
		b = appendString(b, o.From)
	}
	if o.Value != nil {
		if !json.Valid(o.Value) {
			return nil, fmt.Errorf("%w: op %s %s: value is not valid JSON", ErrMalformed, o.Op, short(o.Path))
		}
		b = append(b, `,"value":`...)
		b = append(b, o.Value...)
	}
	return append(b, '}'), nil
}

// UnmarshalJSON reads an RFC 6902 operation object. Member names are matched
// exactly (RFC 6902 is case-sensitive; encoding/json's struct matching is
// not), unknown members are ignored, and the op is validated.
func (o *Op) UnmarshalJSON(data []byte) error {
	op, err := decodeOp(bytes.Clone(data)) // Value must not alias data
	if err != nil {
		return err
	}
	*o = op
	return nil
}

// ParsePatch decodes and validates an RFC 6902 JSON Patch document (a JSON
// array of operation objects). Errors wrap ErrMalformed.
func ParsePatch(data []byte) (Patch, error) {
	return parsePatch(bytes.Clone(data)) // values must not alias the caller's buffer
}

// parsePatch is ParsePatch with op values pointing into data.
func parsePatch(data []byte) (Patch, error) {
	p := Patch{}
	err := elements(data, func(i int, raw []byte) error {
		op, err := decodeOp(raw)
		if err != nil {
			return fmt.Errorf("patch op %d: %w", i, err)
		}
		p = append(p, op)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}

func decodeOp(data []byte) (Op, error) {
	var o Op
	var seen [3]bool // op, path, from
	err := members(data, func(name string, raw []byte) error {
		var dst *string
		var k int
		switch name {
		case "op":
			dst, k = &o.Op, 0
		case "path":
			dst, k = &o.Path, 1
		case "from":
			dst, k = &o.From, 2
		case "value":
			if o.Value != nil {
				return errTwice(name)
			}
			o.Value = raw // RawMessage keeps null as "null"
			return nil
		default: // RFC 6902 4: other members are ignored
			return nil
		}
		if seen[k] {
			// RFC 6902 A.13: {"op":"add",…,"op":"remove"} is an error,
			// not whichever came last.
			return errTwice(name)
		}
		seen[k] = true
		s, ok := unquote(raw)
		if !ok {
			return fmt.Errorf("%w: %q is not a string", ErrMalformed, name)
		}
		*dst = s
		return nil
	})
	switch {
	case err != nil:
		return Op{}, err
	case !seen[0]:
		return Op{}, fmt.Errorf("%w: missing \"op\"", ErrMalformed)
	case !seen[1]:
		return Op{}, fmt.Errorf("%w: %s: missing \"path\"", ErrMalformed, short(o.Op))
	case !seen[2] && (o.Op == OpMove || o.Op == OpCopy):
		return Op{}, fmt.Errorf("%w: %s: missing \"from\"", ErrMalformed, o.Op)
	}
	if err := o.validate(); err != nil {
		return Op{}, err
	}
	return o, nil
}

func errTwice(name string) error {
	return fmt.Errorf("%w: member %q appears twice", ErrMalformed, short(name))
}

// validate checks what can be checked without a document: a known op, the
// members it needs, pointer syntax, and no move into itself.
func (o Op) validate() error {
	_, err := compileOp(o, false)
	return err
}

// compiledOp is an op ready to run: pointers parsed, value parsed into a
// fresh tree (owned by this op run only).
type compiledOp struct {
	src   Op
	path  pointer
	from  pointer
	value any
}

// compileOp parses o. With parse, the value is parsed into a tree too
// (otherwise only checked for presence, to keep validation cheap).
func compileOp(o Op, parse bool) (c compiledOp, err error) {
	c.src = o
	switch o.Op {
	case OpAdd, OpRemove, OpReplace, OpMove, OpCopy, OpTest:
	default:
		return c, fmt.Errorf("%w: unknown op %s", ErrMalformed, short(o.Op))
	}
	if c.path, err = parsePointer(o.Path); err != nil {
		return c, err
	}
	switch o.Op {
	case OpRemove:
		if len(c.path) == 0 {
			return c, fmt.Errorf("%w: cannot remove the whole document", ErrMalformed)
		}
	case OpMove, OpCopy:
		if c.from, err = parsePointer(o.From); err != nil {
			return c, fmt.Errorf("from: %w", err)
		}
		if o.Op == OpMove && c.from.isProperPrefixOf(c.path) {
			return c, fmt.Errorf("%w: cannot move a value into itself", ErrMalformed)
		}
	default: // add, replace, test
		if o.Value == nil {
			return c, fmt.Errorf("%w: missing \"value\"", ErrMalformed)
		}
		if !parse {
			return c, nil
		}
		budget := MaxDepth - len(c.path)
		if o.Op == OpTest {
			budget = MaxDepth // compared, never stored
		}
		if c.value, err = parseValue(o.Value, budget); err != nil {
			return c, fmt.Errorf("value: %w", err)
		}
	}
	return c, nil
}

// describe names op i for an error message: "patch op 2 (replace /a/b)".
func (c compiledOp) describe(i int) string {
	if c.src.Op == OpMove || c.src.Op == OpCopy {
		return fmt.Sprintf("patch op %d (%s %s from %s)", i, short(c.src.Op), short(c.src.Path), short(c.src.From))
	}
	return fmt.Sprintf("patch op %d (%s %s)", i, short(c.src.Op), short(c.src.Path))
}

// compile validates and parses every op of p before any runs, so that a
// malformed patch never touches the document.
func compile(p Patch) ([]compiledOp, error) {
	ops := make([]compiledOp, len(p))
	for i, o := range p {
		c, err := compileOp(o, true)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", c.describe(i), err)
		}
		ops[i] = c
	}
	return ops, nil
}

// patchSize is p's approximate encoded size, for MaxChangeSize checks of
// patches that reducers make.
func patchSize(p Patch) int {
	n := 2
	for _, o := range p {
		n += 32 + len(o.Op) + len(o.Path) + len(o.From) + len(o.Value)
	}
	return n
}

// txn mutates a document in place and logs how to undo each mutation, so
// that a failed op rolls the whole patch back at the cost of the ops done,
// never of the document.
type txn struct {
	root   *any
	undo   []func()
	copier copier
}

func (t *txn) rollback() {
	for i := len(t.undo) - 1; i >= 0; i-- {
		t.undo[i]()
	}
	t.undo = t.undo[:0]
}

// run applies ops in order; on the first error it rolls back and returns it.
func (t *txn) run(ops []compiledOp) error {
	for i, c := range ops {
		if err := t.do(c); err != nil {
			t.rollback()
			if errors.Is(err, ErrNotFound) && !errors.Is(err, ErrConflict) {
				err = fmt.Errorf("%w: %w", ErrConflict, err)
			}
			return fmt.Errorf("%s: %w", c.describe(i), err)
		}
	}
	return nil
}

func (t *txn) do(c compiledOp) error {
	switch c.src.Op {
	case OpAdd:
		return t.add(c.path, c.value)
	case OpRemove:
		_, err := t.remove(c.path)
		return err
	case OpReplace:
		return t.replace(c.path, c.value)
	case OpMove:
		return t.move(c.from, c.path)
	case OpCopy:
		return t.copy(c.from, c.path)
	default: // OpTest; compile admits no other
		return t.test(c.path, c.value)
	}
}

// get returns the node at p.
func (t *txn) get(p pointer) (any, error) {
	return lookup(*t.root, p)
}

// lookup walks p from v. Errors wrap ErrNotFound.
func lookup(v any, p pointer) (any, error) {
	for i, tok := range p {
		switch x := v.(type) {
		case map[string]any:
			e, ok := x[tok]
			if !ok {
				return nil, fmt.Errorf("%w: no member %q in %s", ErrNotFound, short(tok), where(p[:i]))
			}
			v = e
		case *array:
			j, err := arrayIndex(tok, len(x.elems), false)
			if err != nil {
				return nil, fmt.Errorf("in %s: %w", where(p[:i]), err)
			}
			v = x.elems[j]
		default:
			return nil, fmt.Errorf("%w: %s is %s, not an object or array", ErrNotFound, where(p[:i]), kindOf(v))
		}
	}
	return v, nil
}

func where(p pointer) string {
	if len(p) == 0 {
		return "the document root"
	}
	return short(p.String())
}

func kindOf(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case json.Number:
		return "a number"
	case string:
		return "a string"
	case map[string]any:
		return "an object"
	default:
		return "an array"
	}
}

// parent returns the container holding p's last token.
func (t *txn) parent(p pointer) (any, string, error) {
	v, err := t.get(p[:len(p)-1])
	return v, p[len(p)-1], err
}

func (t *txn) add(p pointer, v any) error {
	if len(p) == 0 {
		old := *t.root
		*t.root = v
		t.undo = append(t.undo, func() { *t.root = old })
		return nil
	}
	parent, last, err := t.parent(p)
	if err != nil {
		return err
	}
	switch x := parent.(type) {
	case map[string]any:
		old, had := x[last]
		x[last] = v
		if had {
			t.undo = append(t.undo, func() { x[last] = old })
		} else {
			t.undo = append(t.undo, func() { delete(x, last) })
		}
	case *array:
		i, err := arrayIndex(last, len(x.elems), true)
		if err != nil {
			return fmt.Errorf("in %s: %w", where(p[:len(p)-1]), err)
		}
		x.insert(i, v)
		t.undo = append(t.undo, func() { x.remove(i) })
	default:
		return fmt.Errorf("%w: %s is %s, not an object or array", ErrNotFound, where(p[:len(p)-1]), kindOf(parent))
	}
	return nil
}

func (t *txn) remove(p pointer) (any, error) {
	target, err := t.get(p) // also proves the parent is a container
	if err != nil {
		return nil, err
	}
	parent, last, _ := t.parent(p)
	switch x := parent.(type) {
	case map[string]any:
		delete(x, last)
		t.undo = append(t.undo, func() { x[last] = target })
	case *array:
		i, _ := arrayIndex(last, len(x.elems), false)
		x.remove(i)
		t.undo = append(t.undo, func() { x.insert(i, target) })
	}
	return target, nil
}

func (t *txn) replace(p pointer, v any) error {
	if _, err := t.get(p); err != nil {
		return err
	}
	if len(p) == 0 {
		return t.add(p, v)
	}
	parent, last, _ := t.parent(p)
	switch x := parent.(type) {
	case map[string]any:
		old := x[last]
		x[last] = v
		t.undo = append(t.undo, func() { x[last] = old })
	case *array:
		i, _ := arrayIndex(last, len(x.elems), false)
		old := x.elems[i]
		x.elems[i] = v
		t.undo = append(t.undo, func() { x.elems[i] = old })
	}
	return nil
}

func (t *txn) move(from, to pointer) error {
	if from.equal(to) {
		_, err := t.get(from) // a no-op, but from must exist
		return err
	}
	v, err := t.remove(from)
	if err != nil {
		return fmt.Errorf("from: %w", err)
	}
	// Moving deeper may break MaxDepth; only then is the subtree measured.
	if len(to) > len(from) && len(to)+depth(v) > MaxDepth {
		return errTooDeep
	}
	return t.add(to, v)
}

func (t *txn) copy(from, to pointer) error {
	v, err := t.get(from)
	if err != nil {
		return fmt.Errorf("from: %w", err)
	}
	c, d, err := t.copier.copy(v)
	if err != nil {
		return err
	}
	if len(to)+d > MaxDepth {
		return errTooDeep
	}
	return t.add(to, c)
}

func (t *txn) test(p pointer, want any) error {
	got, err := t.get(p)
	if err != nil {
		return err
	}
	if !equal(got, want) {
		return fmt.Errorf("%w: test failed: the value differs", ErrConflict)
	}
	return nil
}
