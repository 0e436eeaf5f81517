package room

import (
	"context"
	"crypto/ed25519"
	crand "crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/rooms-dev/rooms/pkg/room/internal/edsign"
	"github.com/rooms-dev/rooms/pkg/state"
)

// Identities. Every member holds an Ed25519 key pair (Options.Identity, or
// one made for the Room) and its public key is registered with its
// membership in the replicated member table, so every member knows every
// other member's key at each point of the log. The key signs four things:
//
//   - the knock: the DTLS fingerprints of the offer it carries, bound to the
//     room and the participant id. The doorman admits only a knock whose
//     signature matches its key, so nobody registers another's key, and a
//     signalling server that swaps the offer must swap the key too, which
//     the newcomer notices once it has caught up (checkOwnKey).
//   - the doorman's answer admitting a newcomer: the knock's session, both
//     raft ids and the answer's DTLS fingerprints. The newcomer checks it
//     against the doorman's registered key once it has caught up
//     (checkAnswer), so a signalling server that answers in the doorman's
//     place is found out.
//   - every signal relayed between members over the mesh (offers, answers,
//     ICE restarts): the DTLS fingerprints of its SDP, bound to the room,
//     both raft ids and the connection's session. The relaying member and
//     the receiver check it against the sender's registered key, so a
//     relaying doorman cannot put itself in the middle of a connection
//     between two other members: DTLS then authenticates the fingerprint.
//   - every change: the room, the proposer's raft id and the change's bytes,
//     which hold its sequence number; a proposer's changes that share an
//     entry share one signature over all of them (a signed batch, which
//     members check once). Every member checks it while applying, against
//     the key of the proposer at that point of the log, so a leader can
//     delay or drop a member's change but not forge one. A forged change is
//     rejected identically everywhere (state.ErrBadSignature) and uses up
//     none of the named proposer's sequence numbers; an old signed change
//     replayed is answered by the exactly-once table.

// keyFingerprintLen is the length of PeerInfo.Key, in hex digits.
const keyFingerprintLen = 16

// keyFingerprint is a short, stable name for a public key that apps can show
// or pin: the first 64 bits of its SHA-256, in hex. "" for no key.
func keyFingerprint(key ed25519.PublicKey) string {
	if len(key) != ed25519.PublicKeySize {
		return ""
	}
	sum := sha256.Sum256(key)
	return hex.EncodeToString(sum[:])[:keyFingerprintLen]
}

// checkIdentity says what is wrong with an Options.Identity (nil is fine:
// the room makes one).
func checkIdentity(key ed25519.PrivateKey) error {
	if key == nil {
		return nil
	}
	if len(key) != ed25519.PrivateKeySize {
		return fmt.Errorf("room: identity must be an Ed25519 private key of %d bytes, got %d", ed25519.PrivateKeySize, len(key))
	}
	if !ed25519.NewKeyFromSeed(key.Seed()).Equal(key) {
		return errors.New("room: identity's public half does not match its seed")
	}
	return nil
}

// newIdentity returns given, or a fresh key pair when given is nil.
func newIdentity(given ed25519.PrivateKey) ed25519.PrivateKey {
	if given != nil {
		return given
	}
	_, key, err := ed25519.GenerateKey(crand.Reader)
	if err != nil {
		panic(fmt.Sprintf("room: no randomness for a key pair: %v", err)) // crypto/rand never fails on supported platforms
	}
	return key
}

func (r *Room) publicKey() ed25519.PublicKey { return r.identity.Public().(ed25519.PublicKey) }

// ownMemberInfo is the member context this member registers for itself.
func (r *Room) ownMemberInfo() []byte {
	info, _ := json.Marshal(memberInfo{Participant: r.participant, Key: r.publicKey()})
	return info
}

// signedMessage builds the bytes a signature covers: a purpose, then each
// field with its length, so no two different messages share bytes.
func signedMessage(purpose string, fields ...[]byte) []byte {
	n := len(purpose) + 4
	for _, f := range fields {
		n += 4 + len(f)
	}
	b := make([]byte, 0, n)
	for _, f := range append([][]byte{[]byte(purpose)}, fields...) {
		b = binary.BigEndian.AppendUint32(b, uint32(len(f)))
		b = append(b, f...)
	}
	return b
}

func u64(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

// knockMessage is what a knock's KeyProof signs.
func knockMessage(roomID, participant, offerSDP string) []byte {
	return signedMessage("rooms knock v1", []byte(roomID), []byte(participant), []byte(sdpFingerprints(offerSDP)))
}

// signKnock returns k with this member's key and its proof for offerSDP.
func (r *Room) signKnock(k Knock, offerSDP string) Knock {
	k.Key = r.publicKey()
	k.KeyProof = ed25519.Sign(r.identity, knockMessage(r.roomID, k.Participant, offerSDP))
	return k
}

// knockIdentityRefusal is why the doorman refuses a knock's identity, or "".
func (r *Room) knockIdentityRefusal(kp knockPayload) string {
	switch {
	case len(kp.Knock.Key) != ed25519.PublicKeySize:
		return "knock without an identity key: this client is too old for the room"
	case !ed25519.Verify(kp.Knock.Key, knockMessage(r.roomID, kp.Knock.Participant, kp.Signal.SDP), kp.Knock.KeyProof):
		return "the knock's identity signature does not match its offer"
	}
	return ""
}

// signalMessage is what a relayed signal's Sig signs.
func signalMessage(roomID string, rf relayFrame) []byte {
	return signedMessage("rooms signal v1", []byte(roomID), u64(rf.From), u64(rf.To), []byte(rf.Session),
		[]byte(rf.Signal.Kind), []byte(sdpFingerprints(rf.Signal.SDP)))
}

// signSignal signs a relayed signal that this member sends.
func (r *Room) signSignal(rf relayFrame) relayFrame {
	rf.Sig = ed25519.Sign(r.identity, signalMessage(r.roomID, rf))
	return rf
}

// errUnknownSender: a relayed signal from a raft id with no registered key.
var errUnknownSender = errors.New("sender has no registered key here")

// checkSignal checks a relayed signal's signature against its sender's
// registered key, waiting up to wait for the key: a newcomer may hear from
// members before it has caught up with the member table.
func (r *Room) checkSignal(rf relayFrame, wait time.Duration) error {
	key := r.awaitMemberKey(rf.From, wait)
	switch {
	case key == nil:
		return fmt.Errorf("%w (member %d)", errUnknownSender, rf.From)
	case len(rf.Sig) == 0:
		return errors.New("unsigned signal")
	case !ed25519.Verify(key, signalMessage(r.roomID, rf), rf.Sig):
		return fmt.Errorf("signature does not match member %d's key %s", rf.From, keyFingerprint(key))
	}
	return nil
}

// awaitMemberKey returns member id's registered key, waiting up to wait for
// it to be applied; nil if it never is.
func (r *Room) awaitMemberKey(id uint64, wait time.Duration) ed25519.PublicKey {
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	return r.awaitMemberKeyThat(ctx, id, func(key ed25519.PublicKey) bool { return key != nil })
}

// awaitMemberKeyThat returns member id's registered key once accept takes
// it, waiting until ctx ends for the member table to change; otherwise the
// key registered at the end (nil if none).
func (r *Room) awaitMemberKeyThat(ctx context.Context, id uint64, accept func(ed25519.PublicKey) bool) ed25519.PublicKey {
	for {
		key, changed := r.sm.memberKey(id)
		if accept(key) || ctx.Err() != nil {
			return key
		}
		select {
		case <-changed:
		case <-ctx.Done():
		case <-r.stop:
			return key
		}
	}
}

// answerMessage is what an admission's Proof signs: the room, the knock's
// session, both raft ids and the DTLS fingerprints of the doorman's answer.
func answerMessage(roomID string, ans answerPayload) []byte {
	return signedMessage("rooms answer v1", []byte(roomID), []byte(ans.Session), u64(ans.Admitted.RaftID),
		u64(ans.Admitted.DoormanID), []byte(sdpFingerprints(ans.Signal.SDP)))
}

// signAnswer returns an admission signed by this member, the doorman.
func (r *Room) signAnswer(ans answerPayload) answerPayload {
	ans.Proof = ed25519.Sign(r.identity, answerMessage(r.roomID, ans))
	return ans
}

// checkAnswer makes sure the admission this member got was signed with the
// key the room registered for its doorman, waiting up to wait for this
// member to learn it (a member let in again may still hold the table of
// its old epoch). Otherwise someone (the signalling server, without a
// password) answered in the doorman's place and sits in the middle of the
// first connection.
func (r *Room) checkAnswer(ctx context.Context, ans answerPayload) error {
	doorman := ans.Admitted.DoormanID
	signed := func(key ed25519.PublicKey) bool {
		return key != nil && ed25519.Verify(key, answerMessage(r.roomID, ans), ans.Proof)
	}
	key := r.awaitMemberKeyThat(ctx, doorman, signed)
	switch {
	case signed(key):
		return nil
	case r.isClosed():
		return ErrClosed
	case errors.Is(context.Cause(ctx), errKnockAgain):
		return context.Cause(ctx)
	case key == nil:
		return fmt.Errorf("%w: the doorman (member %d) has no registered key", ErrBadMessage, doorman)
	}
	return fmt.Errorf("%w: the doorman's answer is not signed with its registered key %s: someone answered in its place", ErrBadMessage, keyFingerprint(key))
}

// checkOwnKey makes sure the member table registers this member with its
// own key: if the knock was tampered with on the way (the key swapped with
// the offer), this member could not sign anything in the room.
func (r *Room) checkOwnKey() error {
	self := r.self.Load()
	key, _ := r.sm.memberKey(self)
	if !key.Equal(r.publicKey()) {
		return fmt.Errorf("%w: the room registered member %d with key %s, not this member's %s", ErrBadMessage, self, keyFingerprint(key), keyFingerprint(r.publicKey()))
	}
	return nil
}

// changeMessage is what a change's signature signs: body is the change, or
// the batch of the proposer's changes it came in (state.Change.SignedBytes),
// and holds the sequence numbers.
func changeMessage(roomID, proposer string, body []byte) []byte {
	return signedMessage("rooms change v1", []byte(roomID), []byte(proposer), body)
}

// encodeSigned encodes changes, numbered and all this member's, as one
// signed entry: a signed change, or a signed batch.
func (r *Room) encodeSigned(changes []state.Change) ([]byte, error) {
	sign := func(body []byte) ([]byte, error) {
		msg := changeMessage(r.roomID, changes[0].Proposer, body)
		sig := edsign.Sign(r.identity, msg)
		r.sm.sigs.add(sigDigest(r.publicKey(), msg, sig)) // our own: no need to check it
		return sig, nil
	}
	if len(changes) > 1 {
		return state.EncodeSignedBatch(changes, sign)
	}
	c := changes[0]
	body, err := c.SignedBytes()
	if err != nil {
		return nil, err
	}
	c.Signature, _ = sign(body)
	return state.EncodeChange(c)
}

// verifyChange is the room's state.Verifier: c must be signed with the key
// its proposer registered, as of this point of the log. Every member decides
// the same, with the same words.
func (m *machine) verifyChange(c state.Change) error {
	id, err := strconv.ParseUint(c.Proposer, 10, 64)
	if err != nil || id == 0 {
		return errors.New("the proposer is not a raft id")
	}
	m.mu.RLock()
	key, roomID := m.keys[id], m.meta.RoomID
	m.mu.RUnlock()
	switch {
	case key == nil:
		return fmt.Errorf("member %d has no registered key (not a member at this point of the log)", id)
	case len(c.Signature) == 0:
		return fmt.Errorf("%w: unsigned change (format 1); this room requires signed changes", state.ErrBadSignature)
	}
	body, err := c.SignedBytes()
	if err != nil {
		return err
	}
	if !m.verifySignature(key, changeMessage(roomID, c.Proposer, body), c.Signature) {
		return fmt.Errorf("%w: does not match member %d's key %s", state.ErrBadSignature, id, keyFingerprint(key))
	}
	return nil
}

// testHooks let tests play a hostile member, or stage a race. Never set
// outside tests.
type testHooks struct {
	// tamperRelay changes a signal this member forwards for others.
	tamperRelay atomic.Pointer[func(*relayFrame)]
	// beforeAddLearner runs on a doorman between answering a newcomer and
	// adding it to the room.
	beforeAddLearner atomic.Pointer[func()]
	// holdRaft drops the raft messages to the members it returns true for.
	holdRaft atomic.Pointer[func(to uint64) bool]
}
