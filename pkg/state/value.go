package state

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// MaxDepth bounds how deeply the document may nest (containers within
// containers). It keeps every recursive walk shallow and every snapshot
// parseable, however many changes pile nesting on nesting.
const MaxDepth = 512

// The document is a tree of:
//
//	map[string]any  JSON object (mutated in place)
//	*array          JSON array (a pointer, so a container can grow in place)
//	json.Number     JSON number, its exact text
//	string, bool, nil
//
// Each node is owned by exactly one parent: values from a patch are parsed
// fresh and `copy` deep-copies, so in-place mutation never shows elsewhere.
type array struct{ elems []any }

func (a *array) insert(i int, v any) { a.elems = slices.Insert(a.elems, i, v) }
func (a *array) remove(i int)        { a.elems = slices.Delete(a.elems, i, i+1) }

var errTooDeep = fmt.Errorf("%w: document would nest deeper than %d levels", ErrTooLarge, MaxDepth)

// depth is how many container levels v has (0 for a scalar).
func depth(v any) int {
	d := 0
	switch x := v.(type) {
	case map[string]any:
		for _, e := range x {
			d = max(d, depth(e))
		}
		return d + 1
	case *array:
		for _, e := range x.elems {
			d = max(d, depth(e))
		}
		return d + 1
	}
	return 0
}

// MaxCopyValues bounds how many values (scalars and containers) the copy
// ops of one change may copy in all. Without it a patch of a few dozen
// {"op":"copy","from":"","path":"/a"} would double the document each op
// and exhaust every member's memory.
const MaxCopyValues = 1 << 18

var errCopyTooLarge = fmt.Errorf("%w: copies more than %d values in one change", ErrTooLarge, MaxCopyValues)

// copier deep-copies values, counting them against a per-change budget.
type copier struct{ left int }

// copy returns a copy of v sharing no container with it and its depth, or
// errCopyTooLarge. (Depth is checked by the caller, after the copy: an
// error found mid-walk would depend on map order, and every member must
// give the same error.)
func (c *copier) copy(v any) (any, int, error) {
	if c.left--; c.left < 0 {
		return nil, 0, errCopyTooLarge
	}
	d := 0
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			ce, de, err := c.copy(e)
			if err != nil {
				return nil, 0, err
			}
			m[k], d = ce, max(d, de)
		}
		return m, d + 1, nil
	case *array:
		a := &array{elems: make([]any, len(x.elems))}
		for i, e := range x.elems {
			ce, de, err := c.copy(e)
			if err != nil {
				return nil, 0, err
			}
			a.elems[i], d = ce, max(d, de)
		}
		return a, d + 1, nil
	}
	return v, 0, nil
}

// equal is JSON equality per RFC 6902 `test`: same type, numbers equal as
// numbers (1, 1.0 and 1e0 are equal), strings equal, objects with the same
// members (order ignored), arrays with equal elements in order.
func equal(a, b any) bool {
	switch x := a.(type) {
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, e := range x {
			f, ok := y[k]
			if !ok || !equal(e, f) {
				return false
			}
		}
		return true
	case *array:
		y, ok := b.(*array)
		if !ok || len(x.elems) != len(y.elems) {
			return false
		}
		for i := range x.elems {
			if !equal(x.elems[i], y.elems[i]) {
				return false
			}
		}
		return true
	case json.Number:
		y, ok := b.(json.Number)
		return ok && numberEqual(x, y)
	default: // string, bool, nil
		return a == b
	}
}

// numberEqual compares two JSON number texts exactly, without floating
// point. Exponents beyond ±10^15 (absurd in practice) compare as text.
func numberEqual(a, b json.Number) bool {
	if a == b {
		return true
	}
	na, oka := normalizeNumber(string(a))
	nb, okb := normalizeNumber(string(b))
	return oka && okb && na == nb
}

// normalizeNumber writes a JSON number as sign, significant digits and the
// decimal exponent of the first digit, so that equal values have equal forms.
func normalizeNumber(s string) (string, bool) {
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	mant, exp, _ := strings.Cut(strings.ToLower(s), "e")
	intPart, frac, _ := strings.Cut(mant, ".")
	digits := intPart + frac
	var e int64
	if exp != "" {
		x, err := strconv.ParseInt(strings.TrimPrefix(exp, "+"), 10, 64)
		if err != nil || x > 1e15 || x < -1e15 {
			return "", false
		}
		e = x
	}
	// value = 0.digits × 10^(len(intPart)+e); leading zeros lower the exponent.
	trimmed := strings.TrimLeft(digits, "0")
	e += int64(len(intPart)) - int64(len(digits)-len(trimmed))
	digits = strings.TrimRight(trimmed, "0")
	if digits == "" {
		return "0", true // all zeros, -0 included
	}
	sign := "+"
	if neg {
		sign = "-"
	}
	return sign + digits + "e" + strconv.FormatInt(e, 10), true
}

// appendJSON appends v's JSON text: object keys sorted, numbers as their
// original text, no insignificant space. Equal trees give equal bytes.
func appendJSON(b []byte, v any) []byte {
	switch x := v.(type) {
	case nil:
		return append(b, "null"...)
	case bool:
		if x {
			return append(b, "true"...)
		}
		return append(b, "false"...)
	case json.Number:
		return append(b, x...)
	case string:
		return appendString(b, x)
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		b = append(b, '{')
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, k)
			b = append(b, ':')
			b = appendJSON(b, x[k])
		}
		return append(b, '}')
	case *array:
		b = append(b, '[')
		for i, e := range x.elems {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSON(b, e)
		}
		return append(b, ']')
	}
	// Unreachable: the tree holds only the types above.
	panic(fmt.Sprintf("state: unexpected %T in document", v))
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string. Invalid UTF-8 becomes U+FFFD, as
// encoding/json does; U+2028 and U+2029 are escaped so the text is also
// valid JavaScript.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
