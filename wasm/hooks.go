//go:build js && wasm

package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"syscall/js"
	"time"

	"github.com/rooms-dev/rooms/pkg/room"
	"github.com/rooms-dev/rooms/pkg/state"
)

// admitHook adapts the shim's async admit(knockJSON) → Promise<reason> to
// room.Options.Admit, which the room calls synchronously from its own
// goroutine: that goroutine may wait on a channel while the page runs the
// JS promise, because it is not inside a js.FuncOf callback.
func admitHook(hooks js.Value, timeout time.Duration) func(room.Knock) error {
	return func(k room.Knock) error {
		knock, err := json.Marshal(k)
		if err != nil {
			return fmt.Errorf("admit: %w", err)
		}
		answer := make(chan string, 1)
		var onDone, onFail js.Func
		settle := func(reason string) {
			answer <- reason
			onDone.Release()
			onFail.Release()
		}
		onDone = js.FuncOf(func(_ js.Value, args []js.Value) any {
			reason := ""
			if len(args) > 0 && args[0].Type() == js.TypeString {
				reason = args[0].String()
			}
			settle(reason)
			return nil
		})
		onFail = js.FuncOf(func(_ js.Value, args []js.Value) any {
			reason := "admit hook failed"
			if len(args) > 0 {
				reason = "admit hook failed: " + js.Global().Get("String").Invoke(args[0]).String()
			}
			settle(reason)
			return nil
		})
		hooks.Call("admit", string(knock)).Call("then", onDone, onFail)
		select {
		case reason := <-answer:
			if reason != "" {
				return errors.New(reason)
			}
			return nil
		case <-time.After(timeout):
			// The funcs stay alive: the promise may still settle, and calling
			// a released func would throw in the page.
			return errors.New("admit hook timed out")
		}
	}
}

// jsReducer adapts a JS reducer to state.Reducer. The shim's function
// takes (version, payloadJSON, proposer, seq, index, stateJSON?), proposer
// being the participant id from the replicated member table, and
// returns the patch as JSON text, {"error": ...} JSON, or null when its
// immutable mirror is not at version: then it is called again with the
// document's JSON. The mirror is usually current, so a reducer costs what
// it touches, not the whole state.
type jsReducer struct{ fn js.Value }

// Reduce runs on raft's apply goroutine (never in a js.FuncOf callback),
// so calling into JS synchronously here is allowed.
func (j jsReducer) Reduce(doc state.Reader, payload json.RawMessage, ctx state.ActionContext) (state.Patch, error) {
	args := []any{float64(ctx.Version), string(payload), ctx.Participant, float64(ctx.Seq), float64(ctx.Index)}
	out := j.fn.Invoke(args...)
	if out.IsNull() {
		whole, err := doc.Get("")
		if err != nil {
			return nil, err
		}
		out = j.fn.Invoke(append(args, string(whole))...)
	}
	if out.Type() != js.TypeString {
		return nil, fmt.Errorf("reducer bridge returned %s, not JSON text", out.Type())
	}
	text := out.String()
	if strings.HasPrefix(text, "[") {
		return state.ParsePatch([]byte(text))
	}
	var failed struct {
		Error string `json:"error"`
	}
	if err := json.Unmarshal([]byte(text), &failed); err != nil {
		return nil, fmt.Errorf("reducer bridge: %w", err)
	}
	return nil, errors.New(failed.Error)
}
