package room

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	crand "crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Room passwords (Options.Password; docs/security.md says what they
// protect). Every member derives the room key once, when its Room is made:
// PBKDF2-SHA256 over the password, salted with the app id and the room id,
// then HKDF splits the result into an AES-GCM key for the payloads that go
// through the signalling server and an HMAC key for the admission challenge
// (admission.go). A knock the doorman cannot open is refused as a wrong
// password; so the signalling server learns no SDP and no participant id,
// and whoever does not know the password cannot knock.

// passwordIterations is the PBKDF2 work factor: OWASP's 2023 figure for
// PBKDF2-SHA256. On a busy 2-core machine it cost 0.2 s natively and 0.2 s
// in Chromium with WebCrypto (password_js.go); Go's own PBKDF2 compiled to
// wasm took 1.75 s to 4.7 s there, which is why the browser build uses
// WebCrypto.
const passwordIterations = 600_000

// sealVersion is the first byte of every sealed payload, so the format can
// change without a sealed payload of one version being read as another.
const sealVersion byte = 1

// Refusal reasons of the doorman for password trouble. They are part of
// the protocol: the newcomer maps them to ErrWrongPassword.
const (
	reasonWrongPassword = "wrong password"
	reasonNeedsPassword = "this room needs a password"
	reasonNoPassword    = "this room has no password"
)

// passwordRefusal returns the sentinel a refusal reason matches, or nil.
func passwordRefusal(reason string) error {
	switch reason {
	case reasonWrongPassword, reasonNeedsPassword, reasonNoPassword:
		return ErrWrongPassword
	}
	return nil
}

// roomKey is what a member derived from the room password.
type roomKey struct {
	aead  cipher.AEAD // seals signalling payloads
	proof []byte      // HMAC key of the admission challenge
	err   error       // why there is no key (reported on first use)
}

// deriveRoomKey runs PBKDF2 once for a Room; nil means no password.
func deriveRoomKey(password, appID, roomID string) *roomKey {
	if password == "" {
		return nil
	}
	master, err := pbkdf2SHA256(password, passwordSalt(appID, roomID), passwordIterations, 32)
	if err != nil {
		return &roomKey{err: fmt.Errorf("room: deriving the password key: %w", err)}
	}
	sealKey, err1 := hkdf.Expand(sha256.New, master, "rooms signalling v1", 32)
	proofKey, err2 := hkdf.Expand(sha256.New, master, "rooms admission v1", 32)
	if err := errors.Join(err1, err2); err != nil {
		return &roomKey{err: fmt.Errorf("room: deriving the password key: %w", err)}
	}
	block, err := aes.NewCipher(sealKey)
	if err != nil {
		panic(err) // a 32-byte key is always valid
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		panic(err)
	}
	return &roomKey{aead: aead, proof: proofKey}
}

// passwordSalt binds the key to one room of one app, so the work of
// guessing one room's password does not carry over to another. Lengths
// are encoded so that no two (app, room) pairs give the same salt.
func passwordSalt(appID, roomID string) []byte {
	salt := []byte("rooms password v1\x00")
	salt = binary.BigEndian.AppendUint32(salt, uint32(len(appID)))
	salt = append(salt, appID...)
	return append(salt, roomID...)
}

// sealedPayload is a signalling payload sealed with the room key: the
// version byte, the random nonce, then the AES-GCM ciphertext (base64 in
// JSON).
type sealedPayload struct {
	Sealed []byte `json:"sealed"`
}

// errUnsealable: a sealed payload that the room key does not open.
var errUnsealable = errors.New("room: sealed payload does not open with this password")

// sealAAD binds a sealed payload to its message type and to the room's id
// on the signalling server: a knock cannot be replayed as an answer, nor a
// payload of one room in another room with the same password.
func sealAAD(version byte, msgType, signalID string) []byte {
	aad := []byte{version}
	aad = append(aad, msgType...)
	aad = append(aad, 0)
	return append(aad, signalID...)
}

// seal encodes v as JSON and seals it for a message of type msgType.
func (k *roomKey) seal(msgType, signalID string, v any) (json.RawMessage, error) {
	if k.err != nil {
		return nil, k.err
	}
	plain, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, k.aead.NonceSize())
	if _, err := crand.Read(nonce); err != nil {
		return nil, err
	}
	blob := append([]byte{sealVersion}, nonce...)
	blob = k.aead.Seal(blob, nonce, plain, sealAAD(sealVersion, msgType, signalID))
	return json.Marshal(sealedPayload{Sealed: blob})
}

// open decrypts a sealed blob into v. It fails with errUnsealable when the
// blob was not sealed with this key for this message type and room, and
// with ErrBadMessage when what it opens to is not the JSON expected.
func (k *roomKey) open(msgType, signalID string, blob []byte, v any) error {
	if k.err != nil {
		return k.err
	}
	head := 1 + k.aead.NonceSize()
	switch {
	case len(blob) < head+k.aead.Overhead():
		return fmt.Errorf("%w: %d bytes is too short", errUnsealable, len(blob))
	case blob[0] != sealVersion:
		return fmt.Errorf("%w: unknown version %d", errUnsealable, blob[0])
	}
	plain, err := k.aead.Open(nil, blob[1:head], blob[head:], sealAAD(blob[0], msgType, signalID))
	if err != nil {
		return errUnsealable
	}
	if err := json.Unmarshal(plain, v); err != nil {
		return fmt.Errorf("%w: sealed payload: %v", ErrBadMessage, err)
	}
	return nil
}

// splitSealed tells a sealed payload from a plaintext one and returns the
// sealed blob; err reports a "sealed" field that is not base64.
func splitSealed(payload json.RawMessage) (blob []byte, sealed bool, err error) {
	var probe struct {
		Sealed json.RawMessage `json:"sealed"`
	}
	if err := json.Unmarshal(payload, &probe); err != nil {
		return nil, false, fmt.Errorf("%w: %v", ErrBadMessage, err)
	}
	if probe.Sealed == nil {
		return nil, false, nil
	}
	if err := json.Unmarshal(probe.Sealed, &blob); err != nil {
		return nil, true, fmt.Errorf("%w: sealed payload: %v", ErrBadMessage, err)
	}
	return blob, true, nil
}

// encodeSignalling encodes a payload for the signalling server: sealed in
// a room with a password, plain JSON otherwise.
func (r *Room) encodeSignalling(msgType string, v any) (json.RawMessage, error) {
	if r.key != nil {
		return r.key.seal(msgType, r.signalID, v)
	}
	return json.Marshal(v)
}

// openKnock decodes a knock, opening it with the room key when the room has
// a password. A non-empty reason refuses the knock; sealed says the knock
// was opened with the key, so the answer must be sealed too.
func (r *Room) openKnock(msgType string, payload json.RawMessage) (kp knockPayload, sealed bool, reason string) {
	blob, sealed, err := splitSealed(payload)
	switch {
	case err != nil:
		return kp, false, "malformed knock"
	case sealed && r.key == nil:
		return kp, false, reasonNoPassword
	case !sealed && r.key != nil:
		return kp, false, reasonNeedsPassword
	case !sealed:
		if err := json.Unmarshal(payload, &kp); err != nil {
			return kp, false, "malformed knock"
		}
		return kp, false, ""
	}
	err = r.key.open(msgType, r.signalID, blob, &kp)
	switch {
	case errors.Is(err, ErrBadMessage):
		return kp, true, "malformed knock" // sealed by someone with the key
	case errors.Is(err, errUnsealable):
		return kp, false, reasonWrongPassword
	case err != nil:
		r.log.Error("room: password key", "err", err)
		return kp, false, "the doorman cannot check passwords"
	}
	return kp, true, ""
}

// openAnswer decodes the doorman's answer to this member's knock. In a
// room with a password only a refusal may come unsealed: a doorman that
// could not open the knock cannot seal its refusal either.
func (r *Room) openAnswer(msgType string, payload json.RawMessage) (answerPayload, error) {
	var ans answerPayload
	blob, sealed, err := splitSealed(payload)
	switch {
	case err != nil:
		return ans, fmt.Errorf("doorman's answer: %w", err)
	case sealed && r.key == nil:
		return ans, fmt.Errorf("%w: doorman's answer is sealed with a password this member does not have", ErrBadMessage)
	case sealed:
		if err := r.key.open(msgType, r.signalID, blob, &ans); err != nil {
			return ans, fmt.Errorf("%w: doorman's answer: %w", ErrBadMessage, err)
		}
		return ans, nil
	}
	if err := json.Unmarshal(payload, &ans); err != nil {
		return ans, fmt.Errorf("%w: doorman's answer: %v", ErrBadMessage, err)
	}
	if r.key != nil && ans.Refused == "" {
		return ans, fmt.Errorf("%w: unsealed admission to a room with a password", ErrBadMessage)
	}
	return ans, nil
}

// sdpFingerprints returns the DTLS fingerprint lines of an SDP, normalised,
// in order: what the admission proof binds the connection to.
func sdpFingerprints(sdp string) string {
	var fps []string
	for line := range strings.Lines(sdp) {
		line = strings.TrimSpace(line)
		if fp, ok := strings.CutPrefix(line, "a=fingerprint:"); ok {
			fps = append(fps, strings.ToLower(strings.TrimSpace(fp)))
		}
	}
	return strings.Join(fps, "\n")
}

// admissionProof is the newcomer's answer to the doorman's challenge:
// HMAC(key, nonce || offer's fingerprints || answer's fingerprints || raft
// id). It proves the password and binds the proof to this very connection,
// so a proof seen elsewhere is worth nothing here.
func (k *roomKey) admissionProof(nonce []byte, offerSDP, answerSDP string, raftID uint64) []byte {
	mac := hmac.New(sha256.New, k.proof)
	field := func(b []byte) {
		mac.Write(binary.BigEndian.AppendUint32(nil, uint32(len(b))))
		mac.Write(b)
	}
	field([]byte("rooms admission v1"))
	field(nonce)
	field([]byte(sdpFingerprints(offerSDP)))
	field([]byte(sdpFingerprints(answerSDP)))
	field(binary.BigEndian.AppendUint64(nil, raftID))
	return mac.Sum(nil)
}
