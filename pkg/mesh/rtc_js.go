//go:build js && wasm

package mesh

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"sync"
	"syscall/js"
)

// errClosedPeer: a promise of a closed RTCPeerConnection will never settle.
var errClosedPeer = errors.New("mesh: peer connection closed")

// newPeerConnection creates an RTCPeerConnection of the page. The browser
// has no candidate filters: LoopbackOnly is ignored, and loopback-only tests
// use Chromium's flags instead (see doc.go).
func newPeerConnection(cfg Config) (_ *jsPeer, err error) {
	defer catchJS(&err)
	ctor := js.Global().Get("RTCPeerConnection")
	if ctor.Type() != js.TypeFunction {
		return nil, errors.New("mesh: this page has no RTCPeerConnection")
	}
	pc := ctor.New(map[string]any{"iceServers": iceServersToJS(cfg.ICEServers)})
	p := &jsPeer{pc: pc, events: newJSEvents(pc), closed: make(chan struct{})}
	// Gathering waiters are only closed here, which never blocks: no queue.
	p.events.listenNow("icegatheringstatechange", func(js.Value) {
		if pc.Get("iceGatheringState").String() == "complete" {
			p.gatheringDone()
		}
	})
	p.events.listenNow("icecandidate", func(e js.Value) {
		if c := e.Get("candidate"); c.IsNull() || c.IsUndefined() {
			p.gatheringDone()
		}
	})
	return p, nil
}

// iceServersToJS converts servers to RTCIceServer dictionaries.
func iceServersToJS(servers []ICEServer) []any {
	out := make([]any, 0, len(servers))
	for _, s := range servers {
		urls := make([]any, len(s.URLs))
		for i, u := range s.URLs {
			urls[i] = u
		}
		server := map[string]any{"urls": urls}
		if s.Username != "" {
			server["username"] = s.Username
		}
		if s.Credential != "" {
			server["credential"] = s.Credential
		}
		out = append(out, server)
	}
	return out
}

// jsPeer is a peerConnection over the page's RTCPeerConnection. Promises are
// awaited on the calling goroutine, never inside a JS callback.
type jsPeer struct {
	pc     js.Value
	events *jsEvents

	mu       sync.Mutex
	channels []*jsChannel
	waiters  []chan struct{} // closed when ICE gathering completes

	closeOnce sync.Once
	closed    chan struct{}
}

func (p *jsPeer) createDataChannel(opts channelOptions) (_ dataChannel, err error) {
	defer catchJS(&err)
	init := map[string]any{"negotiated": true, "id": int(opts.id), "ordered": opts.reliable}
	if !opts.reliable {
		init["maxRetransmits"] = 0
	}
	dc := p.pc.Call("createDataChannel", opts.label, init)
	// Firefox delivers Blobs by default, whose reading is asynchronous and
	// could reorder messages.
	dc.Set("binaryType", "arraybuffer")
	ch := newJSChannel(dc, opts.label)
	p.mu.Lock()
	p.channels = append(p.channels, ch)
	p.mu.Unlock()
	return ch, nil
}

func (p *jsPeer) createOffer(iceRestart bool) (description, error) {
	v, err := p.await(func() js.Value { return p.pc.Call("createOffer", map[string]any{"iceRestart": iceRestart}) })
	if err != nil {
		return description{}, err
	}
	return description{Type: sdpOffer, SDP: v.Get("sdp").String()}, nil
}

func (p *jsPeer) createAnswer() (description, error) {
	v, err := p.await(func() js.Value { return p.pc.Call("createAnswer") })
	if err != nil {
		return description{}, err
	}
	return description{Type: sdpAnswer, SDP: v.Get("sdp").String()}, nil
}

func (p *jsPeer) setLocalDescription(d description) (<-chan struct{}, error) {
	gathered := make(chan struct{})
	p.mu.Lock()
	p.waiters = append(p.waiters, gathered)
	p.mu.Unlock()
	if _, err := p.await(func() js.Value { return p.pc.Call("setLocalDescription", descriptionToJS(d)) }); err != nil {
		return nil, err
	}
	if p.gatheringComplete() {
		p.gatheringDone()
	}
	return gathered, nil
}

// gatheringComplete tells whether the local description has all its
// candidates. After an ICE restart the state may still read "complete" from
// the previous gathering for a moment, but the new description has no
// candidate yet.
func (p *jsPeer) gatheringComplete() bool {
	return p.pc.Get("iceGatheringState").String() == "complete" &&
		strings.Contains(p.localDescription(), "a=candidate")
}

func (p *jsPeer) gatheringDone() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, w := range p.waiters {
		close(w)
	}
	p.waiters = nil
}

func (p *jsPeer) setRemoteDescription(d description) error {
	_, err := p.await(func() js.Value { return p.pc.Call("setRemoteDescription", descriptionToJS(d)) })
	return err
}

func (p *jsPeer) rollback() error {
	_, err := p.await(func() js.Value {
		return p.pc.Call("setLocalDescription", map[string]any{"type": "rollback"})
	})
	return err
}

func descriptionToJS(d description) map[string]any {
	return map[string]any{"type": string(d.Type), "sdp": d.SDP}
}

func (p *jsPeer) localDescription() string  { return sdpOfJS(p.pc.Get("localDescription")) }
func (p *jsPeer) remoteDescription() string { return sdpOfJS(p.pc.Get("remoteDescription")) }

func sdpOfJS(d js.Value) string {
	if d.IsNull() || d.IsUndefined() {
		return ""
	}
	return d.Get("sdp").String()
}

func (p *jsPeer) signalingState() signalingState {
	return signalingState(p.pc.Get("signalingState").String())
}

func (p *jsPeer) onConnectionStateChange(f func(connectionState)) {
	p.events.listen("connectionstatechange", func(js.Value) func() {
		s := connectionState(p.pc.Get("connectionState").String())
		return func() { f(s) }
	})
}

func (p *jsPeer) onICEConnectionStateChange(f func(iceState)) {
	p.events.listen("iceconnectionstatechange", func(js.Value) func() {
		s := iceState(p.pc.Get("iceConnectionState").String())
		return func() { f(s) }
	})
}

func (p *jsPeer) onNegotiationNeeded(f func()) {
	p.events.listen("negotiationneeded", func(js.Value) func() { return f })
}

// close closes the RTCPeerConnection and releases every listener of it and
// of its channels. The browser fires no event for a close it was asked for.
func (p *jsPeer) close() (err error) {
	p.closeOnce.Do(func() {
		close(p.closed)
		defer catchJS(&err)
		p.events.stop()
		p.mu.Lock()
		channels := p.channels
		p.mu.Unlock()
		for _, ch := range channels {
			ch.events.stop()
		}
		p.pc.Call("close")
	})
	return err
}

// await calls start and waits for the promise it returns. A closed
// RTCPeerConnection never settles its promises, so closing ends the wait;
// the two callbacks are then left unreleased, as the promise could still
// call them.
func (p *jsPeer) await(start func() js.Value) (_ js.Value, err error) {
	defer catchJS(&err)
	type result struct {
		v   js.Value
		err error
	}
	settled := make(chan result, 1)
	resolve := js.FuncOf(func(_ js.Value, args []js.Value) any {
		settled <- result{v: firstArg(args)}
		return nil
	})
	reject := js.FuncOf(func(_ js.Value, args []js.Value) any {
		settled <- result{err: jsError(firstArg(args))}
		return nil
	})
	start().Call("then", resolve, reject)
	select {
	case r := <-settled:
		resolve.Release()
		reject.Release()
		return r.v, r.err
	case <-p.closed:
		return js.Undefined(), errClosedPeer
	}
}

// jsChannel is a dataChannel over an RTCDataChannel set to deliver
// ArrayBuffers.
//
// Every message crosses syscall/js, where each property name is decoded
// again and each object handed to Go gets a finalizer: on the path of every
// update, several times per message. So the per-message calls go through
// functions bound once, called with Invoke (no name to decode), and a
// message is sent from a scratch buffer the channel keeps (no ArrayBuffer
// to allocate and collect per message).
type jsChannel struct {
	dc     js.Value
	name   string
	events *jsEvents

	sendFn     js.Value // dc.send bound to dc
	bufferedFn js.Value // bufferedFn(dc) reads dc.bufferedAmount

	mu       sync.Mutex // guards the scratch buffer between copy and send
	scratch  js.Value   // Uint8Array of maxMessage bytes
	prefixOf js.Value   // prefixOf(0, n) is a view of scratch's first n bytes
	recv     []byte     // scratch for received messages, used inside the message event only
}

// maxMessage is the largest message the scratch buffers hold; the mesh
// never sends a larger one (MaxMessageSize), and larger ones still work.
const maxMessage = MaxMessageSize

// JS constructors and accessors, looked up once.
var (
	jsUint8Array  = js.Global().Get("Uint8Array")
	jsArrayBuffer = js.Global().Get("ArrayBuffer")
	// jsBufferedAmount is the property's name as a JS string, for the
	// getter that falls back to Reflect.get.
	jsBufferedAmount = js.ValueOf("bufferedAmount")
)

func newJSChannel(dc js.Value, name string) *jsChannel {
	scratch := jsUint8Array.New(maxMessage)
	return &jsChannel{
		dc: dc, name: name, events: newJSEvents(dc),
		sendFn:     bindMethod(dc, "send"),
		bufferedFn: boundGetter(dc, "bufferedAmount"),
		scratch:    scratch,
		prefixOf:   bindMethod(scratch, "subarray"),
		recv:       make([]byte, maxMessage),
	}
}

// bindMethod returns obj[name] bound to obj: callable with Invoke.
func bindMethod(obj js.Value, name string) js.Value {
	return obj.Get(name).Call("bind", obj)
}

// boundGetter returns a function f such that f(o) reads property name of
// an object o like obj: the accessor's getter from obj's prototype chain,
// bound as getter.call. When the property is no accessor it returns
// Reflect.get, which needs the name as second argument.
func boundGetter(obj js.Value, name string) js.Value {
	for proto := obj; !proto.IsNull() && !proto.IsUndefined(); proto = js.Global().Get("Object").Call("getPrototypeOf", proto) {
		desc := js.Global().Get("Object").Call("getOwnPropertyDescriptor", proto, name)
		if desc.IsUndefined() {
			continue
		}
		if get := desc.Get("get"); get.Type() == js.TypeFunction {
			return get.Get("call").Call("bind", get)
		}
		break
	}
	return js.Global().Get("Reflect").Get("get")
}

func (c *jsChannel) send(msg []byte) (err error) {
	defer catchJS(&err)
	if len(msg) > maxMessage {
		buf := jsUint8Array.New(len(msg))
		js.CopyBytesToJS(buf, msg)
		c.sendFn.Invoke(buf)
		return nil
	}
	// send copies the bytes at once, so the scratch is free again after it.
	c.mu.Lock()
	defer c.mu.Unlock()
	js.CopyBytesToJS(c.scratch, msg)
	c.sendFn.Invoke(c.prefixOf.Invoke(0, len(msg)))
	return nil
}

func (c *jsChannel) bufferedAmount() uint64 {
	return uint64(c.bufferedFn.Invoke(c.dc, jsBufferedAmount).Float())
}

func (c *jsChannel) setBufferedAmountLowThreshold(n uint64) {
	c.dc.Set("bufferedAmountLowThreshold", float64(n))
}

func (c *jsChannel) onBufferedAmountLow(f func()) {
	c.events.listen("bufferedamountlow", func(js.Value) func() { return f })
}

func (c *jsChannel) onOpen(f func()) {
	c.events.listen("open", func(js.Value) func() { return f })
}

func (c *jsChannel) onClose(f func()) {
	c.events.listen("close", func(js.Value) func() { return f })
}

// onMessage copies each message out of JS at once, in the event, and hands
// it to f in order from the channel's goroutine.
func (c *jsChannel) onMessage(f func([]byte)) {
	c.events.listen("message", func(e js.Value) func() {
		msg := c.messageBytes(e.Get("data"))
		return func() { f(msg) }
	})
}

// messageBytes copies a message's data. Text messages (no peer of ours
// sends them) are passed as their bytes and rejected by the decoder. The
// copy goes through the channel's scratch, which spares asking JS for the
// length; JS callbacks never run concurrently, so the scratch is free.
func (c *jsChannel) messageBytes(data js.Value) []byte {
	if data.Type() == js.TypeString {
		return []byte(data.String())
	}
	if !data.InstanceOf(jsArrayBuffer) {
		return nil
	}
	view := jsUint8Array.New(data)
	if n := js.CopyBytesToGo(c.recv, view); n < len(c.recv) {
		return bytes.Clone(c.recv[:n])
	}
	msg := make([]byte, view.Length())
	js.CopyBytesToGo(msg, view)
	return msg
}

func (c *jsChannel) isOpen() bool  { return c.dc.Get("readyState").String() == "open" }
func (c *jsChannel) label() string { return c.name }

// jsEvents holds the listeners added to one JS object and runs their Go
// handlers in order on one goroutine. A listener only takes what it needs
// from the event and queues the handler: nothing may block inside a JS
// callback. Listeners are added with addEventListener, so that the page may
// add its own (track, datachannel...) beside them.
type jsEvents struct {
	target js.Value

	mu        sync.Mutex
	listeners []jsListener
	queue     []func()
	wake      chan struct{}
	stopped   chan struct{}
	once      sync.Once
}

type jsListener struct {
	event string
	fn    js.Func
}

func newJSEvents(target js.Value) *jsEvents {
	e := &jsEvents{target: target, wake: make(chan struct{}, 1), stopped: make(chan struct{})}
	go e.run()
	return e
}

// listen adds a listener for event; take runs inside the JS callback and
// returns the handler to queue.
func (e *jsEvents) listen(event string, take func(js.Value) func()) {
	e.listenNow(event, func(v js.Value) { e.push(take(v)) })
}

// listenNow adds a listener whose handler runs inside the JS callback: it
// must not block.
func (e *jsEvents) listenNow(event string, handle func(js.Value)) {
	fn := js.FuncOf(func(_ js.Value, args []js.Value) any {
		handle(firstArg(args))
		return nil
	})
	e.target.Call("addEventListener", event, fn)
	e.mu.Lock()
	e.listeners = append(e.listeners, jsListener{event: event, fn: fn})
	e.mu.Unlock()
}

func (e *jsEvents) push(handler func()) {
	e.mu.Lock()
	e.queue = append(e.queue, handler)
	e.mu.Unlock()
	notify(e.wake)
}

func (e *jsEvents) run() {
	for {
		select {
		case <-e.wake:
		case <-e.stopped:
			return
		}
		e.mu.Lock()
		handlers := e.queue
		e.queue = nil
		e.mu.Unlock()
		for _, h := range handlers {
			select {
			case <-e.stopped:
				return
			default:
			}
			h()
		}
	}
}

// stop removes and releases the listeners and drops the events not yet
// handled. Once removed, a listener is never called again, so releasing it
// is safe.
func (e *jsEvents) stop() {
	e.once.Do(func() {
		close(e.stopped)
		e.mu.Lock()
		listeners := e.listeners
		e.mu.Unlock()
		for _, l := range listeners {
			e.target.Call("removeEventListener", l.event, l.fn)
			l.fn.Release()
		}
	})
}

func firstArg(args []js.Value) js.Value {
	if len(args) == 0 {
		return js.Undefined()
	}
	return args[0]
}

// jsError describes a rejected promise's reason.
func jsError(reason js.Value) error {
	if reason.Type() == js.TypeObject {
		return fmt.Errorf("%s: %s", reason.Get("name").String(), reason.Get("message").String())
	}
	return fmt.Errorf("%s", reason.String())
}

// catchJS turns a JS exception thrown by a call into an error.
func catchJS(err *error) {
	r := recover()
	if r == nil {
		return
	}
	if e, ok := r.(js.Error); ok {
		*err = fmt.Errorf("mesh: %s", e.Error())
		return
	}
	panic(r)
}
