// The room inspector: a live picture of one member's view of the room.
//   - the mesh as SVG: every member a node on a circle (this page at the
//     top), the doorman and voters/learners marked, and this member's links
//     to the others labelled with their round-trip time (a member measures
//     only its own links, so those are the ones it can show);
//   - the raft term and commit index (when the library reports them);
//   - the state version and an event log.
// Every demo page mounts one in its side column; it folds away to a title.
//   import { Inspector } from '../inspector.js'
//   const inspector = new Inspector(document.querySelector('#inspector'))
//   inspector.attach(room)   // before room.ready, to log the whole story

import { el } from './rooms-demo.js'

const MAX_LOG = 200
const SVG = 'http://www.w3.org/2000/svg'
const FOLDED_KEY = 'rooms-inspector-folded'
// Geometry of the mesh picture, in SVG units (it scales to the column).
const W = 280
const H = 190
const NODE_R = 13
const RING_R = 66

export class Inspector {
  constructor(container) {
    this.room = null
    this.lines = []
    this.term = 0
    this.container = container
    this.summary = el('div', { class: 'muted', 'data-testid': 'inspector-summary' }, 'not in a room yet')
    this.raftLine = el('div', { class: 'raft', 'data-testid': 'inspector-raft' })
    this.mesh = svg('svg', { class: 'mesh', viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': 'members of the room and their links', 'data-testid': 'inspector-mesh' })
    this.log = el('pre', { class: 'log', 'data-testid': 'inspector-log' })
    const folded = localStorage.getItem(FOLDED_KEY) === '1'
    this.details = el('details', {},
      el('summary', {}, el('h2', {}, 'Room inspector')),
      this.summary,
      this.raftLine,
      this.mesh,
      legend(),
      el('h2', { style: 'margin-top:.5rem' }, 'Events'),
      this.log,
    )
    this.details.open = !folded
    container.classList.add('inspector')
    container.classList.toggle('folded', folded)
    this.details.addEventListener('toggle', () => {
      container.classList.toggle('folded', !this.details.open)
      localStorage.setItem(FOLDED_KEY, this.details.open ? '0' : '1')
    })
    container.append(this.details)
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
    // Newer library builds report raft progress and media tracks; older
    // ones refuse unknown event names, which leaves those parts out.
    onIfKnown(room, 'raft', raft => {
      if (raft.term !== this.term) this.add(`raft term ${raft.term}, leader ${raft.leader || 'none'}`)
      this.term = raft.term
      this.renderRaft()
    })
    onIfKnown(room, 'track', (peerId, track) => this.add(`${track.kind} track from ${peerId}`))
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
    this.renderRaft()
    this.renderMesh(r.closed ? [] : r.peers)
  }

  renderRaft() {
    const raft = this.room && this.room.raft
    if (!raft) {
      this.raftLine.textContent = 'raft: not reported by this library build'
      return
    }
    this.raftLine.replaceChildren(
      'raft term ', el('b', { 'data-testid': 'raft-term' }, String(raft.term)),
      ' · commit ', el('b', { 'data-testid': 'raft-commit' }, String(raft.commit)),
      ' · applied ', String(raft.applied),
    )
  }

  // renderMesh redraws the picture: links first, so nodes sit on top.
  renderMesh(peers) {
    const self = peers.find(p => p.self)
    const pos = layout(peers)
    const links = self ? peers.filter(p => !p.self).map(p => link(pos.get(self.id), pos.get(p.id), p)) : []
    const nodes = peers.map(p => node(pos.get(p.id), p))
    this.mesh.replaceChildren(...links, ...nodes)
  }
}

// onIfKnown subscribes fn to event when the room's library knows the event.
function onIfKnown(room, event, fn) {
  try {
    room.on(event, fn)
  } catch (err) {
    if (!(err instanceof TypeError)) throw err
  }
}

// layout places the members on a circle, this member at the top and the
// rest clockwise by id, so a member keeps its place while others come and go.
function layout(peers) {
  const sorted = [...peers].sort((a, b) => (b.self - a.self) || a.id.localeCompare(b.id))
  const pos = new Map()
  const cx = W / 2
  const cy = H / 2
  if (sorted.length === 1) pos.set(sorted[0].id, [cx, cy])
  else {
    sorted.forEach((p, i) => {
      const a = -Math.PI / 2 + (2 * Math.PI * i) / sorted.length
      pos.set(p.id, [cx + RING_R * Math.cos(a), cy + RING_R * Math.sin(a)])
    })
  }
  return pos
}

// link draws this member's link to peer p, labelled with its RTT.
function link([x1, y1], [x2, y2], p) {
  const up = p.state === 'connected'
  const label = p.rtt ? `${p.rtt < 10 ? p.rtt.toFixed(1) : Math.round(p.rtt)} ms` : up ? '…' : p.state || '…'
  // Every drawn link starts at this member, so their midpoints never meet.
  const lx = (x1 + x2) / 2
  const ly = (y1 + y2) / 2
  // A box under the label hides the line (a text outline would not: the
  // space in "12 ms" has none).
  const w = label.length * 6 + 6
  return svg('g', { class: `link ${up ? 'up' : 'down'}`, 'data-link': p.id, 'data-rtt': String(p.rtt || 0) },
    svg('line', { x1, y1, x2, y2 }),
    svg('rect', { x: lx - w / 2, y: ly - 7, width: w, height: 13, rx: 3 }),
    svg('text', { x: lx, y: ly + 3, 'text-anchor': 'middle' }, label),
  )
}

// node draws one member: blue ring for this member, gold for the doorman,
// solid outline for a voter and dashed for a learner.
function node([x, y], p) {
  const role = p.voter ? 'voter' : 'learner'
  const classes = ['node', role, p.doorman ? 'doorman' : '', p.self ? 'self' : ''].filter(Boolean).join(' ')
  const attrs = { class: classes, 'data-node': p.id, 'data-role': role }
  if (p.doorman) attrs['data-doorman'] = ''
  if (p.self) attrs['data-self'] = ''
  // Labels go outside the circle, away from the centre.
  const below = y >= H / 2 - 1
  const short = p.id.length > 14 ? `${p.id.slice(0, 13)}…` : p.id
  const details = [p.id, p.self ? 'you' : '', p.doorman ? 'doorman (raft leader)' : '', role, p.self ? '' : p.state, p.rtt ? `${p.rtt.toFixed(1)} ms` : ''].filter(Boolean).join(' · ')
  return svg('g', attrs,
    svg('title', {}, details),
    svg('circle', { cx: x, cy: y, r: NODE_R }),
    p.doorman ? svg('text', { x, y: y + 4, 'text-anchor': 'middle', class: 'mark' }, 'D') : null,
    svg('text', { x, y: below ? y + NODE_R + 11 : y - NODE_R - 4, 'text-anchor': 'middle', class: 'name' }, short),
  )
}

function legend() {
  const item = (cls, text) => el('span', { class: 'item' }, el('i', { class: cls }), text)
  return el('div', { class: 'legend', 'data-testid': 'inspector-legend' },
    item('sw doorman', 'doorman (raft leader)'),
    item('sw voter', 'voter'),
    item('sw learner', 'learner'),
    item('sw self', 'you'),
    item('ln', 'your link · RTT'),
  )
}

// svg makes an SVG element; children may be strings or nodes.
function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS(SVG, tag)
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v)
  for (const c of children) if (c !== null && c !== undefined) node.append(c)
  return node
}
