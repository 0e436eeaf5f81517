package mesh

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Version is the frame format version this package writes and the only one
// it reads. A message with another version is dropped with ErrUnknownVersion.
const Version = 1

// FrameType says what a frame carries. Types below TypeUserMin belong to this
// package (keepalive, goodbye); the layers above pick their own types from
// [TypeUserMin, 0xFF] and pass them to Send and SendEphemeral.
type FrameType uint8

// Frame types used by the mesh itself.
const (
	// TypePing carries an 8-byte sender timestamp; the receiver echoes it in a
	// TypePong so the sender can measure the round-trip time.
	TypePing FrameType = 0x01
	// TypePong echoes the payload of a TypePing.
	TypePong FrameType = 0x02
	// TypeBye tells the remote that this side is closing the connection, so it
	// sees StateClosed at once instead of waiting for ICE to time out.
	TypeBye FrameType = 0x03
	// TypeNegotiate carries a session description of a renegotiation
	// after the connection is ready (media tracks added or removed), as
	// JSON {"type": "offer" or "answer", "sdp": "..."}; see doc.go.
	TypeNegotiate FrameType = 0x04

	// TypeUserMin is the smallest type an upper layer may use. Types in
	// [0x00, TypeUserMin) are reserved for the mesh; Send rejects them.
	TypeUserMin FrameType = 0x10
)

// Sizes of the wire format. Every data-channel message is at most
// MaxMessageSize bytes, the size browsers and pion interoperate on safely.
const (
	// MaxMessageSize bounds one data-channel message, header included.
	MaxMessageSize = 16 * 1024
	// headerSize is the fixed header of every message.
	headerSize = 4
	// chunkHeaderSize is the header of a chunk message: the fixed header
	// followed by message id, chunk index and total frame length.
	chunkHeaderSize = headerSize + 12
	// MaxSinglePayload is the largest payload sent as one message; larger
	// reliable frames are chunked, larger ephemeral frames are refused.
	MaxSinglePayload = MaxMessageSize - headerSize
	// maxChunkPayload is the payload carried by one chunk message.
	maxChunkPayload = MaxMessageSize - chunkHeaderSize
)

// flagChunk marks a message as one chunk of a frame that did not fit one
// message. No other flag is defined in version 1.
const flagChunk = 0x01

// Errors of the frame codec and reassembly. Receivers wrap them with the
// remote peer id; they are never fatal to the process.
var (
	// ErrUnknownVersion: the message's version byte is not Version.
	ErrUnknownVersion = errors.New("mesh: unknown frame version")
	// ErrTruncated: the message is shorter than its header.
	ErrTruncated = errors.New("mesh: truncated frame")
	// ErrMalformed: undefined flags or reserved bits, an empty chunk, a mesh
	// frame with a bad body, or a frame on the wrong channel.
	ErrMalformed = errors.New("mesh: malformed frame")
	// ErrOversized: a message above MaxMessageSize, or a frame above the
	// configured MaxFrameSize (or, for SendEphemeral, above one message).
	ErrOversized = errors.New("mesh: frame too large")
	// ErrChunkSequence: a chunk that is not the next one of its frame, or that
	// changes the frame's type or length, or overruns it.
	ErrChunkSequence = errors.New("mesh: bad chunk sequence")
	// ErrTooManyPending: a new chunked frame while MaxPendingFrames are
	// already being reassembled.
	ErrTooManyPending = errors.New("mesh: too many frames being reassembled")
)

// message is one decoded data-channel message: a whole frame, or one chunk.
type message struct {
	typ     FrameType
	chunked bool
	id      uint32 // chunk messages only: sender's id of the frame
	index   uint32 // chunk messages only: 0, 1, 2, ... in order
	total   uint32 // chunk messages only: length of the reassembled payload
	payload []byte // aliases the decoded buffer
}

// encodeSingle returns one message carrying a whole frame.
func encodeSingle(t FrameType, payload []byte) []byte {
	b := make([]byte, headerSize+len(payload))
	b[0], b[1] = Version, byte(t)
	copy(b[headerSize:], payload)
	return b
}

// encodeChunk returns chunk number index of frame id, whose whole payload is
// total bytes long.
func encodeChunk(t FrameType, id, index, total uint32, part []byte) []byte {
	b := make([]byte, chunkHeaderSize+len(part))
	b[0], b[1], b[2] = Version, byte(t), flagChunk
	binary.BigEndian.PutUint32(b[4:], id)
	binary.BigEndian.PutUint32(b[8:], index)
	binary.BigEndian.PutUint32(b[12:], total)
	copy(b[chunkHeaderSize:], part)
	return b
}

// encodeFrame splits a frame into the messages to send and passes them to
// emit in order: one message if it fits, else chunks of at most
// MaxMessageSize bytes, encoded one at a time so that a big frame is not
// copied whole. It stops at the first error from emit.
func encodeFrame(t FrameType, id uint32, payload []byte, emit func([]byte) error) error {
	if len(payload) <= MaxSinglePayload {
		return emit(encodeSingle(t, payload))
	}
	for i, lo := uint32(0), 0; lo < len(payload); i, lo = i+1, lo+maxChunkPayload {
		hi := min(lo+maxChunkPayload, len(payload))
		if err := emit(encodeChunk(t, id, i, uint32(len(payload)), payload[lo:hi])); err != nil {
			return err
		}
	}
	return nil
}

// decodeMessage parses one data-channel message. It never panics: anything
// that is not a well-formed version-1 message is an error.
func decodeMessage(b []byte) (message, error) {
	if len(b) < headerSize {
		return message{}, fmt.Errorf("%w: %d bytes", ErrTruncated, len(b))
	}
	if b[0] != Version {
		return message{}, fmt.Errorf("%w: %d", ErrUnknownVersion, b[0])
	}
	if len(b) > MaxMessageSize {
		return message{}, fmt.Errorf("%w: message of %d bytes", ErrOversized, len(b))
	}
	if b[2]&^flagChunk != 0 || b[3] != 0 {
		return message{}, fmt.Errorf("%w: flags %#x reserved %#x", ErrMalformed, b[2], b[3])
	}
	m := message{typ: FrameType(b[1])}
	if b[2]&flagChunk == 0 {
		m.payload = b[headerSize:]
		return m, nil
	}
	if len(b) < chunkHeaderSize {
		return message{}, fmt.Errorf("%w: chunk header of %d bytes", ErrTruncated, len(b))
	}
	m.chunked = true
	m.id = binary.BigEndian.Uint32(b[4:])
	m.index = binary.BigEndian.Uint32(b[8:])
	m.total = binary.BigEndian.Uint32(b[12:])
	m.payload = b[chunkHeaderSize:]
	if len(m.payload) == 0 {
		return message{}, fmt.Errorf("%w: empty chunk", ErrMalformed)
	}
	return m, nil
}
