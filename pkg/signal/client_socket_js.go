//go:build js && wasm

package signal

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"syscall/js"
	"time"
)

// browserSocket is a socket over the browser's WebSocket, bound directly
// with syscall/js. The event handlers never block: they queue to the Go side
// under mu and signal through channels. They are released when the socket
// ends: on the close event, or when this side drops the socket (detached
// first, so the browser never calls a released function).
type browserSocket struct {
	ws js.Value

	opened chan struct{} // closed by the open event
	ended  chan struct{} // closed when the socket ended, after endErr is set
	shut   chan struct{} // closed when this side starts closing
	queued chan struct{} // holds a token while inbox may be non-empty

	mu         sync.Mutex
	handlers   []js.Func // nil once released
	inbox      []incoming
	readFailed bool  // inbox ends with an error: later messages are dropped
	endErr     error // why the socket ended, once it has
	shutting   bool  // shut is closed

	endOnce        sync.Once
	closeRequested atomic.Bool
	awaitingClose  atomic.Bool // close waits for the close event
}

// incoming is one queued message, or the error that ends reading.
type incoming struct {
	data []byte
	err  error
}

// Errors of the browser socket.
var (
	errSocketShut  = errors.New("websocket closed by this side")
	errNoWebSocket = errors.New("websocket: this JavaScript environment has no WebSocket")
)

// closeHandshakeTimeout bounds close's wait for the server's answer, as
// coder/websocket does natively.
const closeHandshakeTimeout = 5 * time.Second

// readyStateOpen is WebSocket.OPEN.
const readyStateOpen = 1

func dialSocket(ctx context.Context, url string, _ HTTPClient) (socket, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s, err := openBrowserSocket(url)
	if err != nil {
		return nil, err
	}
	select {
	case <-s.opened:
		return s, nil
	case <-s.ended:
		s.closeNow()
		return nil, fmt.Errorf("websocket connection failed: %w", s.endErr)
	case <-ctx.Done():
		s.closeNow()
		return nil, ctx.Err()
	}
}

func openBrowserSocket(url string) (*browserSocket, error) {
	ctor := js.Global().Get("WebSocket")
	if ctor.Type() != js.TypeFunction {
		return nil, errNoWebSocket
	}
	ws, err := jsNew(ctor, url)
	if err != nil {
		return nil, fmt.Errorf("websocket: %w", err)
	}
	s := &browserSocket{
		ws:     ws,
		opened: make(chan struct{}),
		ended:  make(chan struct{}),
		shut:   make(chan struct{}),
		queued: make(chan struct{}, 1),
	}
	// Binary messages arrive as ArrayBuffers, which copy synchronously,
	// rather than Blobs; PeerJS servers send text anyway.
	ws.Set("binaryType", "arraybuffer")
	s.handle("onopen", func(js.Value) { close(s.opened) })
	s.handle("onmessage", s.onMessage)
	s.handle("onerror", s.onError)
	s.handle("onclose", s.onClose)
	return s, nil
}

// handlerNames are the WebSocket's event handler properties this binding
// sets.
var handlerNames = [...]string{"onopen", "onmessage", "onerror", "onclose"}

// handle sets the WebSocket's event handler property name to fn.
func (s *browserSocket) handle(name string, fn func(event js.Value)) {
	f := js.FuncOf(func(_ js.Value, args []js.Value) any {
		fn(firstArg(args))
		return nil
	})
	s.handlers = append(s.handlers, f)
	s.ws.Set(name, f)
}

func (s *browserSocket) onMessage(event js.Value) {
	data, err := messageBytes(event.Get("data"))
	s.mu.Lock()
	if s.readFailed {
		s.mu.Unlock()
		return
	}
	s.inbox = append(s.inbox, incoming{data: data, err: err})
	s.readFailed = err != nil
	s.mu.Unlock()
	if err != nil {
		// As natively: a message over the limit drops the socket. Browsers
		// let scripts close with 1000 or 3000-4999 only, not 1009.
		s.requestClose("message too big")
	}
	select {
	case s.queued <- struct{}{}:
	default:
	}
}

// messageBytes copies a message's data, a string or an ArrayBuffer, to Go.
func messageBytes(data js.Value) ([]byte, error) {
	if data.Type() == js.TypeString {
		b := []byte(data.String())
		if len(b) > MaxFrameSize {
			return nil, errMessageTooBig(len(b))
		}
		return b, nil
	}
	bytes := js.Global().Get("Uint8Array").New(data)
	n := bytes.Length()
	if n > MaxFrameSize {
		return nil, errMessageTooBig(n)
	}
	b := make([]byte, n)
	js.CopyBytesToGo(b, bytes)
	return b, nil
}

func errMessageTooBig(n int) error {
	return fmt.Errorf("websocket message of %d bytes is over the %d-byte limit", n, MaxFrameSize)
}

// onError ends the socket. Browsers follow an error event with a close
// event, code 1006, and give the error no message; node's WebSocket gives a
// message but, when the handshake is refused, no close event, so the error
// event must end the socket by itself.
func (s *browserSocket) onError(event js.Value) {
	err := &closeError{code: closeAbnormal}
	if msg := event.Get("message"); msg.Type() == js.TypeString {
		err.detail = msg.String()
	}
	s.end(err)
}

func (s *browserSocket) onClose(event js.Value) {
	s.end(&closeError{
		code:   event.Get("code").Int(),
		reason: event.Get("reason").String(),
		clean:  event.Get("wasClean").Bool(),
	})
	s.release()
}

// end records why the socket ended; the first reason wins.
func (s *browserSocket) end(err error) {
	s.endOnce.Do(func() {
		s.mu.Lock()
		s.endErr = err
		s.mu.Unlock()
		close(s.ended)
	})
}

// release detaches and releases the event handlers, once.
func (s *browserSocket) release() {
	s.mu.Lock()
	handlers := s.handlers
	s.handlers = nil
	s.mu.Unlock()
	if handlers == nil {
		return
	}
	for _, name := range handlerNames {
		s.ws.Set(name, js.Null())
	}
	for _, f := range handlers {
		f.Release()
	}
}

func (s *browserSocket) read(ctx context.Context) ([]byte, error) {
	for {
		s.mu.Lock()
		shutting, endErr := s.shutting, s.endErr
		var next incoming
		queued := !shutting && len(s.inbox) > 0
		if queued {
			next = s.inbox[0]
			s.inbox[0] = incoming{} // for the garbage collector
			s.inbox = s.inbox[1:]
		}
		s.mu.Unlock()
		switch {
		case shutting:
			return nil, errSocketShut
		case queued:
			return next.data, next.err
		case endErr != nil:
			// Messages that arrived before the end were read first.
			return nil, endErr
		}
		select {
		case <-s.queued:
		case <-s.ended:
		case <-s.shut:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// write hands data to the browser, which sends it without blocking the
// caller: ctx only matters when it has already ended.
func (s *browserSocket) write(ctx context.Context, data []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	shutting, endErr := s.shutting, s.endErr
	s.mu.Unlock()
	switch {
	case shutting:
		return errSocketShut
	case endErr != nil:
		return endErr
	}
	// A closing WebSocket drops what it is given without a word.
	if state := s.ws.Get("readyState").Int(); state != readyStateOpen {
		return fmt.Errorf("websocket is closing (readyState %d)", state)
	}
	if _, err := jsCall(s.ws, "send", string(data)); err != nil {
		return fmt.Errorf("websocket send: %w", err)
	}
	return nil
}

func (s *browserSocket) close() error {
	s.awaitingClose.Store(true)
	s.shutDown()
	defer s.release()
	s.mu.Lock()
	released := s.handlers == nil
	s.mu.Unlock()
	if released {
		return nil // closeNow came first: no close event will be seen
	}
	select {
	case <-s.ended:
		return nil
	case <-time.After(closeHandshakeTimeout):
		return errors.New("websocket close: the server did not answer the closure in time")
	}
}

// closeNow closes the socket without waiting for the server's answer; the
// browser completes the closing handshake on its own. The handlers stay
// while a close waits for the close event (the client's read loop drops the
// socket while Client.Close waits), and that close releases them.
func (s *browserSocket) closeNow() {
	s.shutDown()
	if !s.awaitingClose.Load() {
		s.release()
	}
}

// shutDown fails reads and writes from now on and asks the browser to
// close the socket.
func (s *browserSocket) shutDown() {
	s.mu.Lock()
	first := !s.shutting
	s.shutting = true
	s.mu.Unlock()
	if first {
		close(s.shut)
	}
	s.requestClose("")
}

// requestClose asks the browser, once, to close the socket normally. The
// browser may run event handlers before close returns (node fires error at
// once on a socket still connecting), so nothing here may be held by them.
func (s *browserSocket) requestClose(reason string) {
	if s.closeRequested.Swap(true) {
		return
	}
	// close throws only for codes and reasons the browser refuses, and ours
	// are valid.
	_, _ = jsCall(s.ws, "close", closeNormal, reason)
}

// WebSocket close codes (RFC 6455 section 7.4.1). Browsers let scripts send
// only closeNormal and 3000-4999; the others are what they report.
const (
	closeNormal         = 1000
	closeGoingAway      = 1001
	closeProtocolError  = 1002
	closeUnsupported    = 1003
	closeNoStatus       = 1005
	closeAbnormal       = 1006
	closeInvalidPayload = 1007
	closePolicy         = 1008
	closeMessageTooBig  = 1009
	closeInternalError  = 1011
	closeServiceRestart = 1012
	closeTryAgainLater  = 1013
	closeTLSFailure     = 1015
)

// closeError is how a browser WebSocket ended, from its close event (or
// its error event, which stands for an abnormal closure).
type closeError struct {
	code   int
	reason string // the server's close reason, if any
	clean  bool   // the closing handshake completed
	detail string // the error event's message, if any
}

func (e *closeError) Error() string {
	msg := fmt.Sprintf("websocket closed with status %d (%s)", e.code, closeCodeMeaning(e.code))
	if e.reason != "" {
		msg += fmt.Sprintf(": %q", e.reason)
	}
	if e.detail != "" {
		msg += ": " + e.detail
	}
	return msg
}

func closeCodeMeaning(code int) string {
	switch code {
	case closeNormal:
		return "normal closure"
	case closeGoingAway:
		return "going away"
	case closeProtocolError:
		return "protocol error"
	case closeUnsupported:
		return "unsupported data"
	case closeNoStatus:
		return "no status given"
	case closeAbnormal:
		return "abnormal closure: connection refused, lost or blocked, without a close frame"
	case closeInvalidPayload:
		return "invalid payload"
	case closePolicy:
		return "policy violation"
	case closeMessageTooBig:
		return "message too big"
	case closeInternalError:
		return "server error"
	case closeServiceRestart:
		return "service restart"
	case closeTryAgainLater:
		return "try again later"
	case closeTLSFailure:
		return "TLS handshake failed"
	}
	if code >= 3000 && code <= 4999 {
		return "application code"
	}
	return "unknown code"
}

// jsNew calls the constructor ctor, turning a JavaScript exception into an
// error rather than a panic.
func jsNew(ctor js.Value, args ...any) (v js.Value, err error) {
	defer recoverJSError(&err)
	return ctor.New(args...), nil
}

// jsCall calls v's method, turning a JavaScript exception into an error.
func jsCall(v js.Value, method string, args ...any) (result js.Value, err error) {
	defer recoverJSError(&err)
	return v.Call(method, args...), nil
}

func recoverJSError(err *error) {
	r := recover()
	if r == nil {
		return
	}
	jsErr, ok := r.(js.Error)
	if !ok {
		panic(r)
	}
	*err = errors.New(jsErrorText(jsErr.Value))
}

// jsErrorText describes a thrown or rejected JavaScript value: its name and
// message, and its cause's message where the runtime gives one (node's fetch
// says "fetch failed" and puts ECONNREFUSED in the cause).
func jsErrorText(v js.Value) string {
	text := js.Global().Get("String").Invoke(v).String() // "TypeError: fetch failed"
	if v.Type() != js.TypeObject {
		return text
	}
	if cause := v.Get("cause"); cause.Type() == js.TypeObject {
		if msg := cause.Get("message"); msg.Type() == js.TypeString && msg.String() != "" {
			text += ": " + msg.String()
		}
	}
	return text
}

func firstArg(args []js.Value) js.Value {
	if len(args) == 0 {
		return js.Undefined()
	}
	return args[0]
}
