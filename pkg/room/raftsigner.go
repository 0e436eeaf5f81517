package room

import (
	"crypto/ed25519"

	"github.com/rooms-dev/rooms/pkg/room/internal/edsign"
)

// raftSigner signs this member's raft votes and handovers with its identity
// and checks other members' against the keys they registered, so that only
// a member the voters elected can lead the room (raftnode.Signer). The
// signed bytes name the room and its epoch: a vote cannot be replayed in
// another room or after a re-formation.
type raftSigner struct{ r *Room }

func (s raftSigner) message(statement []byte) []byte {
	return signedMessage("rooms raft v1", []byte(s.r.roomID), u64(s.r.sm.roomMeta().Epoch), statement)
}

func (s raftSigner) Sign(statement []byte) []byte {
	return edsign.Sign(s.r.identity, s.message(statement))
}

func (s raftSigner) Verify(member uint64, statement, sig []byte) bool {
	key, _ := s.r.sm.memberKey(member)
	return len(key) == ed25519.PublicKeySize && edsign.Verify(key, s.message(statement), sig)
}
