// The room inspector: a live picture of one member's view of the room —
// members (doorman, voter or learner, connection state, round-trip time),
// the state version, and an event log. Every demo page mounts one:
//   import { Inspector } from '../inspector.js'
//   const inspector = new Inspector(document.querySelector('#inspector'))
//   inspector.attach(room)   // before room.ready, to log the whole story

import { el } from './rooms-demo.js'

const MAX_LOG = 200

export class Inspector {
  constructor(container) {
    this.room = null
    this.lines = []
    this.members = el('tbody')
    this.summary = el('div', { class: 'muted', 'data-testid': 'inspector-summary' }, 'not in a room yet')
    this.log = el('pre', { class: 'log', 'data-testid': 'inspector-log' })
    container.classList.add('inspector')
    container.append(
      el('h2', {}, 'Room inspector'),
      this.summary,
      el('table', {}, el('thead', {}, el('tr', {}, el('th', {}, 'member'), el('th', {}, 'role'), el('th', {}, 'link'), el('th', {}, 'RTT'))), this.members),
      el('h2', { style: 'margin-top:.6rem' }, 'Events'),
      this.log,
    )
    // RTTs change without an event; refresh them now and then.
    this.timer = setInterval(() => this.render(), 1000)
  }

  // attach follows room; call it before room.ready to see the join itself.
  attach(room, how = '') {
    this.room = room
    this.add(`${how || 'open'} room ${room.id} as ${room.self}`)
    room.ready.then(() => {
      this.add(`ready: version ${room.version}, doorman ${room.doorman}`)
      this.render()
    }, err => this.add(`${err.name}: ${err.message}`))
    room.on('state-update', change => {
      const what = change.restored ? 'snapshot' : change.action ? `action ${change.action.name}` : `${(change.patch || []).length} op(s)`
      this.add(`v${change.version} by ${change.proposer || '?'}: ${what}`)
      this.render()
    })
    room.on('peer-join', id => { this.add(`peer-join ${id}`); this.render() })
    room.on('peer-leave', id => { this.add(`peer-leave ${id}`); this.render() })
    room.on('doorman-change', id => { this.add(`doorman is now ${id}`); this.render() })
    room.on('message', (data, from) => { if (!data || data.t !== 'typing' && data.t !== 'cursor') this.add(`message from ${from}`) })
    room.on('error', err => this.add(`error ${err.name}: ${err.message}`))
    room.on('closed', err => { this.add(err ? `closed: ${err.message}` : 'closed'); this.render() })
  }

  // add appends one line to the event log.
  add(text) {
    const t = new Date().toISOString().slice(11, 23)
    this.lines.push(`${t} ${text}`)
    if (this.lines.length > MAX_LOG) this.lines.shift()
    this.log.textContent = this.lines.join('\n')
    this.log.scrollTop = this.log.scrollHeight
  }

  render() {
    const r = this.room
    if (!r || r.state === undefined) return
    this.summary.textContent = r.closed
      ? `room ${r.id}: closed`
      : `room ${r.id} · version ${r.version} · ${r.peers.length} member(s)`
    const rows = [...r.peers].sort((a, b) => a.id.localeCompare(b.id)).map(p => el('tr', { 'data-peer': p.id },
      el('td', {}, p.id, p.self ? el('span', { class: 'tag self' }, 'you') : null, p.doorman ? el('span', { class: 'tag doorman' }, 'doorman') : null),
      el('td', {}, p.voter ? 'voter' : 'learner'),
      el('td', {}, p.state || ''),
      el('td', {}, p.self ? '' : p.rtt ? `${p.rtt.toFixed(1)} ms` : '…'),
    ))
    this.members.replaceChildren(...rows)
  }
}
