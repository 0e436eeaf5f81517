// A typed usage example, checked by `tsc --noEmit` (TestTypes). The lines
// marked as expected errors must stay errors: they prove the types catch misuse.
import { ConflictError, RefusedError, Room, RoomNotFoundError, type Change, type Patch } from 'rooms'
import { useRoom, useRoomState } from 'rooms/react'

interface Game {
  seat: string | null
  moves: { by: string; to: number }[]
  score: Record<string, number>
}

export async function play(): Promise<void> {
  const room = Room.create<Game>('alice', 'lobby', { seat: null, moves: [], score: {} }, {
    host: 'localhost', port: 9000, path: '/signal/', secure: false, appId: 'demo',
    iceServers: [{ urls: 'stun:stun.example.org' }],
    maxVoters: 5, joinTimeout: 10000,
    admit: async knock => knock.participantId !== 'mallory' || 'not you',
  })
  await room.ready
  room.on('state-update', (change: Change, state) => {
    const seat: string | null = state.seat
    console.log(change.version, change.proposer, seat, state.moves.length)
  })
  room.on('peer-join', id => console.log(id.toUpperCase()))
  room.on('message', (data, from) => console.log(data, from))

  const patch: Patch = [{ op: 'test', path: '/seat', value: null }, { op: 'replace', path: '/seat', value: 'alice' }]
  try {
    const next = await room.update(patch)
    console.log(next.seat)
  } catch (err) {
    if (err instanceof ConflictError) console.log('seat taken', err.kind)
  }

  room.register<{ to: number }>('move', (state, payload, ctx) => ({
    ...state,
    moves: [...state.moves, { by: ctx.proposer ?? '?', to: payload.to }],
  }))
  await room.dispatch('move', { to: 4 })
  await room.send({ cursor: [1, 2] })
  await room.send({ typing: true }, 'bob')
  for (const p of room.peers) console.log(p.id, p.voter, p.doorman, p.rtt)
  console.log(room.doorman, room.self, room.version)
  console.log(room.raft.term, room.raft.commit, room.raft.leader)
  room.on('raft', r => console.log(r.commit - r.applied))
  room.on('track', (peerId, track, stream) => console.log(peerId, track.kind, stream.id))
  const camera = await navigator.mediaDevices.getUserMedia({ video: true })
  room.addStream(camera)
  room.removeStream(camera)
  // @ts-expect-error addStream takes a MediaStream
  room.addStream(camera.getTracks()[0])

  // @ts-expect-error the state is immutable
  room.state.seat = 'bob'
  // @ts-expect-error a patch is an array of operations
  await room.update({ op: 'replace', path: '/seat', value: 'x' })
  // @ts-expect-error unknown event name
  room.on('state-changed', () => {})
  Room.join('bob', 'lobby', { identity: crypto.getRandomValues(new Uint8Array(32)), password: 'pw' })
  // @ts-expect-error unknown option
  Room.join('bob', 'lobby', { hots: 'typo' })

  const joiner = Room.join<Game>('bob', 'lobby')
  await joiner.ready.catch(err => {
    if (err instanceof RefusedError) console.log(err.reason)
    if (err instanceof RoomNotFoundError) console.log('no such room')
  })
  await room.leave()
}

export function useScore(): number | undefined {
  const room = useRoom<Game>('carol', 'lobby', { initialState: { seat: null, moves: [], score: {} } })
  const all = useRoomState(room)
  const score = useRoomState(room, s => s.score['carol'])
  console.log(all?.moves.length)
  return score
}
