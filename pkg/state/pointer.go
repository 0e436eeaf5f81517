package state

import (
	"fmt"
	"slices"
	"strings"
)

// pointer is a parsed JSON Pointer (RFC 6901): its unescaped reference
// tokens. The empty pointer (no tokens) is the whole document.
type pointer []string

// parsePointer parses s per RFC 6901: "" or "/"-separated tokens in which
// "~1" stands for "/" and "~0" for "~"; any other "~" is an error.
func parsePointer(s string) (pointer, error) {
	if s == "" {
		return nil, nil
	}
	if s[0] != '/' {
		return nil, fmt.Errorf("%w: JSON pointer %s does not start with /", ErrMalformed, short(s))
	}
	toks := strings.Split(s[1:], "/")
	for i, t := range toks {
		if !strings.Contains(t, "~") {
			continue
		}
		u, err := unescapeToken(t)
		if err != nil {
			return nil, fmt.Errorf("%w: JSON pointer %s: %v", ErrMalformed, short(s), err)
		}
		toks[i] = u
	}
	return toks, nil
}

func unescapeToken(t string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(t); i++ {
		if t[i] != '~' {
			b.WriteByte(t[i])
			continue
		}
		if i+1 == len(t) || (t[i+1] != '0' && t[i+1] != '1') {
			return "", fmt.Errorf("~ not followed by 0 or 1")
		}
		if t[i+1] == '0' {
			b.WriteByte('~')
		} else {
			b.WriteByte('/')
		}
		i++
	}
	return b.String(), nil
}

var tokenEscaper = strings.NewReplacer("~", "~0", "/", "~1")

// String formats p back into RFC 6901 syntax.
func (p pointer) String() string {
	var b strings.Builder
	for _, t := range p {
		b.WriteByte('/')
		b.WriteString(tokenEscaper.Replace(t))
	}
	return b.String()
}

// isProperPrefixOf reports whether p names a strict ancestor of q.
func (p pointer) isProperPrefixOf(q pointer) bool {
	if len(p) >= len(q) {
		return false
	}
	for i := range p {
		if p[i] != q[i] {
			return false
		}
	}
	return true
}

func (p pointer) equal(q pointer) bool { return slices.Equal(p, q) }

// arrayIndex reads token t as an index into an array of length n: decimal
// digits without leading zeros, below n, or at most n when end is true. With
// end, "-" means n (append).
func arrayIndex(t string, n int, end bool) (int, error) {
	if t == "-" {
		if end {
			return n, nil
		}
		return 0, fmt.Errorf("%w: index - (past the end) used where an element must exist", ErrNotFound)
	}
	if t == "" || (len(t) > 1 && t[0] == '0') || strings.Trim(t, "0123456789") != "" {
		return 0, fmt.Errorf("%w: %s is not an array index", ErrNotFound, short(t))
	}
	if len(t) > 9 { // no array is that long; also keeps i from overflowing
		return 0, fmt.Errorf("%w: index %s out of range for array of length %d", ErrNotFound, short(t), n)
	}
	i := 0
	for _, c := range []byte(t) {
		i = i*10 + int(c-'0')
	}
	if i > n || (i == n && !end) {
		return 0, fmt.Errorf("%w: index %d out of range for array of length %d", ErrNotFound, i, n)
	}
	return i, nil
}
