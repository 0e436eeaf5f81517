// A shared poll in React: the options, the votes and the voters' names are
// the room's replicated state. useRoom joins the room for the component's
// life; useRoomState re-renders a component when the part of the state it
// selects changes, on whichever member the change was made.
// Bundled by build.mjs; 'rooms' and 'rooms/react' are the npm package.
import { Component, useEffect, useRef, useState } from 'react'
import { createRoot } from 'react-dom/client'
import { useRoom, useRoomState } from 'rooms/react'
import { participantId, roomFromURL, signalOptions } from '../rooms-demo.js'
import { Inspector } from '../inspector.js'

const INITIAL = {
  question: 'What shall we have for lunch?',
  options: [{ id: 'o1', text: 'Pizza', by: '' }, { id: 'o2', text: 'Noodles', by: '' }],
  votes: {}, // participant id -> option id: one vote each, changed by overwriting
  names: {}, // participant id -> display name
}
const ENTER_ATTEMPTS = 4
const roomId = roomFromURL()
const inspector = new Inspector(document.querySelector('#inspector'))
document.querySelector('#room-id').textContent = roomId

function App() {
  const fromURL = new URLSearchParams(location.search).get('name')
  const [name, setName] = useState(fromURL || '')
  // The participant id is made once per page, from the name first given.
  const [self, setSelf] = useState(() => (fromURL ? participantId(fromURL) : ''))
  if (self) return <Enter self={self} name={name} />
  const submit = ev => {
    ev.preventDefault()
    if (name.trim()) setSelf(participantId(name.trim()))
  }
  return (
    <form onSubmit={submit}>
      <h2>Who are you?</h2>
      <input id="name" type="text" maxLength={40} placeholder="your name" value={name} onChange={ev => setName(ev.target.value)} autoFocus required />
      <button id="join" type="submit">Enter the room</button>
    </form>
  )
}

// Enter joins the room, and creates it when nobody is there (useRoom
// throws RoomNotFoundError); two first visitors may race to create, and the
// loser (RoomExistsError) joins. Each attempt is a fresh Member, so a fresh
// useRoom.
function Enter({ self, name }) {
  const [attempt, setAttempt] = useState({ n: 0, create: false })
  const [failure, setFailure] = useState(null)
  const retry = err => {
    const again = err.name === 'RoomNotFoundError' || err.name === 'RoomExistsError'
    if (again && attempt.n + 1 < ENTER_ATTEMPTS) setAttempt({ n: attempt.n + 1, create: err.name === 'RoomNotFoundError' })
    else setFailure(err)
  }
  if (failure) return <p id="status" className="status bad">Could not enter the room: {failure.name}: {failure.message}</p>
  return (
    <Boundary key={attempt.n} onError={retry}>
      <Member self={self} name={name} create={attempt.create} />
    </Boundary>
  )
}

class Boundary extends Component {
  state = { failed: false }
  static getDerivedStateFromError() { return { failed: true } }
  componentDidCatch(err) { this.props.onError(err) }
  render() { return this.state.failed ? null : this.props.children }
}

function Member({ self, name, create }) {
  const room = useRoom(self, roomId, create ? { ...signalOptions(), initialState: INITIAL } : signalOptions())
  useEffect(() => {
    if (!room) return
    window.demo = { room }
    inspector.attach(room, create ? 'create' : 'join')
    // Our display name goes into the shared state, so everyone can show it.
    room.update([{ op: 'add', path: `/names/${room.self}`, value: name }]).catch(err => console.error('name:', err))
  }, [room])
  if (!room) return <p id="status" className="status">{create ? 'Creating' : 'Joining'} room {roomId}…</p>
  return <Poll room={room} />
}

function Poll({ room }) {
  const question = useRoomState(room, s => s.question)
  const [status, setStatus] = useState({ text: `You are in the room; the doorman is ${room.doorman}.`, kind: 'ok' })
  const act = async (what, patch) => {
    try {
      await room.update(patch)
      setStatus({ text: what, kind: 'ok' })
    } catch (err) {
      setStatus({ text: `${err.name}: ${err.message}`, kind: 'bad' })
    }
  }
  return (
    <>
      <h2 id="question">{question}</h2>
      <Options room={room} act={act} />
      <AddOption room={room} act={act} />
      <p id="status" className={`status ${status.kind}`}>{status.text}</p>
      <Voters room={room} />
    </>
  )
}

// Options re-renders when the options or the votes change, not when a
// name is added: the render count on the page shows it.
function Options({ room, act }) {
  const options = useRoomState(room, s => s.options)
  const votes = useRoomState(room, s => s.votes)
  const renders = useRenderCount()
  const count = id => Object.values(votes).filter(v => v === id).length
  const total = Object.keys(votes).length
  const vote = o => act(`You voted for ${o.text}.`, [
    // Voting for an option somebody removed would be refused by the test.
    { op: 'test', path: `/options/${options.indexOf(o)}/id`, value: o.id },
    { op: 'add', path: `/votes/${room.self}`, value: o.id },
  ])
  return (
    <>
      <ul id="options" className="plain" data-renders={renders}>
        {options.map(o => {
          const n = count(o.id)
          const mine = votes[room.self] === o.id
          return (
            <li key={o.id} data-option={o.text} data-votes={n} className={mine ? 'mine' : ''}>
              <button type="button" onClick={() => vote(o)} disabled={mine}>{mine ? 'Your vote' : 'Vote'}</button>
              <span className="text">{o.text}</span>
              <span className="bar"><span style={{ width: `${total ? (100 * n) / total : 0}%` }} /></span>
              <span className="count">{n}</span>
            </li>
          )
        })}
      </ul>
      <p className="muted">{total} vote(s) · this list has rendered {renders} time(s)</p>
    </>
  )
}

function AddOption({ room, act }) {
  const [text, setText] = useState('')
  const submit = ev => {
    ev.preventDefault()
    const t = text.trim()
    if (!t) return
    setText('')
    // "add" at /options/- appends: two members adding at once both land.
    act(`You added ${t}.`, [{ op: 'add', path: '/options/-', value: { id: `${room.self}-${Date.now().toString(36)}`, text: t, by: room.self } }])
  }
  return (
    <form id="add-form" onSubmit={submit}>
      <input id="option" type="text" maxLength={60} placeholder="another option" value={text} onChange={ev => setText(ev.target.value)} autoComplete="off" />
      <button id="add" type="submit">Add</button>
    </form>
  )
}

function Voters({ room }) {
  const names = useRoomState(room, s => s.names)
  const votes = useRoomState(room, s => s.votes)
  const options = useRoomState(room, s => s.options)
  const textOf = id => (options.find(o => o.id === id) || {}).text || '?'
  return (
    <>
      <h2>Who voted</h2>
      <ul id="voters" className="plain">
        {Object.entries(votes).map(([who, id]) => <li key={who} data-voter={who}>{names[who] || who}: {textOf(id)}</li>)}
      </ul>
    </>
  )
}

function useRenderCount() {
  const n = useRef(0)
  n.current++
  return n.current
}

// The room's expected refusals (nobody there yet, or somebody created it
// first) are caught and retried by Enter; anything else is reported.
const quiet = new Set(['RoomNotFoundError', 'RoomExistsError'])
createRoot(document.querySelector('#app'), {
  onCaughtError: err => { if (!quiet.has(err && err.name)) console.error(err) },
}).render(<App />)
