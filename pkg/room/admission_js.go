//go:build js && wasm

package room

import (
	"fmt"
	"syscall/js"

	"github.com/rooms-dev/rooms/pkg/mesh"
)

// openAdmissionLink creates the admission data channel on c's
// RTCPeerConnection. Its handlers are its own (the mesh's channels are
// untouched) and are released when it closes.
func openAdmissionLink(c *mesh.Conn, on admissionEvents) (link admissionLink, err error) {
	defer func() {
		if p := recover(); p != nil { // createDataChannel threw
			link, err = nil, fmt.Errorf("createDataChannel: %v", p)
		}
	}()
	init := js.Global().Get("Object").New()
	init.Set("negotiated", true)
	init.Set("id", admissionID)
	dc := c.JSPeerConnection().Call("createDataChannel", admissionLabel, init)
	dc.Set("binaryType", "arraybuffer")
	l := &jsLink{dc: dc}
	l.funcs = []js.Func{
		js.FuncOf(func(js.Value, []js.Value) any { on.opened(); return nil }),
		js.FuncOf(func(_ js.Value, args []js.Value) any {
			data := js.Global().Get("Uint8Array").New(args[0].Get("data"))
			b := make([]byte, data.Length())
			js.CopyBytesToGo(b, data)
			on.message(b)
			return nil
		}),
		js.FuncOf(func(js.Value, []js.Value) any {
			on.closed()
			l.release()
			return nil
		}),
	}
	for i, event := range []string{"open", "message", "close"} {
		dc.Call("addEventListener", event, l.funcs[i])
	}
	if dc.Get("readyState").String() == "open" {
		on.opened()
	}
	return l, nil
}

type jsLink struct {
	dc    js.Value
	funcs []js.Func
}

func (l *jsLink) send(b []byte) (err error) {
	defer func() {
		if p := recover(); p != nil { // send threw: the channel is not open
			err = fmt.Errorf("room: admission channel: send: %v", p)
		}
	}()
	a := js.Global().Get("Uint8Array").New(len(b))
	js.CopyBytesToJS(a, b)
	l.dc.Call("send", a)
	return nil
}

func (l *jsLink) close() { l.dc.Call("close") }

// release frees the handlers once the channel has closed.
func (l *jsLink) release() {
	for i, event := range []string{"open", "message", "close"} {
		l.dc.Call("removeEventListener", event, l.funcs[i])
		l.funcs[i].Release()
	}
}
