package state

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strconv"
)

// Limits on an encoded change.
const (
	// MaxChangeSize bounds an encoded change, and the patch a reducer makes.
	MaxChangeSize = 1 << 20
	// MaxProposerLen bounds a proposer id, in bytes.
	MaxProposerLen = 256
	// MaxSignatureLen bounds a change's signature, in bytes.
	MaxSignatureLen = 255
)

// changeFormat is the first byte of an encoded change: the format version.
// Version 1 is that byte followed by one JSON object:
//
//	{"proposer":"alice","seq":7,"patch":[{"op":"replace","path":"/n","value":1}]}
//	{"proposer":"alice","seq":8,"action":"move","payload":{"to":"e4"}}
const changeFormat byte = 1

// signedChangeFormat (3; 2 is a batch) is a signed change: that byte, the
// signature's length (uvarint), the signature, then the change in format 1,
// whose bytes are what the signature covers (Change.SignedBytes).
const signedChangeFormat byte = 3

// Change is one proposed update of the document: a JSON Patch, or a named
// Action run by a registered Reducer. Exactly one of Patch (non-nil, possibly
// empty) and Action is set.
type Change struct {
	// Proposer is the participant id of the member that made the change.
	Proposer string
	// Seq numbers the proposer's changes, from 1 up. A change whose Seq is
	// not above the proposer's last applied one is not applied again.
	Seq    uint64
	Patch  Patch
	Action *Action
	// Signature is the proposer's signature over SignedBytes, or empty for
	// an unsigned change. This package only carries it: a Verifier checks it.
	Signature []byte

	// signed is, for a decoded signed change, the bytes its signature
	// covers, exactly as they were in the entry.
	signed []byte
}

// Action names a reducer and gives it a payload.
type Action struct {
	Name string
	// Payload is raw JSON; an absent or empty payload reaches the reducer
	// as null.
	Payload json.RawMessage
}

// EncodeChange validates c and encodes it for a raft entry: in format 1, or
// in the signed format when c has a Signature. (A change decoded from a
// signed batch carries the batch's signature, which does not cover it
// alone.) Errors wrap ErrMalformed or ErrTooLarge.
func EncodeChange(c Change) ([]byte, error) {
	body, err := encodeUnsigned(c)
	if err != nil || len(c.Signature) == 0 {
		return body, err
	}
	if len(c.Signature) > MaxSignatureLen {
		return nil, fmt.Errorf("encode change: %w: signature of %d bytes, limit %d", ErrMalformed, len(c.Signature), MaxSignatureLen)
	}
	b := make([]byte, 0, 1+binary.MaxVarintLen64+len(c.Signature)+len(body))
	b = append(b, signedChangeFormat)
	b = binary.AppendUvarint(b, uint64(len(c.Signature)))
	b = append(append(b, c.Signature...), body...)
	if len(b) > MaxChangeSize {
		return nil, fmt.Errorf("encode change: %w: %d bytes, limit %d", ErrTooLarge, len(b), MaxChangeSize)
	}
	return b, nil
}

// SignedBytes returns what a signature of c covers: c in format 1 (without
// its signature), or, for a change decoded from a signed batch, that whole
// batch (format 2). For a decoded change these are the very bytes of the
// entry, whatever was changed in c since; callers must not modify them.
func (c Change) SignedBytes() ([]byte, error) {
	if c.signed != nil {
		return c.signed, nil
	}
	return encodeUnsigned(c)
}

// encodeUnsigned encodes c in format 1, ignoring its signature.
func encodeUnsigned(c Change) ([]byte, error) {
	if err := c.validateEnvelope(); err != nil {
		return nil, fmt.Errorf("encode change: %w", err)
	}
	b := []byte{changeFormat}
	b = append(b, `{"proposer":`...)
	b = appendString(b, c.Proposer)
	b = append(b, `,"seq":`...)
	b = strconv.AppendUint(b, c.Seq, 10)
	switch {
	case c.Patch != nil && c.Action != nil:
		return nil, fmt.Errorf("encode change: %w: both a patch and an action", ErrMalformed)
	case c.Patch != nil:
		b = append(b, `,"patch":[`...)
		for i, o := range c.Patch {
			if err := o.validate(); err != nil {
				return nil, fmt.Errorf("encode change: patch op %d: %w", i, err)
			}
			ob, err := o.MarshalJSON()
			if err != nil {
				return nil, fmt.Errorf("encode change: patch op %d: %w", i, err)
			}
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, ob...)
		}
		b = append(b, ']')
	case c.Action != nil:
		if c.Action.Name == "" {
			return nil, fmt.Errorf("encode change: %w: action without a name", ErrMalformed)
		}
		b = append(b, `,"action":`...)
		b = appendString(b, c.Action.Name)
		if len(c.Action.Payload) > 0 {
			if !json.Valid(c.Action.Payload) {
				return nil, fmt.Errorf("encode change: %w: action payload is not valid JSON", ErrMalformed)
			}
			b = append(b, `,"payload":`...)
			b = append(b, c.Action.Payload...)
		}
	default:
		return nil, fmt.Errorf("encode change: %w: neither a patch nor an action", ErrMalformed)
	}
	b = append(b, '}')
	if len(b) > MaxChangeSize {
		return nil, fmt.Errorf("encode change: %w: %d bytes, limit %d", ErrTooLarge, len(b), MaxChangeSize)
	}
	return b, nil
}

func (c Change) validateEnvelope() error {
	switch {
	case c.Proposer == "":
		return fmt.Errorf("%w: no proposer", ErrMalformed)
	case len(c.Proposer) > MaxProposerLen:
		return fmt.Errorf("%w: proposer id of %d bytes, limit %d", ErrMalformed, len(c.Proposer), MaxProposerLen)
	case c.Seq == 0:
		return fmt.Errorf("%w: sequence number 0 (they start at 1)", ErrMalformed)
	}
	return nil
}

// DecodeChange decodes and validates an encoded change, signed or not.
// Errors wrap ErrMalformed, ErrTooLarge or ErrVersion, and never panic on any
// input. A signature is decoded, not checked.
func DecodeChange(data []byte) (Change, error) {
	c, err := decodeChange(data)
	if err != nil {
		return Change{}, err
	}
	return c, nil
}

// decodeChange is DecodeChange, except that when the body is bad but the
// proposer and sequence number were read, it returns them with the error, so
// that the rejection is remembered for the proposer like any result.
func decodeChange(data []byte) (Change, error) {
	switch {
	case len(data) == 0:
		return Change{}, fmt.Errorf("decode change: %w: empty", ErrMalformed)
	case len(data) > MaxChangeSize:
		return Change{}, fmt.Errorf("decode change: %w: %d bytes, limit %d", ErrTooLarge, len(data), MaxChangeSize)
	}
	// Op values, the payload and the signed bytes point into the entry:
	// copy it once so the change does not alias a buffer its caller may
	// reuse.
	switch data[0] {
	case changeFormat:
		return decodeUnsigned(bytes.Clone(data))
	case signedChangeFormat:
		return decodeSigned(bytes.Clone(data))
	}
	return Change{}, fmt.Errorf("decode change: %w: format %d, this member reads %d and %d", ErrVersion, data[0], changeFormat, signedChangeFormat)
}

// decodeSigned decodes a signed change from own, a copy the change may
// keep. A bad body comes back as decodeUnsigned's does, with the signature,
// so that the signature is checked before the rejection is remembered.
func decodeSigned(own []byte) (Change, error) {
	n, k := binary.Uvarint(own[1:])
	if k <= 0 || n == 0 || n > MaxSignatureLen || n >= uint64(len(own)-1-k) {
		return Change{}, fmt.Errorf("decode change: %w: bad signature length", ErrMalformed)
	}
	sig := own[1+k : 1+k+int(n) : 1+k+int(n)]
	body := own[1+k+int(n):]
	if body[0] != changeFormat {
		return Change{}, fmt.Errorf("decode change: %w: a signed change of format %d", ErrVersion, body[0])
	}
	c, err := decodeUnsigned(body)
	if c.Proposer != "" {
		c.Signature, c.signed = sig, body
	}
	return c, err
}

// decodeUnsigned decodes a change in format 1 from own, a copy the change
// may keep.
func decodeUnsigned(own []byte) (Change, error) {
	body := own[1:]
	var c Change
	var f changeFields
	err := members(body, f.collect)
	if err == nil {
		err = f.envelope(&c)
	}
	if err != nil {
		return Change{}, fmt.Errorf("decode change: %w", err)
	}
	if err := f.body(&c); err != nil {
		return Change{Proposer: c.Proposer, Seq: c.Seq}, fmt.Errorf("decode change: %w", err)
	}
	return c, nil
}

// changeFields are the known members of an encoded change, raw.
type changeFields struct {
	proposer, seq, patch, action, payload []byte
}

func (f *changeFields) collect(name string, raw []byte) error {
	var dst *[]byte
	switch name {
	case "proposer":
		dst = &f.proposer
	case "seq":
		dst = &f.seq
	case "patch":
		dst = &f.patch
	case "action":
		dst = &f.action
	case "payload":
		dst = &f.payload
	default: // written by a newer member; ignored
		return nil
	}
	if *dst != nil {
		return errTwice(name)
	}
	*dst = raw
	return nil
}

func (f *changeFields) envelope(c *Change) error {
	if f.proposer != nil {
		s, ok := unquote(f.proposer)
		if !ok {
			return fmt.Errorf("%w: \"proposer\" is not a string", ErrMalformed)
		}
		c.Proposer = s
	}
	if f.seq != nil {
		n, err := strconv.ParseUint(string(f.seq), 10, 64)
		if err != nil {
			return fmt.Errorf("%w: \"seq\" is not an unsigned 64-bit integer", ErrMalformed)
		}
		c.Seq = n
	}
	return c.validateEnvelope()
}

func (f *changeFields) body(c *Change) error {
	switch {
	case f.patch != nil && f.action != nil:
		return fmt.Errorf("%w: both a patch and an action", ErrMalformed)
	case f.patch != nil:
		p, err := parsePatch(f.patch)
		if err != nil {
			return err
		}
		c.Patch = p
	case f.action != nil:
		name, ok := unquote(f.action)
		if !ok || name == "" {
			return fmt.Errorf("%w: \"action\" is not a non-empty string", ErrMalformed)
		}
		c.Action = &Action{Name: name, Payload: f.payload}
		if c.Action.Payload == nil {
			c.Action.Payload = json.RawMessage("null")
		}
	default:
		return fmt.Errorf("%w: neither a patch nor an action", ErrMalformed)
	}
	return nil
}
