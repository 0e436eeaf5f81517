// The Room class: the public face of a room member in the page.
import { applyPatch, deepFreeze, diff } from './immutable.js'
import { ClosedError, RoomError, fromGo } from './errors.js'
import { encodeOptions } from './options.js'
import { Media } from './media.js'
import { loadRuntime } from './runtime.js'

const EVENTS = new Set(['state-update', 'peer-join', 'peer-leave', 'doorman-change', 'message', 'track', 'raft', 'error', 'closed'])
const internal = Symbol('rooms.internal')
const pageHidden = Symbol('rooms.pageHidden')
const liveRooms = new Set() // rooms of this page, left on pagehide

function name(what, v) {
  if (typeof v !== 'string' || v === '') throw new TypeError(`rooms: ${what} must be a non-empty string, got ${typeof v === 'string' ? '""' : typeof v}`)
  return v
}

function jsonText(what, v) {
  let text
  try {
    text = JSON.stringify(v)
  } catch (err) {
    throw new TypeError(`rooms: ${what} must be JSON: ${err.message}`)
  }
  if (text === undefined) throw new TypeError(`rooms: ${what} must be JSON, got ${typeof v}`)
  return text
}

/**
 * One member's view of a room. Make one with Room.create or Room.join; both
 * return at once, and `ready` settles when the member is in.
 */
export class Room {
  #listeners = new Map()
  #handle = null
  #state = undefined
  #version = 0
  #peers = Object.freeze([])
  #doorman = ''
  #self
  #roomId
  #closed = false
  #syncing = true // events wait in #held until a snapshot is in place
  #held = []
  #waiters = [] // {version, resolve}
  #reducers = new Map()
  #inReducer = false
  #raft = Object.freeze({ term: 0, commit: 0, applied: 0, leader: '' })
  #media = new Media((peerId, track, stream) => this.#emit('track', peerId, track, stream))

  /**
   * Creates room roomId with initialState, this page as its doorman.
   * Rejects `ready` with RoomExistsError when the id is taken.
   */
  static create(participantId, roomId, initialState, options) {
    name('participantId', participantId)
    name('roomId', roomId)
    if (initialState === null || typeof initialState !== 'object') {
      throw new TypeError('rooms: initialState must be a JSON object or array')
    }
    const stateText = jsonText('initialState', initialState)
    const opts = encodeOptions(options)
    const room = new Room(internal, participantId, roomId)
    room.#state = deepFreeze(JSON.parse(stateText))
    room.ready = room.#start(opts, (api, hooks) => api.create(participantId, roomId, stateText, opts.json, hooks))
    return room
  }

  /**
   * Knocks on room roomId. `ready` resolves once the doorman admitted this
   * member and it has the room's state; it rejects with RoomNotFoundError,
   * RefusedError or TimeoutError.
   */
  static join(participantId, roomId, options) {
    name('participantId', participantId)
    name('roomId', roomId)
    const opts = encodeOptions(options)
    const room = new Room(internal, participantId, roomId)
    room.ready = room.#start(opts, (api, hooks) => api.join(participantId, roomId, opts.json, hooks))
    return room
  }

  /**
   * Loads rooms.wasm and starts the Go runtime now rather than at the first
   * create or join. Optional; resolves when Rooms is ready to use.
   */
  static async preload(options) {
    await loadRuntime(encodeOptions(options).wasmUrl)
  }

  constructor(token, self, roomId) {
    if (token !== internal) throw new TypeError('rooms: use Room.create or Room.join, not new Room')
    this.#self = self
    this.#roomId = roomId
  }

  async #start(opts, enter) {
    const hooks = {
      event: (type, json) => this.#onEvent(type, json),
      link: (peerId, pc) => this.#media.link(peerId, pc),
    }
    if (opts.admit) hooks.admit = knock => this.#admit(opts.admit, knock)
    let ready
    try {
      ready = await enter(await loadRuntime(opts.wasmUrl), hooks)
    } catch (e) {
      this.#close()
      throw fromGo(e)
    }
    this.#handle = ready.handle
    for (const [n, bridge] of this.#reducers) this.#register(n, bridge)
    this.#peers = deepFreeze(JSON.parse(ready.peers))
    this.#doorman = ready.doorman
    this.#raft = Object.freeze(JSON.parse(ready.raft))
    openRooms(this)
    this.#resync(JSON.parse(ready.state), ready.version)
    if (this.#closed) throw new ClosedError('rooms: the room closed while joining')
    return this
  }

  async #admit(admit, knockJSON) {
    const k = JSON.parse(knockJSON)
    try {
      const verdict = await admit({ participantId: k.participant, metadata: k.metadata })
      if (verdict === undefined || verdict === true) return ''
      if (verdict === false) return 'refused by the doorman'
      return String(verdict) || 'refused by the doorman'
    } catch (err) {
      return `admit hook threw: ${err && err.message ? err.message : err}`
    }
  }

  /** The room id. */
  get id() { return this.#roomId }
  /** This member's participant id. */
  get self() { return this.#self }
  /** The room state: immutable; unchanged parts keep their identity. */
  get state() { return this.#state }
  /** Number of changes applied to the state so far. */
  get version() { return this.#version }
  /** Every member (this one included): {id, voter, doorman, self, state, rtt}. */
  get peers() { return this.#peers }
  /** The doorman's participant id ("" during an election). */
  get doorman() { return this.#doorman }
  /** This member's view of the raft log: {term, commit, applied, leader}. */
  get raft() { return this.#raft }
  /** True once the room is left or closed. */
  get closed() { return this.#closed }

  /** Adds a listener; returns a function that removes it. */
  on(event, fn) {
    if (!EVENTS.has(event)) throw new TypeError(`rooms: unknown event ${JSON.stringify(event)}; one of ${[...EVENTS].join(', ')}`)
    if (typeof fn !== 'function') throw new TypeError('rooms: on(event, fn): fn must be a function')
    if (!this.#listeners.has(event)) this.#listeners.set(event, new Set())
    this.#listeners.get(event).add(fn)
    return () => this.off(event, fn)
  }

  /** Removes a listener added with on. */
  off(event, fn) {
    this.#listeners.get(event)?.delete(fn)
  }

  #emit(event, ...args) {
    for (const fn of [...(this.#listeners.get(event) || [])]) {
      try {
        fn(...args)
      } catch (err) {
        // A broken listener must not stop the others or the room.
        setTimeout(() => { throw err })
      }
    }
  }

  /**
   * Applies a JSON Patch (RFC 6902) to the room state. Resolves with the
   * new state once the change is committed and applied here; rejects with
   * ConflictError when a `test` op fails.
   */
  async update(patch) {
    if (!Array.isArray(patch)) throw new TypeError('rooms: update(patch): patch must be an array of JSON Patch operations')
    const text = jsonText('patch', patch)
    const h = await this.#live('update')
    return this.#reach(await this.#call(() => h.update(text)))
  }

  /**
   * Registers reducer for dispatch(name, ...). Register the same reducers on
   * every member, before dispatching. A reducer is (state, payload, ctx) =>
   * nextState; it must be pure and deterministic, and must not modify state
   * (it is frozen): return a new object sharing the unchanged parts.
   * ctx is {proposer, seq, index, version}.
   */
  register(actionName, reducer) {
    name('action name', actionName)
    if (typeof reducer !== 'function') throw new TypeError('rooms: register(name, reducer): reducer must be a function')
    if (this.#inReducer) throw new RoomError('rooms: register cannot be called from inside a reducer')
    if (this.#closed) throw new ClosedError('rooms: register after the room closed')
    const bridge = this.#bridge(reducer)
    this.#reducers.set(actionName, bridge)
    if (this.#handle) this.#register(actionName, bridge)
  }

  #register(actionName, bridge) {
    const err = this.#handle.register(actionName, bridge)
    if (err) throw fromGo(err)
  }

  // #bridge adapts a reducer to rooms.wasm's call (see wasm/hooks.go):
  // null asks for the document when the mirror is not at that version.
  #bridge(reducer) {
    return (version, payloadJSON, proposer, seq, index, stateJSON) => {
      let base
      if (stateJSON !== undefined) base = deepFreeze(JSON.parse(stateJSON))
      else if (!this.#syncing && this.#version === version) base = this.#state
      else return null
      this.#inReducer = true
      try {
        const payload = deepFreeze(JSON.parse(payloadJSON))
        const ctx = Object.freeze({ proposer: proposer || undefined, seq, index, version })
        const next = reducer(base, payload, ctx)
        if (next === undefined) throw new TypeError('the reducer returned undefined; return the next state')
        return JSON.stringify(diff(base, next))
      } catch (err) {
        return JSON.stringify({ error: String(err && err.message ? err.message : err) })
      } finally {
        this.#inReducer = false
      }
    }
  }

  /**
   * Runs the reducer registered as actionName on every member, as one
   * change. Resolves with the new state; rejects with ReducerError when
   * the reducer throws.
   */
  async dispatch(actionName, payload = null) {
    name('action name', actionName)
    // Reducers learn the proposer (ctx.proposer) from the replicated member
    // table, not from the payload: a member cannot act in another's name.
    const text = jsonText('payload', payload)
    const h = await this.#live('dispatch')
    return this.#reach(await this.#call(() => h.dispatch(actionName, text)))
  }

  /** Resolves with the state after every change committed before the call. */
  async read() {
    const h = await this.#live('read')
    return this.#reach(await this.#call(() => h.read()))
  }

  /**
   * Sends data (JSON) outside the state log: to peerId, or to every other
   * member. Best effort and unordered: for cursors, typing and the like.
   */
  async send(data, peerId) {
    const text = jsonText('data', data)
    if (peerId !== undefined && peerId !== null) name('peerId', peerId)
    const h = await this.#live('send')
    await this.#call(() => h.send(peerId || '', text))
  }

  /**
   * Sends the tracks of stream (a MediaStream: camera, microphone, screen)
   * to every other member, and to members that join later. They get a
   * 'track' event (peerId, track, stream). Mute with track.enabled = false;
   * tracks added to the stream later are not sent: call removeStream and
   * addStream again.
   */
  addStream(stream) {
    if (typeof MediaStream === 'undefined' || !(stream instanceof MediaStream)) {
      throw new TypeError('rooms: addStream(stream): stream must be a MediaStream')
    }
    if (this.#closed) throw new ClosedError('rooms: addStream after the room closed')
    this.#media.add(stream)
  }

  /** Stops sending the tracks of a stream given to addStream. */
  removeStream(stream) {
    this.#media.remove(stream)
  }

  /**
   * If this member is the doorman, makes another voter the doorman. Called by
   * itself when the page becomes hidden: a hidden tab's timers are throttled
   * to about once a second, too slow to lead.
   */
  async handOver() {
    const h = await this.#live('handOver')
    await this.#call(() => h.handOver())
  }

  /**
   * The page became hidden: a doorman hands over. A hand-over that fails is
   * the room's own error, reported as an 'error' event; having no other
   * voter to hand to is not one.
   */
  [pageHidden]() {
    if (this.#closed || this.doorman !== this.self) return
    this.handOver().catch(err => {
      if (!this.#closed && err.kind !== 'no-voter') this.#emit('error', err)
    })
  }

  /** Leaves the room gracefully. Later calls resolve at once. */
  async leave() {
    if (this.#closed) return
    let h
    try {
      h = await this.ready.then(() => this.#handle)
    } catch {
      return // never joined: nothing to leave
    }
    if (this.#closed) return
    await this.#call(() => h.leave())
    this.#close()
  }

  async #live(op) {
    if (this.#closed) throw new ClosedError(`rooms: ${op} after the room closed`)
    await this.ready
    if (this.#closed) throw new ClosedError(`rooms: ${op} after the room closed`)
    return this.#handle
  }

  async #call(fn) {
    try {
      return await fn()
    } catch (e) {
      throw fromGo(e)
    }
  }

  // #reach resolves with the state once the mirror reached version.
  #reach(version) {
    if (this.#version >= version && !this.#syncing) return Promise.resolve(this.#state)
    if (this.#closed) return Promise.reject(new ClosedError('rooms: the room closed'))
    return new Promise((resolve, reject) => this.#waiters.push({ version, resolve, reject }))
  }

  #settleWaiters() {
    this.#waiters = this.#waiters.filter(w => {
      if (w.version > this.#version) return true
      w.resolve(this.#state)
      return false
    })
  }

  #onEvent(type, json) {
    let e
    try {
      e = JSON.parse(json)
    } catch {
      return
    }
    if (this.#syncing) this.#held.push([type, e])
    else this.#handleEvent(type, e)
  }

  #handleEvent(type, e) {
    switch (type) {
      case 'state-update': return this.#stateUpdate(e)
      case 'peer-join':
      case 'peer-leave':
      case 'doorman-change': {
        this.#peers = deepFreeze(e.peers || [])
        this.#doorman = e.doorman || ''
        if (type === 'peer-leave') this.#media.unlink(e.peer)
        return this.#emit(type, type === 'doorman-change' ? this.#doorman : e.peer)
      }
      case 'peers': { // a refresh of the member list, not an app event
        this.#peers = deepFreeze(e.peers || [])
        this.#doorman = e.doorman || ''
        return
      }
      case 'raft': {
        this.#raft = Object.freeze(e)
        return this.#emit('raft', this.#raft)
      }
      case 'message': return this.#emit('message', e.data, e.peer)
      case 'error': return this.#emit('error', fromGo({ kind: e.kind, message: e.message }))
      case 'closed': {
        const err = e.message ? fromGo({ kind: e.kind, message: e.message }) : undefined
        this.#close(err)
        return this.#emit('closed', err)
      }
    }
  }

  #stateUpdate(e) {
    if (e.state !== undefined) { // a snapshot replaced the document
      if (e.version > this.#version) this.#adopt(e.state, e.version, { version: e.version, restored: true })
      return
    }
    if (e.version <= this.#version) return // already in the snapshot we started from
    if (e.version !== this.#version + 1) return this.#refetch()
    let next
    try {
      next = applyPatch(this.#state, e.patch)
    } catch {
      return this.#refetch() // cannot happen unless the mirror diverged; heal it
    }
    const change = { version: e.version, proposer: e.proposer, seq: e.seq, patch: e.patch || [] }
    if (e.action) change.action = e.action
    this.#adopt(next, e.version, deepFreeze(change), true)
  }

  #adopt(state, version, change, frozen = false) {
    this.#state = frozen ? state : deepFreeze(state)
    this.#version = version
    this.#emit('state-update', change, this.#state)
    this.#settleWaiters()
  }

  // #resync takes a snapshot as the mirror, then replays the events held
  // meanwhile that are newer than it.
  #resync(state, version) {
    if (version >= this.#version) {
      this.#state = deepFreeze(state)
      this.#version = version
    }
    const held = this.#held
    this.#held = []
    this.#syncing = false
    for (const [type, e] of held) this.#handleEvent(type, e)
    this.#settleWaiters()
  }

  #refetch() {
    this.#syncing = true
    this.#handle.snapshot().then(
      s => this.#resync(JSON.parse(s.state), s.version),
      () => this.#resync(this.#state, this.#version),
    )
  }

  #close(err) {
    if (this.#closed) return
    this.#closed = true
    liveRooms.delete(this)
    this.#media.close()
    const reason = err || new ClosedError('rooms: the room closed')
    for (const w of this.#waiters) w.reject(reason)
    this.#waiters = []
  }
}

let hooked = false

function openRooms(room) {
  liveRooms.add(room)
  if (hooked || typeof addEventListener !== 'function') return
  hooked = true
  // A closing page leaves its rooms, so a doorman hands over at once
  // instead of after the peer timeout.
  addEventListener('pagehide', () => {
    for (const r of liveRooms) r.leave().catch(() => {})
  })
  if (typeof document !== 'undefined') {
    document.addEventListener('visibilitychange', () => {
      if (document.visibilityState !== 'hidden') return
      for (const r of liveRooms) r[pageHidden]()
    })
  }
}
