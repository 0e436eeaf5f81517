package server

import (
	"testing"
)

// FuzzDecodeFrame checks that no input crashes the decoder and that a
// decoded frame never carries a client-supplied src.
func FuzzDecodeFrame(f *testing.F) {
	for _, seed := range []string{
		`{"type":"OFFER","dst":"b","payload":{"sdp":"v=0"}}`,
		`{"type":"HEARTBEAT"}`,
		`{"type":"CANDIDATE","src":"spoof","dst":"b","payload":null}`,
		`{"type":5}`, `{`, `[]`, `null`, ``, ` {"type":"LEAVE"} `,
		`{"type":"OFFER","dst":"b","payload":"\ud800"}`,
		`{"type":"OFFER","dst":{"x":1}}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decodeFrame(b)
		if err != nil {
			if m.Type != "" || m.Src != "" {
				t.Fatalf("error %v with a non-zero message %+v", err, m)
			}
			return
		}
		if m.Type == "" || m.Src != "" {
			t.Fatalf("decoded %+v: want a type and no src", m)
		}
	})
}
