package state

import (
	"encoding/json"
	"fmt"
	"unicode/utf16"
	"unicode/utf8"
)

// A small JSON parser (RFC 8259) that builds the document tree directly, or
// only validates and skips a value, without reflection. Every change is
// decoded and its values parsed on every member, so this is the hot path:
// encoding/json with interface{} costs several times more in time and
// allocations. Semantics follow encoding/json: invalid UTF-8 and lone
// surrogates become U+FFFD, and a repeated object member keeps the last
// value.
type parser struct {
	data []byte
	pos  int
}

func (p *parser) errorf(format string, args ...any) error {
	return fmt.Errorf("%w: invalid JSON at byte %d: %s", ErrMalformed, p.pos, fmt.Sprintf(format, args...))
}

func (p *parser) ws() {
	for p.pos < len(p.data) {
		switch p.data[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

// value parses the value at p.pos (after whitespace). With build false it
// only validates it and returns nil. Containers may nest budget deep.
func (p *parser) value(build bool, budget int) (any, error) {
	p.ws()
	if p.pos >= len(p.data) {
		return nil, p.errorf("unexpected end of input")
	}
	switch c := p.data[p.pos]; {
	case c == '{':
		if budget <= 0 {
			return nil, errTooDeep
		}
		return p.object(build, budget-1)
	case c == '[':
		if budget <= 0 {
			return nil, errTooDeep
		}
		return p.array(build, budget-1)
	case c == '"':
		s, err := p.str(build)
		if err != nil || !build {
			return nil, err
		}
		return s, nil
	case c == '-' || (c >= '0' && c <= '9'):
		return p.number(build)
	case c == 't':
		return true, p.literal("true")
	case c == 'f':
		return false, p.literal("false")
	case c == 'n':
		return nil, p.literal("null")
	default:
		return nil, p.errorf("unexpected %q", c)
	}
}

func (p *parser) literal(word string) error {
	if string(p.data[p.pos:min(len(p.data), p.pos+len(word))]) != word {
		return p.errorf("invalid literal")
	}
	p.pos += len(word)
	return nil
}

func (p *parser) object(build bool, budget int) (any, error) {
	p.pos++ // '{'
	var m map[string]any
	if build {
		m = map[string]any{}
	}
	p.ws()
	if p.pos < len(p.data) && p.data[p.pos] == '}' {
		p.pos++
		return m, nil
	}
	for {
		p.ws()
		if p.pos >= len(p.data) || p.data[p.pos] != '"' {
			return nil, p.errorf("expected a member name")
		}
		k, err := p.str(build)
		if err != nil {
			return nil, err
		}
		if err := p.expect(':'); err != nil {
			return nil, err
		}
		v, err := p.value(build, budget)
		if err != nil {
			return nil, err
		}
		if build {
			m[k] = v
		}
		if done, err := p.next('}'); done || err != nil {
			return m, err
		}
	}
}

func (p *parser) array(build bool, budget int) (any, error) {
	p.pos++ // '['
	var a *array
	if build {
		a = &array{elems: []any{}}
	}
	p.ws()
	if p.pos < len(p.data) && p.data[p.pos] == ']' {
		p.pos++
		return a, nil
	}
	for {
		v, err := p.value(build, budget)
		if err != nil {
			return nil, err
		}
		if build {
			a.elems = append(a.elems, v)
		}
		if done, err := p.next(']'); done || err != nil {
			return a, err
		}
	}
}

func (p *parser) expect(c byte) error {
	p.ws()
	if p.pos >= len(p.data) || p.data[p.pos] != c {
		return p.errorf("expected %q", c)
	}
	p.pos++
	return nil
}

// next consumes the ',' between container items or the closing byte,
// reporting whether the container ended.
func (p *parser) next(closing byte) (bool, error) {
	p.ws()
	if p.pos < len(p.data) {
		switch p.data[p.pos] {
		case ',':
			p.pos++
			return false, nil
		case closing:
			p.pos++
			return true, nil
		}
	}
	return false, p.errorf("expected ',' or %q", closing)
}

func (p *parser) number(build bool) (any, error) {
	start := p.pos
	p.skip('-')
	switch {
	case p.skip('0'):
	case p.digits() == 0:
		return nil, p.errorf("invalid number")
	}
	if p.skip('.') && p.digits() == 0 {
		return nil, p.errorf("invalid number")
	}
	if p.skip('e') || p.skip('E') {
		if !p.skip('+') {
			p.skip('-')
		}
		if p.digits() == 0 {
			return nil, p.errorf("invalid number")
		}
	}
	if !build {
		return nil, nil
	}
	return json.Number(p.data[start:p.pos]), nil
}

func (p *parser) skip(c byte) bool {
	if p.pos < len(p.data) && p.data[p.pos] == c {
		p.pos++
		return true
	}
	return false
}

func (p *parser) digits() int {
	start := p.pos
	for p.pos < len(p.data) && p.data[p.pos] >= '0' && p.data[p.pos] <= '9' {
		p.pos++
	}
	return p.pos - start
}

// str parses the string at p.pos (a '"'); with build, it returns it
// unescaped.
func (p *parser) str(build bool) (string, error) {
	start := p.pos + 1
	i, ascii := start, true
	for ; i < len(p.data); i++ {
		c := p.data[i]
		if c == '"' {
			break
		}
		if c == '\\' || c < 0x20 {
			return p.strSlow(start, build)
		}
		if c >= utf8.RuneSelf {
			ascii = false
		}
	}
	if i >= len(p.data) {
		p.pos = i
		return "", p.errorf("unterminated string")
	}
	raw := p.data[start:i]
	if !ascii && !utf8.Valid(raw) {
		return p.strSlow(start, build)
	}
	p.pos = i + 1
	if !build {
		return "", nil
	}
	return string(raw), nil
}

// strSlow handles strings with escapes, control bytes or invalid UTF-8.
func (p *parser) strSlow(start int, build bool) (string, error) {
	var b []byte
	i := start
	for i < len(p.data) {
		c := p.data[i]
		switch {
		case c == '"':
			p.pos = i + 1
			return string(b), nil
		case c < 0x20:
			p.pos = i
			return "", p.errorf("control character in string")
		case c == '\\':
			p.pos = i
			r, n, err := p.escape(i)
			if err != nil {
				return "", err
			}
			if build {
				b = utf8.AppendRune(b, r)
			}
			i += n
		case c < utf8.RuneSelf:
			if build {
				b = append(b, c)
			}
			i++
		default:
			r, n := utf8.DecodeRune(p.data[i:])
			if build {
				b = utf8.AppendRune(b, r) // RuneError for invalid bytes
			}
			i += n
		}
	}
	p.pos = i
	return "", p.errorf("unterminated string")
}

// escape decodes the escape sequence at data[i] ('\\'): the rune and how
// many bytes it took.
func (p *parser) escape(i int) (rune, int, error) {
	if i+1 >= len(p.data) {
		return 0, 0, p.errorf("unterminated string")
	}
	switch c := p.data[i+1]; c {
	case '"', '\\', '/':
		return rune(c), 2, nil
	case 'b':
		return '\b', 2, nil
	case 'f':
		return '\f', 2, nil
	case 'n':
		return '\n', 2, nil
	case 'r':
		return '\r', 2, nil
	case 't':
		return '\t', 2, nil
	case 'u':
		r, ok := hex4(p.data[i+2:])
		if !ok {
			return 0, 0, p.errorf(`invalid \u escape`)
		}
		if utf16.IsSurrogate(r) {
			if r2, ok := hex4(p.data[min(i+8, len(p.data)):]); ok && p.data[i+6] == '\\' && p.data[i+7] == 'u' {
				if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
					return d, 12, nil
				}
			}
			return utf8.RuneError, 6, nil
		}
		return r, 6, nil
	}
	return 0, 0, p.errorf("invalid escape")
}

func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r*16 + rune(c)
	}
	return r, true
}

// parseValue parses data, which must hold exactly one JSON value, into a
// tree that nests at most budget deep.
func parseValue(data []byte, budget int) (any, error) {
	p := parser{data: data}
	v, err := p.value(true, budget)
	if err != nil {
		return nil, err
	}
	p.ws()
	if p.pos != len(data) {
		return nil, p.errorf("data after the value")
	}
	return v, nil
}

// members calls fn for each member of the JSON object data (which must be
// exactly one object), with its name and its raw value, in order. Values may
// nest MaxDepth deep.
func members(data []byte, fn func(name string, raw []byte) error) error {
	p := parser{data: data}
	p.ws()
	if p.pos >= len(data) || data[p.pos] != '{' {
		return fmt.Errorf("%w: not a JSON object", ErrMalformed)
	}
	p.pos++
	p.ws()
	if !p.skip('}') {
		for {
			p.ws()
			if p.pos >= len(data) || data[p.pos] != '"' {
				return p.errorf("expected a member name")
			}
			name, err := p.str(true)
			if err != nil {
				return err
			}
			if err := p.expect(':'); err != nil {
				return err
			}
			raw, err := p.raw()
			if err != nil {
				return err
			}
			if err := fn(name, raw); err != nil {
				return err
			}
			if done, err := p.next('}'); err != nil {
				return err
			} else if done {
				break
			}
		}
	}
	p.ws()
	if p.pos != len(data) {
		return p.errorf("data after the object")
	}
	return nil
}

// elements calls fn for each element of the JSON array data (which must be
// exactly one array) with its raw text.
func elements(data []byte, fn func(i int, raw []byte) error) error {
	p := parser{data: data}
	p.ws()
	if p.pos >= len(data) || data[p.pos] != '[' {
		return fmt.Errorf("%w: not a JSON array", ErrMalformed)
	}
	p.pos++
	p.ws()
	if !p.skip(']') {
		for i := 0; ; i++ {
			raw, err := p.raw()
			if err != nil {
				return err
			}
			if err := fn(i, raw); err != nil {
				return err
			}
			if done, err := p.next(']'); err != nil {
				return err
			} else if done {
				break
			}
		}
	}
	p.ws()
	if p.pos != len(data) {
		return p.errorf("data after the array")
	}
	return nil
}

// raw validates the value at p.pos and returns its text.
func (p *parser) raw() ([]byte, error) {
	p.ws()
	start := p.pos
	if _, err := p.value(false, MaxDepth); err != nil {
		return nil, err
	}
	return p.data[start:p.pos:p.pos], nil
}

// unquote returns the string that raw (a JSON value) holds, or false.
func unquote(raw []byte) (string, bool) {
	if len(raw) == 0 || raw[0] != '"' {
		return "", false
	}
	p := parser{data: raw}
	s, err := p.str(true)
	return s, err == nil && p.pos == len(raw)
}
