package mesh

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"
)

// encodeAll collects the messages encodeFrame emits.
// Frame types of the tests.
const (
	typeTest FrameType = TypeUserMin + iota
	typeOther
)

func encodeAll(t FrameType, id uint32, payload []byte) [][]byte {
	var out [][]byte
	_ = encodeFrame(t, id, payload, func(m []byte) error {
		out = append(out, m)
		return nil
	})
	return out
}

// reassemble feeds msgs to r and returns the frames completed, stopping at
// the first error.
func reassemble(r *reassembler, msgs [][]byte) (frames [][]byte, err error) {
	for _, b := range msgs {
		m, err := decodeMessage(b)
		if err != nil {
			return frames, err
		}
		_, p, done, err := r.add(m)
		if err != nil {
			return frames, err
		}
		if done {
			frames = append(frames, p)
		}
	}
	return frames, nil
}

func randomBytes(n int, seed uint64) []byte {
	b := make([]byte, n)
	rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8)}).Read(b)
	return b
}

func TestFrameRoundTripSizes(t *testing.T) {
	sizes := []int{0, 1, MaxSinglePayload - 1, MaxSinglePayload, MaxSinglePayload + 1,
		maxChunkPayload * 2, maxChunkPayload*2 + 1, 1 << 20}
	for _, n := range sizes {
		payload := randomBytes(n, uint64(n))
		msgs := encodeAll(typeTest, 42, payload)
		wantMsgs := 1
		if n > MaxSinglePayload {
			wantMsgs = (n + maxChunkPayload - 1) / maxChunkPayload
		}
		if len(msgs) != wantMsgs {
			t.Errorf("%d bytes: %d messages, want %d", n, len(msgs), wantMsgs)
		}
		for i, m := range msgs {
			if len(m) > MaxMessageSize {
				t.Errorf("%d bytes: message %d is %d bytes", n, i, len(m))
			}
		}
		frames, err := reassemble(newReassembler(DefaultMaxFrameSize, 4), msgs)
		if err != nil || len(frames) != 1 || !bytes.Equal(frames[0], payload) {
			t.Errorf("%d bytes: round trip gave %d frames, err %v", n, len(frames), err)
		}
	}
}

func TestHeaderLayout(t *testing.T) {
	got := encodeSingle(0x42, []byte{0xAA})
	if want := []byte{Version, 0x42, 0, 0, 0xAA}; !bytes.Equal(got, want) {
		t.Errorf("single: % x, want % x", got, want)
	}
	got = encodeChunk(0x42, 0x01020304, 5, 0x10000, []byte{0xAA})
	want := []byte{Version, 0x42, flagChunk, 0, 1, 2, 3, 4, 0, 0, 0, 5, 0, 1, 0, 0, 0xAA}
	if !bytes.Equal(got, want) {
		t.Errorf("chunk: % x, want % x", got, want)
	}
}

func TestInterleavedFrames(t *testing.T) {
	x := randomBytes(3*maxChunkPayload, 1)
	y := randomBytes(2*maxChunkPayload+5, 2)
	mx, my := encodeAll(typeTest, 1, x), encodeAll(typeOther, 2, y)
	small := encodeSingle(typeTest, []byte("between"))
	msgs := [][]byte{mx[0], my[0], small, mx[1], my[1], mx[2], my[2]}
	frames, err := reassemble(newReassembler(DefaultMaxFrameSize, 2), msgs)
	if err != nil {
		t.Fatal(err)
	}
	if len(frames) != 3 || string(frames[0]) != "between" ||
		!bytes.Equal(frames[1], x) || !bytes.Equal(frames[2], y) {
		t.Errorf("got %d frames", len(frames))
	}
}

func TestDecodeErrors(t *testing.T) {
	cases := []struct {
		name string
		msg  []byte
		want error
	}{
		{"empty", nil, ErrTruncated},
		{"short header", []byte{Version, 0x20, 0}, ErrTruncated},
		{"version 0", []byte{0, 0x20, 0, 0}, ErrUnknownVersion},
		{"version 2", []byte{2, 0x20, 0, 0, 1, 2}, ErrUnknownVersion},
		{"unknown flag", []byte{Version, 0x20, 0x02, 0}, ErrMalformed},
		{"reserved byte", []byte{Version, 0x20, 0, 1}, ErrMalformed},
		{"short chunk header", []byte{Version, 0x20, flagChunk, 0, 0, 0, 0, 1}, ErrTruncated},
		{"empty chunk", encodeChunk(0x20, 1, 0, 10, nil), ErrMalformed},
		{"oversized message", append(encodeSingle(0x20, nil), make([]byte, MaxMessageSize)...), ErrOversized},
	}
	for _, c := range cases {
		if _, err := decodeMessage(c.msg); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
}

func TestReassemblyErrors(t *testing.T) {
	chunk := func(id, index, total uint32, n int) []byte {
		return encodeChunk(typeTest, id, index, total, make([]byte, n))
	}
	cases := []struct {
		name string
		msgs [][]byte
		want error
	}{
		{"starts mid-frame", [][]byte{chunk(1, 1, 20, 10)}, ErrChunkSequence},
		{"skips a chunk", [][]byte{chunk(1, 0, 30, 10), chunk(1, 2, 30, 10)}, ErrChunkSequence},
		{"repeats a chunk", [][]byte{chunk(1, 0, 30, 10), chunk(1, 0, 30, 10)}, ErrChunkSequence},
		{"overruns", [][]byte{chunk(1, 0, 15, 10), chunk(1, 1, 15, 10)}, ErrChunkSequence},
		{"changes length", [][]byte{chunk(1, 0, 30, 10), chunk(1, 1, 40, 10)}, ErrChunkSequence},
		{"changes type", [][]byte{chunk(1, 0, 30, 10), encodeChunk(typeOther, 1, 1, 30, make([]byte, 10))}, ErrChunkSequence},
		{"too large", [][]byte{chunk(1, 0, 1001, 10)}, ErrOversized},
		{"too many pending", [][]byte{chunk(1, 0, 30, 10), chunk(2, 0, 30, 10), chunk(3, 0, 30, 10)}, ErrTooManyPending},
		{"huge announced", [][]byte{chunk(1, 0, 0xFFFFFFFF, 10)}, ErrOversized},
	}
	for _, c := range cases {
		r := newReassembler(1000, 2)
		if _, err := reassemble(r, c.msgs); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
}

func TestReassemblyRecoversAfterError(t *testing.T) {
	r := newReassembler(1000, 2)
	bad := encodeChunk(typeTest, 1, 0, 30, make([]byte, 10))
	if _, err := reassemble(r, [][]byte{bad, encodeChunk(typeTest, 1, 5, 30, make([]byte, 10))}); err == nil {
		t.Fatal("bad sequence accepted")
	}
	if len(r.pending) != 0 {
		t.Errorf("failed frame still pending")
	}
	frames, err := reassemble(r, [][]byte{
		encodeChunk(typeTest, 1, 0, 12, []byte("hello ")), encodeChunk(typeTest, 1, 1, 12, []byte("world!")),
	})
	if err != nil || len(frames) != 1 || string(frames[0]) != "hello world!" {
		t.Errorf("after error: %q, %v", frames, err)
	}
}

// FuzzDecodeFrame checks that any message decodes to an error or to fields
// that encode back to the same bytes, without panicking.
func FuzzDecodeFrame(f *testing.F) {
	f.Add(encodeSingle(typeTest, []byte("hello")))
	f.Add(encodeSingle(TypePing, make([]byte, 8)))
	f.Add(encodeChunk(typeTest, 1, 0, 100, []byte("part")))
	f.Add([]byte{})
	f.Add([]byte{2, 0x20, 0, 0})
	f.Add([]byte{Version, 0x20, flagChunk, 0, 0, 0})
	f.Add([]byte{Version, 0x20, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decodeMessage(b)
		if err != nil {
			return
		}
		var again []byte
		if m.chunked {
			again = encodeChunk(m.typ, m.id, m.index, m.total, m.payload)
		} else {
			again = encodeSingle(m.typ, m.payload)
		}
		if !bytes.Equal(again, b) {
			t.Fatalf("decode/encode changed % x to % x", b, again)
		}
	})
}

// FuzzReassembly feeds arbitrary message sequences to a small reassembler,
// and checks that a frame encoded from the fuzz payload always survives the
// trip.
func FuzzReassembly(f *testing.F) {
	two := encodeAll(typeTest, 3, make([]byte, MaxSinglePayload+10))
	f.Add(joinMessages(two), []byte("payload"))
	f.Add(joinMessages([][]byte{encodeChunk(typeTest, 1, 1, 5, []byte("x"))}), []byte{})
	f.Add(joinMessages([][]byte{encodeChunk(typeTest, 1, 0, 9, []byte("abc")), encodeChunk(typeTest, 1, 1, 9, []byte("defghi"))}), make([]byte, 40000))
	f.Add([]byte{0, 3, 1, 2, 3}, []byte("x"))
	f.Fuzz(func(t *testing.T, stream, payload []byte) {
		const maxFrame = 1 << 16
		r := newReassembler(maxFrame, 3)
		for _, msg := range splitMessages(stream) {
			m, err := decodeMessage(msg)
			if err != nil {
				continue
			}
			_, p, done, err := r.add(m)
			if err == nil && done && len(p) > maxFrame {
				t.Fatalf("frame of %d bytes passed a %d limit", len(p), maxFrame)
			}
			if len(r.pending) > 3 {
				t.Fatalf("%d frames pending, limit 3", len(r.pending))
			}
		}
		if len(payload) > maxFrame {
			return
		}
		// Any payload within the limit survives chunking and reassembly.
		r = newReassembler(maxFrame, 3)
		frames, err := reassemble(r, encodeAll(typeTest, 99, payload))
		if err != nil || len(frames) != 1 || !bytes.Equal(frames[0], payload) {
			t.Fatalf("round trip of %d bytes: %d frames, %v", len(payload), len(frames), err)
		}
	})
}

// joinMessages and splitMessages frame a message list as [len u16][bytes]...
// so the fuzzer can mutate sequences of messages.
func joinMessages(msgs [][]byte) []byte {
	var out []byte
	for _, m := range msgs {
		out = append(out, byte(len(m)>>8), byte(len(m)))
		out = append(out, m...)
	}
	return out
}

func splitMessages(b []byte) [][]byte {
	var out [][]byte
	for len(b) >= 2 {
		n := int(b[0])<<8 | int(b[1])
		b = b[2:]
		n = min(n, len(b))
		out = append(out, b[:n])
		b = b[n:]
	}
	return out
}
