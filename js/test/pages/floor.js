// This machine's floor for BenchmarkBrowserRoom: the round a Rooms update
// makes (the leader's append, acks from a quorum, the commit) over a full
// mesh of data channels, no Rooms code involved. The machine's speed swings
// about 2x between runs; next to this figure the room's latency says what
// the library itself costs.
//
// The round's message handling runs in one of three ways (setMode): 'js',
// plain JavaScript; 'go' and 'export', Go compiled to wasm (gofloor.wasm,
// see ../gofloor), called through syscall/js as rooms.wasm is, or through
// //go:wasmexport. The Go ways tell what Go in the page costs by itself.
//
// The node driver relays each pair's SDP (offer, answer, finish), then
// page 0 leads the rounds (run) and every page reports when it applied
// each one (applied). Peers are named by their page index.
window.Floor = (() => {
  // A message is [type, seq (u32, little-endian)], padded to about the
  // size Rooms sends for the same step.
  const APPEND = 1, ACK = 2, COMMIT = 3, DONE = 4
  const SIZE = { [APPEND]: 300, [ACK]: 60, [COMMIT]: 60, [DONE]: 8 }
  const QUORUM_ACKS = 2 // with the leader's own vote, 3 of 5
  const ROUND_TIMEOUT_MS = 5000 // a lost round fails the benchmark, it does not hang it

  const wallClock = () => performance.timeOrigin + performance.now() // comparable across pages
  const connections = {} // peer → RTCPeerConnection, kept so they are not collected
  const channels = {} // peer → RTCDataChannel
  const started = {} // seq → when the leader sent the append
  const appliedAt = {} // seq → when this page applied it
  const acks = {} // seq → acks the leader has had
  const pendingDone = {} // seq → followers the leader still waits for
  let roundDone = null
  let nextSeq = 1 // rounds are numbered across runs, so a late ack never counts twice
  let mode = 'js'
  let go = null // gofloor's exports, once loaded

  function message(type, seq) {
    const bytes = new Uint8Array(SIZE[type])
    bytes[0] = type
    new DataView(bytes.buffer).setUint32(1, seq, true)
    return bytes
  }

  function broadcast(bytes) {
    for (const channel of Object.values(channels)) channel.send(bytes)
  }

  // The leader is whoever sent the append, so a page needs no role.
  function handle(from, data) {
    const type = new Uint8Array(data)[0], seq = new DataView(data).getUint32(1, true)
    if (type === APPEND) {
      channels[from].send(message(ACK, seq))
    } else if (type === ACK) {
      if (++acks[seq] === QUORUM_ACKS) {
        appliedAt[seq] = wallClock()
        broadcast(message(COMMIT, seq))
      }
    } else if (type === COMMIT) {
      appliedAt[seq] = wallClock()
      channels[from].send(message(DONE, seq))
    } else if (type === DONE) {
      if (--pendingDone[seq] === 0) roundDone()
    }
  }

  // receive hands a message to the current mode's handler.
  function receive(peer, data) {
    if (mode === 'js') handle(peer, data)
    else if (mode === 'go') go.syscallJS.goHandle(peer, data)
    else go.exports.floorHandle(peer, toInbox(new Uint8Array(data)))
  }

  // toInbox copies bytes into gofloor's inbox, for an exported call to
  // read, and returns how many.
  function toInbox(bytes) {
    new Uint8Array(go.exports.mem.buffer, go.inbox, bytes.length).set(bytes)
    return bytes.length
  }

  // What gofloor.wasm calls, either way: the same steps handle takes.
  const goCalls = {
    sendTo: (peer, bytes) => channels[peer].send(bytes),
    markApplied: seq => { appliedAt[seq] = wallClock() },
    endRound: () => roundDone(),
  }

  // loadGo starts gofloor.wasm in this page (beside rooms.wasm, with its
  // own Go runtime). It binds its syscall/js functions onto goCalls.
  async function loadGo(url) {
    const runtime = new globalThis.Go()
    runtime.importObject.floor = {
      sendTo: (peer, ptr, n) => goCalls.sendTo(peer, new Uint8Array(go.exports.mem.buffer, ptr, n)),
      markApplied: goCalls.markApplied,
      endRound: goCalls.endRound,
    }
    const response = await fetch(url)
    if (!response.ok) throw new Error(`floor: ${url}: HTTP ${response.status} (BenchmarkBrowserRoom builds it)`)
    const { instance } = await WebAssembly.instantiateStreaming(response, runtime.importObject)
    const started = new Promise(resolve => { goCalls.started = resolve })
    runtime.run(instance)
    await started // the exports need the Go runtime up
    go = { exports: instance.exports, inbox: instance.exports.floorInbox(), syscallJS: goCalls }
  }

  // callCost times a call into Go that does nothing, through syscall/js
  // and through an export, in microseconds each, in a quiet page.
  function callCost(n = 20000) {
    const time = f => {
      for (let i = 0; i < n / 10; i++) f() // warm-up
      const start = performance.now()
      for (let i = 0; i < n; i++) f()
      return (performance.now() - start) * 1000 / n
    }
    return { syscallJS: time(() => goCalls.goNothing()), export: time(() => go.exports.floorNothing()) }
  }

  function setMode(m) {
    if (!['js', 'go', 'export'].includes(m)) throw new Error(`floor: unknown mode ${JSON.stringify(m)}`)
    if (m !== 'js' && !go) throw new Error(`floor: mode ${m} needs loadGo first`)
    mode = m
  }

  // connect opens a pre-agreed (negotiated) channel, so neither side has
  // to wait for the other to announce it.
  function connect(peer) {
    const pc = new RTCPeerConnection()
    const channel = pc.createDataChannel('floor', { negotiated: true, id: 1, ordered: true })
    channel.binaryType = 'arraybuffer'
    channel.onmessage = e => receive(peer, e.data)
    connections[peer] = pc
    channels[peer] = channel
    return pc
  }

  // The driver relays one SDP each way and no trickled candidates, so
  // each side's description must already hold all of them.
  function gathered(pc) {
    return new Promise(resolve => {
      if (pc.iceGatheringState === 'complete') return resolve()
      pc.addEventListener('icegatheringstatechange', () => { if (pc.iceGatheringState === 'complete') resolve() })
    })
  }

  async function offer(peer) {
    const pc = connect(peer)
    await pc.setLocalDescription()
    await gathered(pc)
    return pc.localDescription.sdp
  }

  // answer returns before the channel opens: it cannot open until the
  // offerer has the answer.
  async function answer(peer, sdp) {
    const pc = connect(peer)
    await pc.setRemoteDescription({ type: 'offer', sdp })
    await pc.setLocalDescription()
    await gathered(pc)
    return pc.localDescription.sdp
  }

  async function finish(peer, sdp) {
    await connections[peer].setRemoteDescription({ type: 'answer', sdp })
  }

  function allOpen() {
    return Promise.all(Object.values(channels).map(channel => new Promise(resolve => {
      if (channel.readyState === 'open') resolve()
      else channel.addEventListener('open', resolve, { once: true })
    })))
  }

  // run leads the rounds one after another, as the room benchmark's
  // updates go: each starts once every follower has applied the last.
  // It returns the rounds' numbers and when each started.
  async function run(rounds) {
    const out = []
    const peers = Object.keys(channels).map(Number)
    for (let k = 0; k < rounds; k++) {
      const seq = nextSeq++
      acks[seq] = 0
      pendingDone[seq] = peers.length
      const done = new Promise(resolve => { roundDone = resolve })
      started[seq] = wallClock()
      start(seq, peers)
      await within(done, ROUND_TIMEOUT_MS, `floor: round ${seq} (${mode})`)
      out.push({ seq, started: started[seq] })
    }
    return out
  }

  function within(promise, ms, what) {
    let timer
    const late = new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`${what} did not end within ${ms} ms`)), ms) })
    return Promise.race([promise, late]).finally(() => clearTimeout(timer))
  }

  function start(seq, peers) {
    if (mode === 'js') broadcast(message(APPEND, seq))
    else if (mode === 'go') go.syscallJS.goStart(seq, peers)
    else go.exports.floorStart(seq, toInbox(peers))
  }

  return { offer, answer, finish, allOpen, loadGo, callCost, setMode, run, applied: () => appliedAt, goCalls }
})()
