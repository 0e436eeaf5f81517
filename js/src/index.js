// Rooms: multi-user rooms for web pages over WebRTC, with a shared state
// replicated by Raft. `import { Room } from 'rooms'`.
export { Room } from './room.js'
export {
  RoomError, RoomExistsError, RoomNotFoundError, RefusedError, TimeoutError,
  ClosedError, ConflictError, ReducerError,
} from './errors.js'
export { applyPatch, diff } from './immutable.js'
