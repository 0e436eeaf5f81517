// Whiteboard: committed strokes are appended to the room's state; cursors
// and the stroke in progress are ephemeral messages (room.send), so they
// are live but cost the replicated log nothing.
import { enterRoom, participantId, randomId, roomFromURL, el, setStatus } from '../rooms-demo.js'
import { Inspector } from '../inspector.js'

const $ = s => document.querySelector(s)
const W = 800, H = 500
const MAX_POINTS = 400 // per stroke: keeps a state entry small
const CURSOR_MS = 4000
const PALETTE = ['#3559e0', '#d35400', '#1e8449', '#8e44ad', '#c0392b', '#16a085']
const roomId = roomFromURL()
const inspector = new Inspector($('#inspector'))
const status = $('#status')
const canvas = $('#canvas')
const ctx = canvas.getContext('2d')
const remote = new Map() // participant id -> {node, until, points, color}
let room = null
let drawing = null // {color, points}
let lastCursor = 0

$('#room-id').textContent = roomId
$('#color').value = PALETTE[Math.floor(Math.random() * PALETTE.length)]
const myName = new URLSearchParams(location.search).get('name') || `artist-${randomId(3)}`

// point maps a pointer event to canvas coordinates.
function point(ev) {
  const r = canvas.getBoundingClientRect()
  return [Math.round((ev.clientX - r.left) * W / r.width), Math.round((ev.clientY - r.top) * H / r.height)]
}

function stroke(points, color) {
  if (points.length === 0) return
  ctx.strokeStyle = color
  ctx.lineWidth = 3
  ctx.lineCap = ctx.lineJoin = 'round'
  ctx.beginPath()
  ctx.moveTo(...points[0])
  for (const p of points.slice(1)) ctx.lineTo(...p)
  if (points.length === 1) ctx.lineTo(points[0][0] + 0.1, points[0][1])
  ctx.stroke()
}

function render() {
  ctx.clearRect(0, 0, W, H)
  const strokes = room ? room.state.strokes : []
  for (const s of strokes) stroke(s.points, s.color)
  for (const r of remote.values()) if (r.points) stroke(r.points, r.color)
  if (drawing) stroke(drawing.points, drawing.color)
  $('#count').textContent = `${strokes.length} stroke${strokes.length === 1 ? '' : 's'}`
  $('#clear').disabled = !room || strokes.length === 0
}

canvas.addEventListener('pointerdown', ev => {
  if (!room) return
  canvas.setPointerCapture(ev.pointerId)
  drawing = { color: $('#color').value, points: [point(ev)] }
  render()
})

canvas.addEventListener('pointermove', ev => {
  if (!room) return
  const p = point(ev)
  if (drawing && drawing.points.length < MAX_POINTS) {
    const [lx, ly] = drawing.points[drawing.points.length - 1]
    if (Math.abs(p[0] - lx) + Math.abs(p[1] - ly) >= 2) drawing.points.push(p)
    render()
  }
  // Cursors at most ~30 times a second; the stroke in progress rides along.
  if (Date.now() - lastCursor < 33) return
  lastCursor = Date.now()
  room.send({ t: 'cursor', x: p[0], y: p[1], name: myName, color: $('#color').value, points: drawing ? drawing.points : null }).catch(() => {})
})

canvas.addEventListener('pointerup', async () => {
  if (!drawing) return
  const s = { by: room.self, color: drawing.color, points: drawing.points }
  drawing = null
  room.send({ t: 'cursor', x: s.points[s.points.length - 1][0], y: s.points[s.points.length - 1][1], name: myName, color: s.color, points: null }).catch(() => {})
  try {
    await room.update([{ op: 'add', path: '/strokes/-', value: s }])
  } catch (err) {
    setStatus(status, `Stroke lost: ${err.name}: ${err.message}`, 'bad')
  }
  render()
})

$('#clear').addEventListener('click', async () => {
  const n = room.state.strokes.length
  try {
    // Clear what you saw: a stroke committed meanwhile makes this a conflict.
    await room.update([{ op: 'test', path: '/strokes', value: room.state.strokes }, { op: 'replace', path: '/strokes', value: [] }])
    setStatus(status, `Cleared ${n} stroke(s).`, 'ok')
  } catch (err) {
    setStatus(status, err.name === 'ConflictError' ? 'Somebody drew meanwhile: look again, then clear.' : `Clear failed: ${err.message}`, 'bad')
  }
})

function showCursor(from, data) {
  if (typeof data.x !== 'number' || typeof data.y !== 'number') return
  let r = remote.get(from)
  if (!r) {
    r = { node: el('span', { class: 'cursor', 'data-peer': from }) }
    $('#surface').append(r.node)
    remote.set(from, r)
  }
  r.node.textContent = String(data.name || from).slice(0, 30)
  r.node.style.color = r.color = /^#[0-9a-f]{6}$/i.test(data.color) ? data.color : '#000'
  r.node.style.left = `${(data.x / W) * 100}%`
  r.node.style.top = `${(data.y / H) * 100}%`
  r.points = Array.isArray(data.points) ? data.points.slice(0, MAX_POINTS) : null
  r.until = Date.now() + CURSOR_MS
  render()
}

function dropCursor(id) {
  const r = remote.get(id)
  if (r) { r.node.remove(); remote.delete(id); render() }
}

setInterval(() => {
  for (const [id, r] of remote) if (r.until < Date.now()) dropCursor(id)
}, 1000)

try {
  setStatus(status, `Entering room ${roomId}…`)
  room = await enterRoom(participantId(myName), roomId, { strokes: [] }, (r, how) => {
    inspector.attach(r, how)
    r.on('state-update', () => { if (r === room) render() })
    r.on('peer-leave', dropCursor)
    r.on('message', (data, from) => { if (data && data.t === 'cursor') showCursor(from, data) })
  })
  window.demo = { room }
  setStatus(status, `You are ${myName}: draw on the board.`, 'ok')
  render()
} catch (err) {
  setStatus(status, `Could not enter the room: ${err.name}: ${err.message}`, 'bad')
}
