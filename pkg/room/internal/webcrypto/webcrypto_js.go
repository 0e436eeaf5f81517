//go:build js && wasm

package webcrypto

import (
	"errors"
	"syscall/js"
)

// Subtle returns the page's crypto.subtle, or false where there is none (a
// page served over plain http from another host than localhost is not a
// secure context).
func Subtle() (js.Value, bool) {
	crypto := js.Global().Get("crypto")
	if !crypto.Truthy() {
		return js.Undefined(), false
	}
	subtle := crypto.Get("subtle")
	return subtle, subtle.Truthy()
}

// Bytes copies b into a new Uint8Array.
func Bytes(b []byte) js.Value {
	a := js.Global().Get("Uint8Array").New(len(b))
	js.CopyBytesToJS(a, b)
	return a
}

// Await blocks until promise settles. The caller must not be on the JS
// event loop (inside a js.FuncOf callback): the promise could never settle.
func Await(promise js.Value) (js.Value, error) {
	type settled struct {
		v   js.Value
		err error
	}
	done := make(chan settled, 1)
	resolve := js.FuncOf(func(_ js.Value, args []js.Value) any {
		done <- settled{v: args[0]}
		return nil
	})
	reject := js.FuncOf(func(_ js.Value, args []js.Value) any {
		done <- settled{err: errors.New("WebCrypto: " + args[0].Call("toString").String())}
		return nil
	})
	defer resolve.Release()
	defer reject.Release()
	promise.Call("then", resolve, reject)
	s := <-done
	return s.v, s.err
}
