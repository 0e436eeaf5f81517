package room

import (
	"context"
	"crypto/hmac"
	crand "crypto/rand"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/rooms-dev/rooms/pkg/mesh"
)

// The admission challenge of a room with a password. Once the newcomer's
// connection to the doorman is up, and before the doorman adds it to raft,
// the doorman sends a random nonce over that connection and the newcomer
// answers with admissionProof (password.go), which binds the password to
// both DTLS fingerprints and the newcomer's raft id. The doorman admits
// only on a correct proof and tells the newcomer its verdict, so a refusal
// is explicit here too.
//
// It runs on a third data channel, negotiated out of band like the mesh's
// two (mesh.Conn uses stream ids 0 and 1), so neither the mesh nor the raft
// frames know about it; it serves one admission and is closed. The channel
// itself is pion's natively (admission_native.go) and the page's
// RTCDataChannel in the browser (admission_js.go).

const (
	admissionLabel = "rooms-admission"
	admissionID    = 2
)

// Messages of the admission channel: a kind byte and its body.
const (
	admitChallenge byte = 'c' // doorman: nonce
	admitProof     byte = 'p' // newcomer: admissionProof
	admitWelcome   byte = 'a' // doorman: proof accepted
	admitRefusal   byte = 'r' // doorman: refused; body is the reason
)

const challengeSize = 32

// admissionChannel is one side of the admission challenge.
type admissionChannel struct {
	link     admissionLink
	open     chan struct{}
	closed   chan struct{}
	inbox    chan []byte
	openOnce sync.Once
	shutOnce sync.Once
}

// admissionLink is the data channel under an admissionChannel.
type admissionLink interface {
	send([]byte) error
	close()
}

// admissionEvents are the data channel's events. None of them blocks, so
// the browser build may call them from inside a JS callback.
type admissionEvents struct {
	opened  func()
	message func([]byte)
	closed  func()
}

// newAdmissionChannel adds the admission channel to c. Both sides call it
// before the offer is made, so that it opens with the mesh's channels.
func newAdmissionChannel(c *mesh.Conn) (*admissionChannel, error) {
	a := &admissionChannel{open: make(chan struct{}), closed: make(chan struct{}), inbox: make(chan []byte, 2)}
	link, err := openAdmissionLink(c, admissionEvents{
		opened: func() { a.openOnce.Do(func() { close(a.open) }) },
		closed: func() { a.shutOnce.Do(func() { close(a.closed) }) },
		message: func(m []byte) {
			select {
			case a.inbox <- m:
			default: // a well-behaved peer sends one message per step
			}
		},
	})
	if err != nil {
		return nil, fmt.Errorf("room: admission channel: %w", err)
	}
	a.link = link
	return a, nil
}

func (a *admissionChannel) send(ctx context.Context, kind byte, body []byte) error {
	select {
	case <-a.open:
	case <-a.closed:
		return fmt.Errorf("room: admission channel closed")
	case <-ctx.Done():
		return ctx.Err()
	}
	return a.link.send(append([]byte{kind}, body...))
}

// receive waits for a message of kind and returns its body.
func (a *admissionChannel) receive(ctx context.Context, kinds ...byte) (kind byte, body []byte, err error) {
	select {
	case m := <-a.inbox:
		for _, k := range kinds {
			if len(m) > 0 && m[0] == k {
				return k, m[1:], nil
			}
		}
		return 0, nil, fmt.Errorf("%w: unexpected admission message", ErrBadMessage)
	case <-a.closed:
		return 0, nil, fmt.Errorf("room: admission channel closed")
	case <-ctx.Done():
		return 0, nil, ctx.Err()
	}
}

func (a *admissionChannel) close() { a.link.close() }

// challengeTimeout bounds the challenge: a newcomer answers at once, and
// one that stalls must not hold its place in the room for JoinTimeout.
const challengeTimeout = 10 * time.Second

// refusalGrace is how long a doorman that refuses a proof waits for the
// newcomer to read the refusal before it drops the connection.
const refusalGrace = time.Second

// challenge is the doorman's side: it admits (nil) only a newcomer that
// proves the password for this connection.
func (r *Room) challenge(ctx context.Context, a *admissionChannel, raftID uint64, offerSDP, answerSDP string) error {
	ctx, cancel := context.WithTimeout(ctx, challengeTimeout)
	defer cancel()
	nonce := make([]byte, challengeSize)
	if _, err := crand.Read(nonce); err != nil {
		return err
	}
	if err := a.send(ctx, admitChallenge, nonce); err != nil {
		return fmt.Errorf("sending the challenge: %w", err)
	}
	_, proof, err := a.receive(ctx, admitProof)
	if err != nil {
		return fmt.Errorf("waiting for the proof: %w", err)
	}
	if !hmac.Equal(proof, r.key.admissionProof(nonce, offerSDP, answerSDP, raftID)) {
		_ = a.send(ctx, admitRefusal, []byte(reasonWrongPassword))
		select { // let the refusal arrive before the connection goes
		case <-a.closed:
		case <-time.After(refusalGrace):
		case <-ctx.Done():
		}
		return errors.New(reasonWrongPassword)
	}
	return a.send(ctx, admitWelcome, nil)
}

// prove is the newcomer's side: it answers the doorman's challenge and
// returns the verdict, a *RefusedError when refused.
func (r *Room) prove(ctx context.Context, a *admissionChannel, raftID uint64, offerSDP, answerSDP string) error {
	defer a.close()
	_, nonce, err := a.receive(ctx, admitChallenge)
	if err != nil {
		return fmt.Errorf("waiting for the doorman's challenge: %w", err)
	}
	if len(nonce) != challengeSize {
		return fmt.Errorf("%w: challenge of %d bytes", ErrBadMessage, len(nonce))
	}
	if err := a.send(ctx, admitProof, r.key.admissionProof(nonce, offerSDP, answerSDP, raftID)); err != nil {
		return fmt.Errorf("answering the doorman's challenge: %w", err)
	}
	kind, reason, err := a.receive(ctx, admitWelcome, admitRefusal)
	switch {
	case err != nil:
		return fmt.Errorf("waiting for the doorman's verdict: %w", err)
	case kind == admitRefusal:
		return &RefusedError{Reason: string(reason), cause: passwordRefusal(string(reason))}
	}
	return nil
}
