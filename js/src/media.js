// Media streams over the room's mesh: the page's streams go to every
// member's RTCPeerConnection (the mesh renegotiates by itself when tracks
// are added or removed), and remote tracks come back as 'track' events.

export class Media {
  #streams = new Set()
  #links = new Map() // peerId → { pc, senders: Map<MediaStream, RTCRtpSender[]>, onTrack, reported: Set<track id> }
  #emitTrack

  constructor(emitTrack) {
    this.#emitTrack = emitTrack
  }

  add(stream) {
    if (this.#streams.has(stream)) return
    this.#streams.add(stream)
    for (const link of this.#links.values()) this.#send(link, stream)
  }

  remove(stream) {
    if (!this.#streams.delete(stream)) return
    for (const link of this.#links.values()) {
      for (const sender of link.senders.get(stream) || []) {
        try { link.pc.removeTrack(sender) } catch { /* the connection is closing */ }
      }
      link.senders.delete(stream)
    }
  }

  // link takes a new (or re-made) connection to peerId: it sends every
  // stream on it and reports the peer's tracks.
  link(peerId, pc) {
    this.unlink(peerId)
    const link = { pc, senders: new Map(), onTrack: null, reported: new Set() }
    link.onTrack = e => this.#report(peerId, link, e.track, e.streams[0] || new MediaStream([e.track]))
    pc.addEventListener('track', link.onTrack)
    this.#links.set(peerId, link)
    this.#reportEarlyTracks(peerId, link)
    for (const stream of this.#streams) this.#send(link, stream)
  }

  unlink(peerId) {
    const link = this.#links.get(peerId)
    if (!link) return
    link.pc.removeEventListener('track', link.onTrack)
    this.#links.delete(peerId)
  }

  close() {
    for (const peerId of [...this.#links.keys()]) this.unlink(peerId)
    this.#streams.clear()
  }

  #send(link, stream) {
    const senders = []
    for (const track of stream.getTracks()) {
      try {
        senders.push(link.pc.addTrack(track, stream))
      } catch { /* closed, or the track is already sent on this link */ }
    }
    link.senders.set(stream, senders)
  }

  // #report emits a remote track once per link.
  #report(peerId, link, track, stream) {
    if (link.reported.has(track.id) || this.#links.get(peerId) !== link) return
    link.reported.add(track.id)
    this.#emitTrack(peerId, track, stream)
  }

  // #reportEarlyTracks reports tracks that arrived before the link was
  // announced (the remote may add its streams as soon as it sees the link).
  // Their track events have fired already; a transceiver shows that it
  // receives once the negotiation in progress is over, so wait for that.
  #reportEarlyTracks(peerId, link) {
    const { pc } = link
    if (pc.signalingState !== 'stable') {
      const settled = () => {
        if (pc.signalingState !== 'stable' && pc.signalingState !== 'closed') return
        pc.removeEventListener('signalingstatechange', settled)
        this.#reportEarlyTracks(peerId, link)
      }
      pc.addEventListener('signalingstatechange', settled)
      return
    }
    const early = pc.getTransceivers()
      .filter(t => (t.currentDirection === 'recvonly' || t.currentDirection === 'sendrecv') && !link.reported.has(t.receiver.track.id))
    if (early.length === 0) return
    const stream = new MediaStream(early.map(t => t.receiver.track))
    for (const track of stream.getTracks()) this.#report(peerId, link, track, stream)
  }
}
