// Types of the Rooms browser library: import { Room } from 'rooms'.

/** A JSON value, as room state, payloads and messages must be. */
export type JSONValue = string | number | boolean | null | JSONValue[] | { [key: string]: JSONValue }

/** One JSON Patch (RFC 6902) operation. */
export type PatchOp =
  | { op: 'add' | 'replace' | 'test'; path: string; value: JSONValue }
  | { op: 'remove'; path: string }
  | { op: 'move' | 'copy'; from: string; path: string }

/** A JSON Patch: operations applied in order, all or none. */
export type Patch = PatchOp[]

/** What a newcomer tells the doorman; the admit hook sees it. */
export interface Knock {
  participantId: string
  metadata?: JSONValue
}

/** An ICE (STUN/TURN) server, as in RTCIceServer. */
export interface IceServer {
  urls: string | string[]
  username?: string
  credential?: string
}

/** Options of Room.create and Room.join. Durations are in milliseconds. */
export interface RoomOptions {
  /** Signalling (PeerJS-protocol) server; default the public PeerJS server. */
  host?: string
  port?: number
  path?: string
  key?: string
  secure?: boolean
  /** Separates this app's rooms from other apps' on a shared server. */
  appId?: string
  /**
   * Closes the room to anyone without it: what goes through the signalling
   * server is encrypted, and the doorman admits only newcomers that prove it.
   * Every member uses the same; a mismatch rejects join with a RefusedError
   * (reason "wrong password", "this room needs a password" or "this room has
   * no password"). "" or undefined: no password.
   */
  password?: string
  iceServers?: IceServer[]
  /** Voting members at most (the rest are learners). Default 5. */
  maxVoters?: number
  /** Members at most. Default 50. */
  maxMembers?: number
  /** Bounds create/join. Default 30000. */
  joinTimeout?: number
  /** Bounds update, dispatch and read. Default 30000. */
  updateTimeout?: number
  /** How long a member may be unreachable before removal. Default 15000. */
  peerTimeout?: number
  /** Where rooms.wasm is; default next to the script. */
  wasmUrl?: string | URL
  /**
   * On the doorman: decides about a newcomer. true/undefined admits; false or
   * a string (the reason) refuses; a throw refuses.
   */
  admit?: (knock: Knock) => boolean | string | void | Promise<boolean | string | void>
  /** Shown to the doorman's admit hook. */
  metadata?: JSONValue
  /**
   * This member's Ed25519 identity as a 32-byte seed; default a new key per
   * room. Keep one (crypto.getRandomValues(new Uint8Array(32)), stored by
   * the app) to show the same `peer.key` fingerprint across visits.
   */
  identity?: Uint8Array
  /** Log the Go side's diagnostics to the console. */
  debug?: boolean
}

/** A member of the room as this member sees it. */
export interface Peer {
  readonly id: string
  readonly voter: boolean
  readonly doorman: boolean
  readonly self: boolean
  /** Connection state ("connected", ...), "self" for this member. */
  readonly state: string
  /** Round-trip time in milliseconds, 0 when unknown. */
  readonly rtt: number
  /** Fingerprint of the member's Ed25519 public key (16 hex digits), to show or pin identities. */
  readonly key: string
}

/** This member's view of the room's replicated log. */
export interface RaftStatus {
  /** Raft term: grows with every election. */
  readonly term: number
  /** Index of the last log entry known committed. */
  readonly commit: number
  /** Index of the last log entry applied to this member's state. */
  readonly applied: number
  /** The doorman (raft leader), '' while electing. */
  readonly leader: string
}

/** What a state-update event reports. */
export interface Change {
  /** Number of changes applied to the state so far, after this one. */
  readonly version: number
  /** Participant id of the member that made the change, when known. */
  readonly proposer?: string
  readonly seq?: number
  /** The patch that was applied (an action's reducer output for actions). */
  readonly patch?: Patch
  readonly action?: { readonly name: string; readonly payload: JSONValue }
  /** True when a snapshot replaced the whole state. */
  readonly restored?: boolean
}

/** What a reducer learns about the action it reduces; the same on every member. */
export interface ActionContext {
  readonly proposer?: string
  readonly seq: number
  readonly index: number
  /** State version before the action. */
  readonly version: number
}

/** Deep readonly view of a state. */
export type Immutable<T> = T extends (infer U)[] ? ReadonlyArray<Immutable<U>>
  : T extends object ? { readonly [K in keyof T]: Immutable<T[K]> }
  : T

/** A pure, deterministic function from (state, payload) to the next state. */
export type Reducer<S, P = any> = (state: Immutable<S>, payload: P, ctx: ActionContext) => S | Immutable<S>

export interface RoomEvents<S> {
  'state-update': (change: Change, state: Immutable<S>) => void
  'peer-join': (peerId: string) => void
  'peer-leave': (peerId: string) => void
  'doorman-change': (doormanId: string) => void
  message: (data: any, peerId: string) => void
  /** A media track from peerId (see addStream). */
  track: (peerId: string, track: MediaStreamTrack, stream: MediaStream) => void
  /** This member's raft status changed (term or commit index). */
  raft: (raft: RaftStatus) => void
  error: (error: RoomError) => void
  closed: (error?: RoomError) => void
}

/** One member's view of a room. */
export declare class Room<S = any> {
  private constructor()
  /** Creates room roomId; this page is its first member and doorman. */
  static create<S extends object>(participantId: string, roomId: string, initialState: S, options?: RoomOptions): Room<S>
  /** Knocks on room roomId; await `ready`. */
  static join<S = any>(participantId: string, roomId: string, options?: RoomOptions): Room<S>
  /** Loads rooms.wasm and starts the Go runtime ahead of the first create or join. */
  static preload(options?: Pick<RoomOptions, 'wasmUrl'>): Promise<void>
  /** Settles when this member is in the room, with its state. */
  readonly ready: Promise<Room<S>>
  readonly id: string
  readonly self: string
  /** Immutable; unchanged parts keep their identity. undefined before a join is ready. */
  readonly state: Immutable<S>
  readonly version: number
  readonly peers: readonly Peer[]
  readonly doorman: string
  /** Raft term and indexes as this member sees them (refreshed about 4 times a second). */
  readonly raft: RaftStatus
  readonly closed: boolean
  on<E extends keyof RoomEvents<S>>(event: E, fn: RoomEvents<S>[E]): () => void
  off<E extends keyof RoomEvents<S>>(event: E, fn: RoomEvents<S>[E]): void
  /** Resolves with the new state; rejects with ConflictError when a test op fails. */
  update(patch: Patch): Promise<Immutable<S>>
  register<P = any>(name: string, reducer: Reducer<S, P>): void
  dispatch<P extends JSONValue | undefined = any>(name: string, payload?: P): Promise<Immutable<S>>
  /** The state after every change committed before the call. */
  read(): Promise<Immutable<S>>
  /** Ephemeral message (not in the state log) to peerId or to every other member. */
  send(data: JSONValue, peerId?: string): Promise<void>
  /**
   * Sends the stream's tracks to every other member, and to members that
   * join later; they get a 'track' event. Mute with track.enabled = false.
   */
  addStream(stream: MediaStream): void
  /** Stops sending a stream given to addStream. */
  removeStream(stream: MediaStream): void
  /**
   * If this member is the doorman, makes another voter the doorman (done by
   * itself when the page is hidden; a failure then is an 'error' event).
   * Rejects with kind "no-voter" when there is no other voter.
   */
  handOver(): Promise<void>
  leave(): Promise<void>
}

export declare class RoomError extends Error {
  readonly kind: string
}
export declare class RoomExistsError extends RoomError {}
export declare class RoomNotFoundError extends RoomError {}
export declare class RefusedError extends RoomError {
  readonly reason: string
}
export declare class TimeoutError extends RoomError {}
export declare class ClosedError extends RoomError {}
export declare class ConflictError extends RoomError {}
export declare class ReducerError extends RoomError {}

/** Applies a JSON Patch to an immutable document, sharing untouched parts. */
export declare function applyPatch<T>(doc: T, patch: Patch): T
/** A JSON Patch from prev to next, skipping identical references. */
export declare function diff(prev: unknown, next: unknown): Patch
