//go:build js && wasm

// Command gofloor is the benchmark floor's round (pages/floor.js: append,
// quorum acks, commit, done) with its message handling written in Go and
// compiled to wasm, doing nothing else: no raft, no signatures, no state.
// It tells what Go in the page costs by itself on the path of an update,
// against floor.js's plain JavaScript, on the same pages and connections.
//
// It takes messages two ways, one figure each:
//
//   - through syscall/js, as rooms.wasm does: a js.FuncOf callback per
//     message, and js.Value calls to send;
//   - through //go:wasmexport and //go:wasmimport: JavaScript copies the
//     message into Go's memory and calls an exported function, which sends
//     by an imported one, with no js.Value at all.
//
// floor.js loads it (Floor.loadGo) and picks the way per run (Floor.setMode).
package main

import (
	"encoding/binary"
	"syscall/js"
	"unsafe"
)

// Message types and sizes, as in floor.js.
const (
	msgAppend = 1
	msgAck    = 2
	msgCommit = 3
	msgDone   = 4

	quorumAcks = 2 // with the leader's own vote, 3 of 5
)

var messageSize = [...]int{msgAppend: 300, msgAck: 60, msgCommit: 60, msgDone: 8}

// round is the leader's bookkeeping, and the way messages leave.
type round struct {
	acks    map[uint32]int
	pending map[uint32]int
	peers   []int32
	out     [512]byte

	send       func(peer int32, msg []byte)
	markDone   func(seq uint32) // this page applied seq
	roundEnded func()
}

func (r *round) message(kind byte, seq uint32) []byte {
	msg := r.out[:messageSize[kind]]
	clear(msg)
	msg[0] = kind
	binary.LittleEndian.PutUint32(msg[1:], seq)
	return msg
}

func (r *round) start(seq uint32, peers []int32) {
	r.acks[seq] = 0
	r.peers = append(r.peers[:0], peers...)
	r.pending[seq] = len(peers)
	for _, p := range r.peers {
		r.send(p, r.message(msgAppend, seq))
	}
}

func (r *round) handle(from int32, msg []byte) {
	if len(msg) < 5 {
		return
	}
	kind, seq := msg[0], binary.LittleEndian.Uint32(msg[1:])
	switch kind {
	case msgAppend:
		r.send(from, r.message(msgAck, seq))
	case msgAck:
		if r.acks[seq]++; r.acks[seq] == quorumAcks {
			r.markDone(seq)
			for _, p := range r.peers {
				r.send(p, r.message(msgCommit, seq))
			}
		}
	case msgCommit:
		r.markDone(seq)
		r.send(from, r.message(msgDone, seq))
	case msgDone:
		if r.pending[seq]--; r.pending[seq] == 0 {
			r.roundEnded()
		}
	}
}

func newRound() *round {
	return &round{acks: map[uint32]int{}, pending: map[uint32]int{}}
}

// The syscall/js way.

// bindSyscallJS sets goHandle and goStart on calls, floor.js's goCalls.
func bindSyscallJS(calls js.Value) {
	uint8Array := js.Global().Get("Uint8Array")
	sendTo, applied, ended := calls.Get("sendTo"), calls.Get("markApplied"), calls.Get("endRound")
	r := newRound()
	r.send = func(peer int32, msg []byte) {
		buf := uint8Array.New(len(msg))
		js.CopyBytesToJS(buf, msg)
		sendTo.Invoke(peer, buf)
	}
	r.markDone = func(seq uint32) { applied.Invoke(seq) }
	r.roundEnded = func() { ended.Invoke() }
	calls.Set("goHandle", js.FuncOf(func(_ js.Value, args []js.Value) any {
		data := uint8Array.New(args[1])
		msg := make([]byte, data.Length())
		js.CopyBytesToGo(msg, data)
		r.handle(int32(args[0].Int()), msg)
		return nil
	}))
	// goNothing and floorNothing time a bare call into Go each way.
	calls.Set("goNothing", js.FuncOf(func(js.Value, []js.Value) any { return nil }))
	calls.Set("goStart", js.FuncOf(func(_ js.Value, args []js.Value) any {
		peers := make([]int32, args[1].Length())
		for i := range peers {
			peers[i] = int32(args[1].Index(i).Int())
		}
		r.start(uint32(args[0].Int()), peers)
		return nil
	}))
}

// The wasmexport way. inbox is where JavaScript writes a message (or a
// round's peer list) before calling in.

var (
	inbox  [4096]byte
	direct = newRound()
)

//go:wasmimport floor sendTo
func importedSendTo(peer int32, msg unsafe.Pointer, n int32)

//go:wasmimport floor markApplied
func importedMarkApplied(seq uint32)

//go:wasmimport floor endRound
func importedEndRound()

//go:wasmexport floorInbox
func exportedInbox() unsafe.Pointer { return unsafe.Pointer(&inbox[0]) }

//go:wasmexport floorNothing
func exportedNothing() {}

//go:wasmexport floorHandle
func exportedHandle(from, n int32) {
	if n >= 0 && int(n) <= len(inbox) {
		direct.handle(from, inbox[:n])
	}
}

//go:wasmexport floorStart
func exportedStart(seq uint32, npeers int32) {
	peers := make([]int32, 0, npeers)
	for _, p := range inbox[:npeers] {
		peers = append(peers, int32(p))
	}
	direct.start(seq, peers)
}

func main() {
	direct.send = func(peer int32, msg []byte) { importedSendTo(peer, unsafe.Pointer(&msg[0]), int32(len(msg))) }
	direct.markDone = importedMarkApplied
	direct.roundEnded = importedEndRound
	calls := js.Global().Get("Floor").Get("goCalls")
	bindSyscallJS(calls)
	calls.Call("started")
	select {}
}
