// Typed errors of the Rooms API. Every error is a RoomError; catch the
// subclass you can act on (`err instanceof ConflictError`).

/** Base class of every error the Rooms API rejects or throws with. */
export class RoomError extends Error {
  constructor(message, kind = 'error') {
    super(message)
    /** Stable machine-readable kind, e.g. "conflict", "timeout". */
    this.kind = kind
  }
}

/** Room.create: the room id is already taken. */
export class RoomExistsError extends RoomError {}
/** Room.join: nobody answers for the room id. */
export class RoomNotFoundError extends RoomError {}
/** Room.join: the doorman refused; `reason` says why. */
export class RefusedError extends RoomError {
  constructor(message, reason) {
    super(message, 'refused')
    /** The doorman's reason, as its admit hook gave it. */
    this.reason = reason
  }
}
/** A deadline passed. An update may still be applied later (at most once). */
export class TimeoutError extends RoomError {}
/** The room was left, or this member was removed from it. */
export class ClosedError extends RoomError {}
/** A `test` op failed or a path did not fit: a conditional update lost. */
export class ConflictError extends RoomError {}
/** An action's reducer threw, returned nothing, or is not registered. */
export class ReducerError extends RoomError {}

// Names are set explicitly: minifiers rename classes.
for (const [cls, n] of [
  [RoomError, 'RoomError'], [RoomExistsError, 'RoomExistsError'], [RoomNotFoundError, 'RoomNotFoundError'],
  [RefusedError, 'RefusedError'], [TimeoutError, 'TimeoutError'], [ClosedError, 'ClosedError'],
  [ConflictError, 'ConflictError'], [ReducerError, 'ReducerError'],
]) {
  Object.defineProperty(cls.prototype, 'name', { value: n, writable: true, configurable: true })
}

const byKind = {
  'room-exists': RoomExistsError,
  'room-not-found': RoomNotFoundError,
  timeout: TimeoutError,
  closed: ClosedError,
  conflict: ConflictError,
  reducer: ReducerError,
}

/** Turns an error description from rooms.wasm into a typed error. */
export function fromGo(e) {
  if (e instanceof Error) return e
  const { kind = 'error', message = String(e), reason } = e || {}
  if (kind === 'refused') return new RefusedError(message, reason)
  if (kind === 'invalid') return new TypeError(message)
  const Class = byKind[kind] || RoomError
  return new Class(message, kind)
}
