// Video call: each member sends its camera and microphone to every other
// member with room.addStream, and shows a tile per member from the 'track'
// events it gets. Tracks travel on the room's own peer connections (a full
// mesh, no media server), so this suits small calls. Who has muted what is
// kept in the replicated state, so every member, latecomers included, shows
// the same badges.
import { enterRoom, participantId, roomFromURL, el, setStatus } from '../rooms-demo.js'
import { Inspector } from '../inspector.js'

const $ = s => document.querySelector(s)
const roomId = roomFromURL()
const inspector = new Inspector($('#inspector'))
const status = $('#status')
const tiles = new Map() // participant id -> {node, video, stream}
let room = null
let local = null // this member's MediaStream, or null without camera and mic
let myName = ''

$('#room-id').textContent = roomId
const nameFromURL = new URLSearchParams(location.search).get('name')
$('#name').value = nameFromURL || localStorage.getItem('rooms-demo-name') || ''
$('#join-form').addEventListener('submit', ev => { ev.preventDefault(); join() })
$('#mic').addEventListener('click', () => toggle('audio'))
$('#cam').addEventListener('click', () => toggle('video'))
$('#leave').addEventListener('click', leave)
if (nameFromURL) join()
else $('#name').focus()

async function join() {
  myName = $('#name').value.trim()
  if (!myName) return
  localStorage.setItem('rooms-demo-name', myName)
  $('#join').disabled = true
  setStatus(status, 'Asking for the camera and microphone…')
  local = await openCamera()
  setStatus(status, `Entering room ${roomId}…`)
  try {
    room = await enterRoom(participantId(myName), roomId, { people: {} }, (r, how) => {
      inspector.attach(r, how)
      listen(r)
    })
  } catch (err) {
    setStatus(status, `Could not enter the room: ${err.name}: ${err.message}`, 'bad')
    $('#join').disabled = false
    return
  }
  window.demo = { room, local }
  $('#join-form').classList.add('hidden')
  $('#call').classList.remove('hidden')
  if (typeof room.addStream !== 'function') {
    setStatus(status, 'This build of the library has no media API (room.addStream): update js/dist.', 'bad')
    return
  }
  if (local) {
    room.addStream(local)
    showTile(room.self, local)
  }
  try {
    await room.update([{ op: 'add', path: `/people/${room.self}`, value: { name: myName, mic: hasKind('audio'), cam: hasKind('video') } }])
  } catch (err) {
    setStatus(status, `Could not announce yourself: ${err.message}`, 'bad')
    return
  }
  renderLabels()
  setStatus(status, `You are in the room as ${myName}${local ? '' : ', watching without camera or microphone'}.`, 'ok')
  renderControls()
}

// openCamera asks for camera and microphone, then either alone; null when
// none is available or allowed (the member can still watch).
async function openCamera() {
  for (const want of [{ video: true, audio: true }, { video: true }, { audio: true }]) {
    try {
      return await navigator.mediaDevices.getUserMedia(want)
    } catch (err) {
      console.warn('getUserMedia', want, err.name)
    }
  }
  return null
}

const hasKind = kind => Boolean(local && local.getTracks().some(t => t.kind === kind))

// listen hooks a room (one per join or create attempt) to the page. Tracks
// may arrive before the join settles, so they are taken from any attempt:
// a failed attempt closes without any.
function listen(r) {
  try {
    r.on('track', (peerId, track) => addTrack(peerId, track))
  } catch (err) {
    // An older library without media refuses the event; join() says so.
  }
  r.on('peer-leave', id => removeTile(id))
  r.on('state-update', () => { if (r === room) renderLabels() })
  r.on('closed', err => {
    if (r !== room) return
    for (const id of [...tiles.keys()]) if (id !== r.self) removeTile(id)
    setStatus(status, `You left the call${err ? `: ${err.message}` : ''}.`, err ? 'bad' : '')
  })
}

// addTrack puts a peer's track in its tile, making the tile on its first.
function addTrack(peerId, track) {
  const tile = tiles.get(peerId) || showTile(peerId, new MediaStream())
  tile.stream.addTrack(track)
  track.addEventListener('ended', () => {
    tile.stream.removeTrack(track)
    if (tile.stream.getTracks().every(t => t.readyState === 'ended')) removeTile(peerId)
  })
  play(tile)
}

// showTile makes the tile of member id showing stream; this member's own
// tile is muted (no echo of your own voice).
function showTile(id, stream) {
  removeTile(id)
  const self = room && id === room.self
  const video = el('video', { autoplay: '', playsinline: '' })
  video.muted = self
  video.srcObject = stream
  const node = el('div', { class: `tile${self ? ' self' : ''}`, 'data-peer': id },
    video,
    el('div', { class: 'camoff hidden' }, 'camera off'),
    el('div', { class: 'label' }, el('span', { class: 'who' }), el('span', { class: 'badge mic hidden' }, 'muted')),
  )
  const tile = { node, video, stream }
  tiles.set(id, tile)
  // Your own tile first, then the others by id, so tiles do not jump about.
  const order = [...tiles.keys()].sort((a, b) => (b === room?.self) - (a === room?.self) || a.localeCompare(b))
  $('#tiles').replaceChildren(...order.map(k => tiles.get(k).node))
  renderLabels()
  play(tile)
  return tile
}

// play starts a tile's video. A browser may refuse to play sound before the
// person has clicked the page; the tile then plays muted with a button.
function play(tile) {
  tile.video.play().catch(err => {
    if (err.name !== 'NotAllowedError' || tile.video.muted) return
    tile.video.muted = true
    tile.video.play().catch(() => {})
    const unmute = el('button', { type: 'button', class: 'unmute' }, 'Unmute')
    unmute.addEventListener('click', () => { tile.video.muted = false; unmute.remove() })
    tile.node.append(unmute)
  })
}

function removeTile(id) {
  const tile = tiles.get(id)
  if (!tile) return
  tiles.delete(id)
  tile.video.srcObject = null
  tile.node.remove()
}

// renderLabels shows each tile's name and its member's mute state, as the
// shared state has them.
function renderLabels() {
  const people = (room && room.state && room.state.people) || {}
  for (const [id, tile] of tiles) {
    const p = people[id] || {}
    tile.node.querySelector('.who').textContent = `${p.name || id}${room && id === room.self ? ' (you)' : ''}`
    tile.node.querySelector('.mic').classList.toggle('hidden', p.mic !== false)
    tile.node.querySelector('.camoff').classList.toggle('hidden', p.cam !== false)
    tile.node.dataset.mic = String(p.mic !== false)
    tile.node.dataset.cam = String(p.cam !== false)
  }
}

// toggle mutes or unmutes this member's audio or video tracks: a disabled
// track keeps flowing as silence or black frames, so nothing is renegotiated.
async function toggle(kind) {
  if (!room || !hasKind(kind)) return
  const tracks = local.getTracks().filter(t => t.kind === kind)
  const on = !tracks[0].enabled
  for (const t of tracks) t.enabled = on
  renderControls()
  try {
    await room.update([{ op: 'replace', path: `/people/${room.self}/${kind === 'audio' ? 'mic' : 'cam'}`, value: on }])
  } catch (err) {
    setStatus(status, `Could not share your ${kind} state: ${err.message}`, 'bad')
  }
}

function renderControls() {
  for (const [id, kind, offText, onText] of [['#mic', 'audio', 'Unmute microphone', 'Mute microphone'], ['#cam', 'video', 'Turn camera on', 'Turn camera off']]) {
    const b = $(id)
    const tracks = local ? local.getTracks().filter(t => t.kind === kind) : []
    b.disabled = tracks.length === 0
    const off = tracks.length > 0 && !tracks[0].enabled
    b.setAttribute('aria-pressed', String(off))
    b.textContent = off ? offText : onText
  }
}

async function leave() {
  if (!room) return
  $('#leave').disabled = true
  if (local) {
    if (typeof room.removeStream === 'function') room.removeStream(local)
    for (const t of local.getTracks()) t.stop()
  }
  removeTile(room.self)
  await room.leave().catch(() => {})
}
