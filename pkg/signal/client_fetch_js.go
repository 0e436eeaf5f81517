//go:build js && wasm

package signal

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"syscall/js"
)

// HTTPClient is the type of ClientConfig.HTTPClient. In the browser build it
// is a placeholder that only nil fits: ids are fetched with the browser's
// fetch and WebSockets opened with its WebSocket, which take no client, and
// naming *http.Client here would link net/http and crypto/tls into the
// wasm binary. Natively it is *http.Client.
type HTTPClient = *noHTTPClient

// noHTTPClient has no values outside this package: a nil HTTPClient is the
// only one a browser caller can give.
type noHTTPClient struct{}

var errNoFetch = errors.New("this JavaScript environment has no fetch")

// fetchID asks the server for a fresh id (GET u) with the browser's fetch;
// cancelling ctx aborts the request.
func fetchID(ctx context.Context, _ HTTPClient, u string) (string, error) {
	body, ok, status, err := browserGet(ctx, u)
	if err != nil {
		return "", fmt.Errorf("signal fetch id: %w", err)
	}
	if len(body) > maxIDLen+1 {
		body = body[:maxIDLen+1] // as much as the native build reads
	}
	return fetchedID(ok, status, body)
}

// browserGet fetches u and returns its body as text, whether the status was
// 200, and the status line.
func browserGet(ctx context.Context, u string) (body []byte, ok bool, status string, err error) {
	fetch := js.Global().Get("fetch")
	if fetch.Type() != js.TypeFunction {
		return nil, false, "", errNoFetch
	}
	options := map[string]any{}
	abort := func() {} // without AbortController, a cancelled fetch runs on unheard
	if ctor := js.Global().Get("AbortController"); ctor.Type() == js.TypeFunction {
		controller := ctor.New()
		options["signal"] = controller.Get("signal")
		abort = func() { controller.Call("abort") }
	}
	promise, err := jsCall(js.Global(), "fetch", u, options)
	if err != nil {
		return nil, false, "", err
	}
	resp, err := awaitPromise(ctx, promise, abort)
	if err != nil {
		return nil, false, "", err
	}
	code := resp.Get("status").Int()
	status = strconv.Itoa(code)
	if text := resp.Get("statusText").String(); text != "" {
		status += " " + text
	}
	promise, err = jsCall(resp, "text")
	if err != nil {
		return nil, false, "", err
	}
	text, err := awaitPromise(ctx, promise, abort)
	if err != nil {
		return nil, false, "", err
	}
	return []byte(text.String()), code == 200, status, nil
}

// promiseOutcome is how a promise settled.
type promiseOutcome struct {
	value js.Value
	err   error
}

// awaitPromise waits, on the calling goroutine, for p to settle; its
// callbacks only hand the outcome over a buffered channel. When ctx ends
// first it calls abort, which must make p settle soon, and keeps the
// callbacks until p has settled, since releasing them earlier would leave p
// calling released functions.
func awaitPromise(ctx context.Context, p js.Value, abort func()) (js.Value, error) {
	settled := make(chan promiseOutcome, 1) // exactly one callback runs, once
	onFulfilled := js.FuncOf(func(_ js.Value, args []js.Value) any {
		settled <- promiseOutcome{value: firstArg(args)}
		return nil
	})
	onRejected := js.FuncOf(func(_ js.Value, args []js.Value) any {
		settled <- promiseOutcome{err: errors.New(jsErrorText(firstArg(args)))}
		return nil
	})
	release := func() {
		onFulfilled.Release()
		onRejected.Release()
	}
	p.Call("then", onFulfilled, onRejected)
	select {
	case outcome := <-settled:
		release()
		return outcome.value, outcome.err
	case <-ctx.Done():
		abort()
		go func() {
			<-settled
			release()
		}()
		return js.Value{}, ctx.Err()
	}
}
