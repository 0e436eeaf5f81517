// Chat: messages live in the room's replicated state (every member sees
// the same list in the same order, and latecomers get the history); who is
// typing travels as ephemeral messages that never enter the state.
import { enterRoom, participantId, roomFromURL, el, setStatus } from '../rooms-demo.js'
import { Inspector } from '../inspector.js'

const $ = s => document.querySelector(s)
const roomId = roomFromURL()
const inspector = new Inspector($('#inspector'))
const status = $('#status')
const typing = new Map() // participant id -> {name, until}
const TYPING_MS = 3000
let room = null
let myName = ''
let lastTypingSent = 0

$('#room-id').textContent = roomId
$('#name').value = localStorage.getItem('rooms-demo-name') || ''
$('#name').focus()

$('#join-form').addEventListener('submit', async ev => {
  ev.preventDefault()
  myName = $('#name').value.trim()
  if (!myName) return
  localStorage.setItem('rooms-demo-name', myName)
  $('#join').disabled = true
  setStatus(status, `Entering room ${roomId}…`)
  try {
    room = await enterRoom(participantId(myName), roomId, { messages: [], names: {} }, (r, how) => {
      inspector.attach(r, how)
      listen(r)
    })
  } catch (err) {
    setStatus(status, `Could not enter the room: ${err.name}: ${err.message}`, 'bad')
    $('#join').disabled = false
    return
  }
  window.demo = { room }
  $('#join-form').classList.add('hidden')
  $('#chat').classList.remove('hidden')
  setStatus(status, `You are ${myName} (${room.self}); the doorman is ${room.doorman}.`, 'ok')
  render()
  $('#text').focus()
  // Our display name goes into the shared state, so everyone can show it.
  room.update([{ op: 'add', path: `/names/${room.self}`, value: myName }]).catch(err => setStatus(status, `name: ${err.message}`, 'bad'))
})

$('#send-form').addEventListener('submit', async ev => {
  ev.preventDefault()
  const text = $('#text').value.trim()
  if (!text || !room) return
  $('#text').value = ''
  room.send({ t: 'typing', name: myName, stop: true }).catch(() => {})
  lastTypingSent = 0
  try {
    // "add" at /messages/- appends: concurrent senders never overwrite
    // each other, the log orders them.
    await room.update([{ op: 'add', path: '/messages/-', value: { from: room.self, name: myName, text, at: Date.now() } }])
  } catch (err) {
    setStatus(status, `Not sent: ${err.name}: ${err.message}`, 'bad')
    $('#text').value = text
  }
})

$('#text').addEventListener('input', () => {
  if (!room || Date.now() - lastTypingSent < 1000) return
  lastTypingSent = Date.now()
  room.send({ t: 'typing', name: myName }).catch(() => {})
})

// listen hooks a room (one per join or create attempt) to the page.
function listen(r) {
  r.on('state-update', () => { if (r === room) render() })
  r.on('peer-join', () => { if (r === room) renderPeople() })
  r.on('peer-leave', id => { typing.delete(id); if (r === room) renderPeople() })
  r.on('message', (data, from) => {
    if (!data || data.t !== 'typing') return
    if (data.stop) typing.delete(from)
    else typing.set(from, { name: String(data.name || from), until: Date.now() + TYPING_MS })
    renderTyping()
  })
  r.on('closed', err => { if (r === room) setStatus(status, `You left the room${err ? `: ${err.message}` : ''}.`, 'bad') })
}

function render() {
  renderMessages()
  renderPeople()
}

let shown = 0
function renderMessages() {
  const list = $('#messages')
  const messages = room.state.messages
  if (messages.length < shown) { list.replaceChildren(); shown = 0 }
  for (const m of messages.slice(shown)) {
    list.append(el('li', { 'data-from': m.from },
      el('span', { class: 'who' }, m.name),
      el('span', { class: 'text' }, m.text),
      el('span', { class: 'when' }, new Date(m.at).toLocaleTimeString())))
  }
  if (messages.length !== shown) list.scrollTop = list.scrollHeight
  shown = messages.length
}

function renderPeople() {
  const names = room.state.names || {}
  $('#people').replaceChildren(...room.peers.map(p => el('li', { 'data-peer': p.id, title: p.id },
    names[p.id] || p.id, p.self ? ' (you)' : '', p.doorman ? ' · doorman' : '')))
}

function renderTyping() {
  const now = Date.now()
  for (const [id, t] of typing) if (t.until < now) typing.delete(id)
  const who = [...typing.values()].map(t => t.name)
  $('#typing').textContent = who.length === 0 ? '' : `${who.join(', ')} ${who.length === 1 ? 'is' : 'are'} typing…`
}
setInterval(renderTyping, 500)
