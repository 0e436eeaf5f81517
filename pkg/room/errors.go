package room

import (
	"errors"
	"fmt"
)

// Errors of Create, Join and the state API. Compare with errors.Is; the JS
// shim maps them to RoomExistsError, RoomNotFoundError and friends.
var (
	// ErrRoomExists: Create found the room id already claimed on the
	// signalling server.
	ErrRoomExists = errors.New("room: room already exists")
	// ErrRoomNotFound: Join's knock reached nobody (the signalling server
	// answered EXPIRE for the room id).
	ErrRoomNotFound = errors.New("room: room not found")
	// ErrRefused: the doorman refused the newcomer; the error is a
	// *RefusedError carrying the reason.
	ErrRefused = errors.New("room: refused")
	// ErrClosed: the room was left, or this member was removed from it.
	ErrClosed = errors.New("room: closed")
	// ErrTimeout: the operation's deadline passed; an update may still be
	// applied later (it is applied at most once).
	ErrTimeout = errors.New("room: timed out")
	// ErrBadMessage: a peer or the signalling server sent something that
	// does not decode or breaks the protocol.
	ErrBadMessage = errors.New("room: bad message")
	// ErrNoRoute: no connected member can relay a signal to its target yet.
	ErrNoRoute = errors.New("room: no route to member")
	// ErrWrongPassword: the doorman refused the newcomer's password: it is
	// wrong, or one side has a password and the other has none. The error
	// is a *RefusedError (errors.Is ErrRefused too) whose Reason says which.
	ErrWrongPassword = errors.New("room: wrong password")
	// ErrNoOtherVoter: HandOver found no other voter to make the doorman
	// (the doorman is alone, or the others are still learners).
	ErrNoOtherVoter = errors.New("room: no other voter to hand over to")
)

// RefusedError is the doorman's explicit refusal of a knock.
type RefusedError struct {
	Reason string
	retry  bool  // the doorman asked to knock again (Join does so by itself)
	cause  error // a sentinel the refusal also matches (ErrWrongPassword), or nil
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("room: refused by the doorman: %s", e.Reason)
}

// Is makes errors.Is(err, ErrRefused) true for a *RefusedError, and
// errors.Is(err, ErrWrongPassword) true for a refused password.
func (e *RefusedError) Is(target error) bool {
	return target == ErrRefused || (e.cause != nil && target == e.cause)
}
