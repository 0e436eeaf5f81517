//go:build js && wasm

package main

import (
	"context"
	"errors"
	"fmt"
	"syscall/js"

	"github.com/rooms-dev/rooms/pkg/room"
	"github.com/rooms-dev/rooms/pkg/state"
)

// promise runs work in a goroutine and returns a JS Promise of its result:
// the way a js.FuncOf callback answers without blocking the page.
func promise(work func() (any, error)) js.Value {
	var executor js.Func
	executor = js.FuncOf(func(_ js.Value, args []js.Value) any {
		resolve, reject := args[0], args[1]
		go func() {
			v, err := safely(work)
			if err != nil {
				reject.Invoke(errorValue(err))
				return
			}
			resolve.Invoke(v)
		}()
		return nil
	})
	defer executor.Release()
	return js.Global().Get("Promise").New(executor)
}

// safely turns a panic in work (a bug, or a JS exception thrown through
// syscall/js) into an error, so one bad call cannot end the page's runtime.
func safely(work func() (any, error)) (v any, err error) {
	defer func() {
		if p := recover(); p != nil {
			v, err = nil, fmt.Errorf("rooms: internal error: %v", p)
		}
	}()
	return work()
}

// errorValue describes err for the shim, which turns kind into a typed
// error class (RoomExistsError, ConflictError...).
func errorValue(err error) js.Value {
	o := js.Global().Get("Object").New()
	o.Set("kind", errorKind(err))
	o.Set("message", err.Error())
	if refused := (*room.RefusedError)(nil); errors.As(err, &refused) {
		o.Set("reason", refused.Reason)
	}
	return o
}

func errorKind(err error) string {
	switch {
	case errors.Is(err, room.ErrRoomExists):
		return "room-exists"
	case errors.Is(err, room.ErrRoomNotFound):
		return "room-not-found"
	case errors.Is(err, room.ErrRefused):
		return "refused"
	case errors.Is(err, room.ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, room.ErrClosed):
		return "closed"
	case errors.Is(err, room.ErrNoOtherVoter):
		return "no-voter"
	case errors.Is(err, state.ErrConflict):
		return "conflict"
	case errors.Is(err, state.ErrReducer), errors.Is(err, state.ErrUnknownAction):
		return "reducer"
	case errors.Is(err, state.ErrMalformed), errors.Is(err, state.ErrTooLarge), errors.Is(err, errBadArgument):
		return "invalid"
	}
	return "error"
}

// errBadArgument marks a call the shim should not have made.
var errBadArgument = errors.New("rooms: bad argument")

// stringArgs checks that the first n arguments are strings.
func stringArgs(fn string, args []js.Value, n int) ([]string, error) {
	if len(args) < n {
		return nil, fmt.Errorf("%w: %s needs %d arguments, got %d", errBadArgument, fn, n, len(args))
	}
	out := make([]string, n)
	for i := range n {
		if args[i].Type() != js.TypeString {
			return nil, fmt.Errorf("%w: %s: argument %d must be a string, got %s", errBadArgument, fn, i+1, args[i].Type())
		}
		out[i] = args[i].String()
	}
	return out, nil
}

// rejected is a Promise already rejected with err.
func rejected(err error) js.Value {
	return promise(func() (any, error) { return nil, err })
}
