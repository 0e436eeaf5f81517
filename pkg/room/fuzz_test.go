package room

import (
	"crypto/ed25519"
	"encoding/json"
	"log/slog"
	"sync"
	"testing"

	"github.com/rooms-dev/rooms/pkg/mesh"
)

// Fuzz targets for what a room decodes from strangers: knocks and answers
// that come through the signalling server (sealed or not), and the member
// info stored with each raft member. Whatever the bytes, no panic, and a
// knock that decodes still goes through the identity check.

var fuzzKey = sync.OnceValue(func() *roomKey { return deriveRoomKey("fuzz", "app", "room") })

// fuzzRooms returns a room without a password and one with.
func fuzzRooms() []*Room {
	room := func(key *roomKey) *Room {
		return &Room{roomID: "room", signalID: signalID("app", "room"), key: key, log: slog.New(slog.DiscardHandler)}
	}
	return []*Room{room(nil), room(fuzzKey())}
}

func FuzzOpenKnock(f *testing.F) {
	_, priv, _ := ed25519.GenerateKey(nil)
	signer := &Room{roomID: "room", identity: priv}
	k := signer.signKnock(Knock{Version: protocolVersion, Participant: "bob"}, "v=0\r\na=fingerprint:sha-256 AA:BB\r\n")
	plain, _ := json.Marshal(knockPayload{Knock: k, Session: "s", Signal: mesh.Signal{Kind: mesh.SignalOffer, SDP: "v=0\r\na=fingerprint:sha-256 AA:BB\r\n"}})
	sealed, err := fuzzKey().seal("OFFER", signalID("app", "room"), json.RawMessage(plain))
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range [][]byte{plain, sealed, []byte(`{"sealed":"AAEC"}`), []byte(`{"sealed":12}`), []byte(`{"knock":{"v":"x"}}`), []byte(`[]`), nil} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		for _, r := range fuzzRooms() {
			kp, _, reason := r.openKnock("OFFER", payload)
			if reason == "" {
				_ = r.knockIdentityRefusal(kp)
			}
			if _, err := r.openAnswer("ANSWER", payload); err == nil && r.key != nil {
				// Only a sealed answer or a plain refusal may be accepted.
				if _, sealed, _ := splitSealed(payload); !sealed {
					var ans answerPayload
					if json.Unmarshal(payload, &ans) == nil && ans.Refused == "" {
						t.Fatalf("unsealed admission accepted in a password room: %q", payload)
					}
				}
			}
		}
	})
}

func FuzzDecodeMemberInfo(f *testing.F) {
	f.Add([]byte(`{"participant":"a","key":"AAAA"}`))
	f.Add([]byte(`{"participant":7}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, b []byte) {
		mi, err := decodeMemberInfo(b)
		if err == nil && len(mi.Key) == ed25519.PublicKeySize {
			_ = keyFingerprint(mi.Key)
		}
	})
}
