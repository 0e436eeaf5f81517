// A small React app over the hooks: it creates or joins the room named in
// the page's hash and shows the counter. window.renders counts renders of
// Counter so the driver can tell a re-render happened.
import { createRoot } from 'react-dom/client'
import { useRoom, useRoomState } from 'rooms/react'
import * as Rooms from 'rooms'

window.Rooms = Rooms
window.renders = { counter: 0, other: 0 }

function Counter({ room }) {
  const count = useRoomState(room, s => s.count)
  window.renders.counter++
  return <p id="count">{count === undefined ? 'loading' : `count=${count}`}</p>
}

function Other({ room }) {
  const other = useRoomState(room, s => s.other)
  window.renders.other++
  return <p id="other">{other === undefined ? 'loading' : `other=${other.label}`}</p>
}

function App({ self, roomId, create }) {
  const options = { ...window.T.options(), wasmUrl: '/dist/rooms.wasm' }
  if (create) options.initialState = { count: 0, other: { label: 'x' } }
  const room = useRoom(self, roomId, options)
  if (room) window.T.room = room
  return (
    <div>
      <p id="status">{room ? 'ready' : 'joining'}</p>
      <Counter room={room} />
      <Other room={room} />
    </div>
  )
}

const [self, roomId, mode] = decodeURIComponent(location.hash.slice(1)).split('|')
createRoot(document.getElementById('root')).render(<App self={self} roomId={roomId} create={mode === 'create'} />)
