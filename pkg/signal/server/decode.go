package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/rooms-dev/rooms/pkg/signal"
)

// errBadFrame is wrapped by decodeFrame's errors: the frame is not a JSON
// object with a string "type".
var errBadFrame = errors.New("bad frame")

// maxIDLen bounds ids and tokens so that keys, logs and envelopes stay small.
const maxIDLen = 256

// decodeFrame parses one client frame. Fields other than type, dst and
// payload are ignored: src is stamped by the server, never trusted.
func decodeFrame(b []byte) (signal.Message, error) {
	var m signal.Message
	b = bytes.TrimSpace(b)
	if len(b) == 0 || b[0] != '{' {
		return m, fmt.Errorf("%w: not a JSON object", errBadFrame)
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return signal.Message{}, fmt.Errorf("%w: %v", errBadFrame, err)
	}
	if m.Type == "" {
		return signal.Message{}, fmt.Errorf("%w: missing type", errBadFrame)
	}
	m.Src = ""
	return m, nil
}

// validID reports whether s may be used as a peer id, token or key: 1 to 256
// bytes, no control characters (so ids are safe in logs and in the Redis
// envelope, which separates fields with '\n').
func validID(s string) bool {
	if s == "" || len(s) > maxIDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			return false
		}
	}
	return true
}
