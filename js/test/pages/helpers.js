// Test helpers loaded by every test page: window.T records what a page's
// room does so the node driver can compare pages.
window.T = {
  room: null,
  log: [], // state-update events: {version, proposer, patch, state}
  events: [], // [type, arg] of the other events
  videos: {}, // peerId → <video> playing that member's stream
  signal: { host: location.hostname, port: Number(location.port), path: '/signal/', secure: false },

  options(extra) {
    return { ...this.signal, joinTimeout: 20000, ...extra }
  },

  track(room) {
    this.room = room
    room.on('state-update', (change, state) => {
      this.log.push({ version: change.version, proposer: change.proposer, patch: change.patch, state: JSON.stringify(state) })
    })
    for (const type of ['peer-join', 'peer-leave', 'doorman-change', 'message', 'error', 'closed', 'raft']) {
      room.on(type, (a, b) => this.events.push([type, a === undefined ? null : a, b === undefined ? null : b]))
    }
    room.on('track', (peerId, track, stream) => {
      this.events.push(['track', peerId, track.kind])
      if (track.kind !== 'video') return
      const v = document.createElement('video')
      v.muted = true
      v.autoplay = true
      v.srcObject = stream
      document.body.append(v)
      this.videos[peerId] = v
    })
    return room
  },

  async create(self, id, init, extra) {
    const room = this.track(window.Rooms.Room.create(self, id, init, this.options(extra)))
    await room.ready
    return this.summary()
  },

  async join(self, id, extra) {
    const room = this.track(window.Rooms.Room.join(self, id, this.options(extra)))
    await room.ready
    return this.summary()
  },

  // camera sends this page's (fake) camera and microphone to the room.
  async camera() {
    const stream = await navigator.mediaDevices.getUserMedia({ video: true, audio: true })
    this.room.addStream(stream)
  },

  summary() {
    const r = this.room
    return {
      self: r.self, doorman: r.doorman, version: r.version, state: JSON.stringify(r.state),
      peers: r.peers.map(p => p.id).sort(),
    }
  },

  // waitFor polls cond every animation-free 20 ms until it holds; the
  // driver bounds it with its own timeout.
  async waitFor(cond) {
    while (!cond()) await new Promise(resolve => setTimeout(resolve, 20))
  },

  // error describes a rejection for the driver: class name and fields.
  async outcome(promise) {
    try {
      const v = await promise
      return { ok: true, value: v === undefined ? null : JSON.parse(JSON.stringify(v)) }
    } catch (err) {
      return { ok: false, name: err && err.name, message: String(err && err.message), reason: err && err.reason }
    }
  },
}
