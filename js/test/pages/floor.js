// This machine's floor for BenchmarkBrowserRoom: the round a Rooms update
// makes (the leader's append, acks from a quorum, the commit) in plain
// JavaScript over a full mesh of data channels, no Rooms code involved.
// The machine's speed swings about 2x between runs; next to this figure
// the room's latency says what the library itself costs.
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

  const wallClock = () => performance.timeOrigin + performance.now() // comparable across pages
  const connections = {} // peer → RTCPeerConnection, kept so they are not collected
  const channels = {} // peer → RTCDataChannel
  const started = {} // seq → when the leader sent the append
  const appliedAt = {} // seq → when this page applied it
  const acks = {} // seq → acks the leader has had
  const pendingDone = {} // seq → followers the leader still waits for
  let roundDone = null

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

  // connect opens a pre-agreed (negotiated) channel, so neither side has
  // to wait for the other to announce it.
  function connect(peer) {
    const pc = new RTCPeerConnection()
    const channel = pc.createDataChannel('floor', { negotiated: true, id: 1, ordered: true })
    channel.binaryType = 'arraybuffer'
    channel.onmessage = e => handle(peer, e.data)
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
  async function run(rounds) {
    for (let seq = 1; seq <= rounds; seq++) {
      acks[seq] = 0
      pendingDone[seq] = Object.keys(channels).length
      const done = new Promise(resolve => { roundDone = resolve })
      started[seq] = wallClock()
      broadcast(message(APPEND, seq))
      await done
    }
    return started
  }

  return { offer, answer, finish, allOpen, run, applied: () => appliedAt }
})()
