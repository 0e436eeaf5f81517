// Tic-tac-toe: the board is the room's state and every move is a
// conditional update, so the room itself refuses out-of-turn and double
// moves (ConflictError) whatever a page believes. The first two members
// take the X and O seats; everyone else watches, late joiners included.
import { enterRoom, participantId, randomId, roomFromURL, el, setStatus } from '../rooms-demo.js'
import { Inspector } from '../inspector.js'

const $ = s => document.querySelector(s)
const LINES = [[0, 1, 2], [3, 4, 5], [6, 7, 8], [0, 3, 6], [1, 4, 7], [2, 5, 8], [0, 4, 8], [2, 4, 6]]
const fresh = () => ({ board: Array(9).fill(null), turn: 'X', winner: null, players: { X: null, O: null } })
const roomId = roomFromURL()
const inspector = new Inspector($('#inspector'))
const status = $('#status')
const cells = []
let room = null

$('#room-id').textContent = roomId
for (let i = 0; i < 9; i++) {
  const b = el('button', { type: 'button', 'data-cell': String(i), 'aria-label': `cell ${i + 1}`, onclick: () => move(i) })
  cells.push(b)
  $('#board').append(b)
}
$('#reset').addEventListener('click', reset)

// mine is this member's mark, or null for a spectator.
function mine() {
  const p = room.state.players
  return p.X === room.self ? 'X' : p.O === room.self ? 'O' : null
}

function winnerOf(board) {
  for (const [a, b, c] of LINES) if (board[a] && board[a] === board[b] && board[a] === board[c]) return board[a]
  return board.every(Boolean) ? 'draw' : null
}

// move sends the conditional update; the page does not pre-check the turn,
// so you can watch the room refuse a move out of turn.
async function move(i) {
  const me = mine()
  if (!me) { setStatus(status, 'You are watching: only X and O can move.', 'bad'); return }
  const board = room.state.board.slice()
  board[i] = me
  const patch = [
    { op: 'test', path: `/board/${i}`, value: null },
    { op: 'test', path: '/turn', value: me },
    { op: 'test', path: '/winner', value: null },
    { op: 'replace', path: `/board/${i}`, value: me },
    { op: 'replace', path: '/turn', value: me === 'X' ? 'O' : 'X' },
    { op: 'replace', path: '/winner', value: winnerOf(board) },
  ]
  try {
    await room.update(patch)
    setStatus(status, `You played ${me} in cell ${i + 1}.`, 'ok')
  } catch (err) {
    if (err.name !== 'ConflictError') { setStatus(status, `Move failed: ${err.name}: ${err.message}`, 'bad'); return }
    const s = room.state
    const why = s.winner ? 'the game is over' : s.board[i] ? 'that cell is taken' : s.turn !== me ? `it is ${s.turn}'s turn` : 'the board changed'
    setStatus(status, `Move refused by the room (ConflictError): ${why}.`, 'bad')
  }
}

async function reset() {
  const s = room.state
  try {
    // Only a finished game can be reset, and only once.
    await room.update([{ op: 'test', path: '/winner', value: s.winner }, { op: 'test', path: '/board', value: s.board },
      { op: 'replace', path: '/board', value: Array(9).fill(null) }, { op: 'replace', path: '/turn', value: 'X' },
      { op: 'replace', path: '/winner', value: null }])
    setStatus(status, 'New game.', 'ok')
  } catch (err) {
    setStatus(status, `Reset refused: ${err.name}.`, 'bad')
  }
}

// takeSeat claims X, else O, with a test that the seat is free: two
// newcomers racing for a seat cannot both get it.
async function takeSeat() {
  // A seat held by someone no longer in the room (left while nobody was
  // here to free it) is free again.
  const present = new Set(room.peers.map(p => p.id))
  for (const mark of ['X', 'O']) {
    const id = room.state.players[mark]
    if (id && !present.has(id)) await room.update([{ op: 'test', path: `/players/${mark}`, value: id }, { op: 'replace', path: `/players/${mark}`, value: null }]).catch(() => {})
  }
  for (const mark of ['X', 'O']) {
    if (room.state.players[mark] !== null) continue
    try {
      await room.update([{ op: 'test', path: `/players/${mark}`, value: null }, { op: 'replace', path: `/players/${mark}`, value: room.self }])
      return mark
    } catch (err) {
      if (err.name !== 'ConflictError') throw err
    }
  }
  return null
}

// freeSeat gives a departed player's seat back; every member tries, the
// test lets exactly one succeed.
function freeSeat(id) {
  for (const mark of ['X', 'O']) {
    if (room.state.players[mark] !== id) continue
    room.update([{ op: 'test', path: `/players/${mark}`, value: id }, { op: 'replace', path: `/players/${mark}`, value: null }]).catch(() => {})
  }
}

function render() {
  const s = room.state
  const win = LINES.find(([a, b, c]) => s.board[a] && s.board[a] === s.board[b] && s.board[a] === s.board[c]) || []
  s.board.forEach((mark, i) => {
    cells[i].textContent = mark || ''
    cells[i].dataset.mark = mark || ''
    cells[i].classList.toggle('win', win.includes(i))
  })
  const me = mine()
  const seat = m => s.players[m] ? `${s.players[m]}${s.players[m] === room.self ? ' (you)' : ''}` : 'free seat'
  $('#seats').textContent = `X: ${seat('X')} · O: ${seat('O')} · you ${me ? `play ${me}` : 'are watching'}`
  $('#turn').textContent = s.winner === 'draw' ? 'Draw.' : s.winner ? `${s.winner} wins!` : `${s.turn} to play${s.turn === me ? ' — your turn' : ''}.`
  $('#reset').disabled = !s.winner
}

try {
  setStatus(status, `Entering room ${roomId}…`)
  const self = participantId(new URLSearchParams(location.search).get('name') || `player-${randomId(3)}`)
  room = await enterRoom(self, roomId, fresh(), (r, how) => {
    inspector.attach(r, how)
    r.on('state-update', () => { if (r === room) render() })
    r.on('peer-leave', id => { if (r === room) freeSeat(id) })
  })
  window.demo = { room }
  render()
  const mark = await takeSeat()
  setStatus(status, mark ? `You play ${mark}.` : 'Both seats are taken: you are watching.', 'ok')
  render()
} catch (err) {
  setStatus(status, `Could not enter the room: ${err.name}: ${err.message}`, 'bad')
}
