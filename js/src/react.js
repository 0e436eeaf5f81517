// React bindings: `import { useRoom, useRoomState } from 'rooms/react'`.
import { useCallback, useEffect, useRef, useState, useSyncExternalStore } from 'react'
import { Room } from 'rooms'

/**
 * Joins (or, with initialState, creates) a room for the component's life
 * and leaves it on unmount. Returns the Room once ready, else null; a
 * failure is thrown at the next render (use an error boundary).
 */
export function useRoom(participantId, roomId, options = {}) {
  const [room, setRoom] = useState(null)
  const [error, setError] = useState(null)
  const opts = useRef(options)
  opts.current = options
  useEffect(() => {
    const { initialState, ...rest } = opts.current
    const r = initialState === undefined
      ? Room.join(participantId, roomId, rest)
      : Room.create(participantId, roomId, initialState, rest)
    let live = true
    r.ready.then(() => live && setRoom(r), err => live && setError(err))
    return () => {
      live = false
      setRoom(null)
      r.leave().catch(() => {})
    }
  }, [participantId, roomId])
  if (error) throw error
  return room
}

/**
 * The room's state (or selector(state)), re-rendering on every change.
 * Thanks to structural sharing a selector that picks a part re-renders only
 * when that part changed; a selector must return a part of the state (or a
 * primitive), not a new object each call. Returns undefined while room is null.
 */
export function useRoomState(room, selector = identity) {
  const subscribe = useCallback(onChange => (room ? room.on('state-update', onChange) : () => {}), [room])
  const snapshot = () => (room && room.state !== undefined ? selector(room.state) : undefined)
  return useSyncExternalStore(subscribe, snapshot, snapshot)
}

function identity(s) {
  return s
}
