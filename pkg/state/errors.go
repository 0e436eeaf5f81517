package state

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// Causes of a rejected change, read (Result.Err) or snapshot. Compare with
// errors.Is; the error text adds context (which op, which path).
var (
	// ErrConflict: the change does not fit the current document. A `test` op
	// failed (a conditional update lost: "take the seat if empty"), or a path
	// it names does not exist or has the wrong type. Retrying the same change
	// is pointless; re-read the state and decide again.
	ErrConflict = errors.New("conflict")
	// ErrNotFound: a path names nothing in the document. In a rejected change
	// it always comes together with ErrConflict.
	ErrNotFound = errors.New("not found")
	// ErrMalformed: the change is wrong whatever the document: bad JSON, bad
	// JSON Pointer syntax, unknown op, missing field, move into itself.
	ErrMalformed = errors.New("malformed change")
	// ErrTooLarge: the change is larger than MaxChangeSize, would nest the
	// document deeper than MaxDepth, or copies more than MaxCopyValues.
	ErrTooLarge = errors.New("too large")
	// ErrUnknownAction: no reducer is registered under the action's name.
	ErrUnknownAction = errors.New("unknown action")
	// ErrReducer: the action's reducer returned an error (or panicked).
	ErrReducer = errors.New("reducer failed")
	// ErrStale: the change's sequence number is older than the last one
	// applied for its proposer; it was not applied (again).
	ErrStale = errors.New("stale change")
	// ErrVersion: a change or snapshot in a format version this code does
	// not know (written by a newer member).
	ErrVersion = errors.New("unsupported format version")
	// ErrCorrupt: a snapshot that fails its checksum or does not parse.
	ErrCorrupt = errors.New("corrupt snapshot")
	// ErrBadSignature: the machine's Verifier refused the change (a missing
	// or wrong signature, a proposer that is not a member). Such a change
	// is not remembered for the proposer it names: it takes none of that
	// proposer's sequence numbers.
	ErrBadSignature = errors.New("bad signature")
)

// errorKinds lists the sentinels a replicated error can carry, with the stable
// names used for them in snapshots. Order matters only for tie-free lookup.
var errorKinds = []struct {
	name string
	err  error
}{
	{"conflict", ErrConflict},
	{"not-found", ErrNotFound},
	{"malformed", ErrMalformed},
	{"too-large", ErrTooLarge},
	{"unknown-action", ErrUnknownAction},
	{"reducer", ErrReducer},
	{"stale", ErrStale},
	{"version", ErrVersion},
	{"bad-signature", ErrBadSignature},
}

// resultError is the canonical form of a rejected change's error: its text
// and the sentinels it matches, and nothing else. Every member builds the
// same one for the same change, and it survives a snapshot unchanged, so a
// proposer sees the same error whichever member's result reaches it.
type resultError struct {
	msg   string
	kinds []error
}

func (e *resultError) Error() string   { return e.msg }
func (e *resultError) Unwrap() []error { return e.kinds }

// canonical turns err into a resultError (nil stays nil).
func canonical(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := err.(*resultError); ok {
		return err
	}
	e := &resultError{msg: err.Error()}
	for _, k := range errorKinds {
		if errors.Is(err, k.err) {
			e.kinds = append(e.kinds, k.err)
		}
	}
	return e
}

// kindNames returns the snapshot names of err's sentinels.
func kindNames(err error) []string {
	var names []string
	for _, k := range errorKinds {
		if errors.Is(err, k.err) {
			names = append(names, k.name)
		}
	}
	return names
}

// errorFromNames rebuilds a canonical error read from a snapshot.
func errorFromNames(msg string, names []string) (error, error) {
	e := &resultError{msg: msg}
	for _, n := range names {
		found := false
		for _, k := range errorKinds {
			if k.name == n {
				e.kinds = append(e.kinds, k.err)
				found = true
				break
			}
		}
		if !found {
			return nil, fmt.Errorf("%w: unknown error kind %q", ErrCorrupt, n)
		}
	}
	return e, nil
}

// jsonError describes a JSON decoding failure as ErrMalformed, in our own
// words where encoding/json's would leak Go type names.
func jsonError(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Errorf("%w: invalid JSON at byte %d: %s", ErrMalformed, syn.Offset, syn.Error())
	case errors.As(err, &typ):
		where := typ.Field
		if where == "" {
			where = "value"
		}
		return fmt.Errorf("%w: %s: JSON %s of the wrong type", ErrMalformed, where, typ.Value)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("%w: unexpected end of JSON", ErrMalformed)
	default:
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
}

// short cuts s for an error message to a bounded length, so that a huge
// path cannot make a huge error.
func short(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !isRuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }
