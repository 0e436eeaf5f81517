// Loads rooms.wasm and starts the Go runtime, once per page: every Room of
// the page shares it.
import './wasm_exec.js' // defines globalThis.Go (the build inlines Go's own file)
import { RoomError } from './errors.js'

/* global __ROOMS_FORMAT__ */
// Where this script was loaded from: rooms.wasm sits next to it by default.
// A classic script knows its own element only while it first runs.
const scriptURL = __ROOMS_FORMAT__ === 'iife'
  ? (typeof document !== 'undefined' && document.currentScript && document.currentScript.src) || undefined
  : import.meta.url

const API_VERSION = 1
let started = null

/** The default URL of rooms.wasm: next to the script that defined Room. */
export function defaultWasmURL() {
  const base = scriptURL || (typeof location !== 'undefined' ? location.href : undefined)
  return new URL('rooms.wasm', base).href
}

/**
 * Resolves with the Go side's API object (globalThis.__rooms). The first
 * call decides the wasm URL; later calls share the same runtime.
 */
export function loadRuntime(wasmUrl) {
  if (!started) {
    started = start(wasmUrl || defaultWasmURL())
    started.catch(() => { started = null }) // a failed load may be retried
  }
  return started
}

async function start(url) {
  if (globalThis.__rooms) return check(globalThis.__rooms)
  const go = new globalThis.Go()
  const response = await fetch(url)
  if (!response.ok) throw new RoomError(`rooms: loading ${url}: HTTP ${response.status}`)
  let instance
  try {
    ({ instance } = await WebAssembly.instantiateStreaming(response.clone(), go.importObject))
  } catch (err) {
    // Servers that send rooms.wasm with the wrong Content-Type defeat
    // streaming compilation; compiling from the bytes still works.
    if (!(err instanceof TypeError)) throw err
    ({ instance } = await WebAssembly.instantiate(await response.arrayBuffer(), go.importObject))
  }
  // run() returns only when Go exits, which it never does unless it crashed.
  go.run(instance).then(() => { delete globalThis.__rooms })
  return check(globalThis.__rooms)
}

function check(api) {
  if (!api) throw new RoomError('rooms: rooms.wasm started but did not install its API')
  if (api.version !== API_VERSION) {
    throw new RoomError(`rooms: rooms.wasm speaks API version ${api.version}, this script ${API_VERSION}: serve matching files`)
  }
  return api
}
