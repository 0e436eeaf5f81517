package signal

import (
	"crypto/sha256"
	"encoding/hex"
)

// RoomID returns the id a room claims on the signalling server: a hash of
// the app id and the room id, so rooms of different apps never collide on a
// shared server (the public PeerJS server above all) and the room name cannot
// be read off the server. Servers with an allow-list use it to turn room
// names into the ids clients claim.
func RoomID(appID, roomID string) string {
	sum := sha256.Sum256([]byte("rooms/v1\x00" + appID + "\x00" + roomID))
	return "rooms-" + hex.EncodeToString(sum[:16])
}
