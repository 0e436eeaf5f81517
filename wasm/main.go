//go:build js && wasm

// Command wasm is rooms.wasm: pkg/room compiled for the browser, driven by
// the JS shim in js/src. It is not meant to be called by apps directly; the
// shim's Room class is the public API.
//
// main installs one object, globalThis.__rooms, and then parks forever, so
// the Go runtime starts once per page and serves every room of the page:
//
//	__rooms.create(participant, roomID, initialJSON, optionsJSON, hooks) → Promise<Ready>
//	__rooms.join(participant, roomID, optionsJSON, hooks)                → Promise<Ready>
//
// hooks is {event(type, json), admit?(knockJSON) → Promise<string>}: event
// receives the room's events in order (see eventJSON); admit, on the
// doorman, resolves to "" to admit a newcomer or to the refusal's reason.
// Ready is {handle, state, version, peers, doorman} where handle has the
// methods documented on newHandle. Every value crosses as a JSON string or
// a number, which keeps this layer small and the wasm binary without a
// reflection-based converter.
//
// The rule that shapes this file: a js.FuncOf callback must never block
// (the page's only thread would stop), so every call that waits returns a
// Promise and does its work in a goroutine. Go calls into JS (events,
// reducers, admit) are made from goroutines, where blocking is allowed.
package main

import (
	"syscall/js"
)

// apiVersion lets the shim refuse a rooms.wasm of another release.
const apiVersion = 1

func main() {
	api := js.Global().Get("Object").New()
	api.Set("version", apiVersion)
	api.Set("create", js.FuncOf(jsCreate))
	api.Set("join", js.FuncOf(jsJoin))
	js.Global().Set("__rooms", api)
	select {}
}
