// Checks the Room options and encodes them for rooms.wasm.

/** The free public PeerJS server, the default first-contact relay. */
export const PUBLIC_SIGNAL = Object.freeze({ host: '0.peerjs.com', port: 443, path: '/', secure: true, key: 'peerjs' })

const KNOWN = new Set([
  'host', 'port', 'path', 'key', 'secure', 'appId', 'iceServers', 'maxVoters', 'maxMembers',
  'joinTimeout', 'updateTimeout', 'peerTimeout', 'wasmUrl', 'admit', 'metadata', 'debug', 'password', 'identity',
])

function fail(msg) {
  throw new TypeError(`rooms: options: ${msg}`)
}

function positive(o, name) {
  if (o[name] === undefined) return undefined
  if (typeof o[name] !== 'number' || !(o[name] > 0)) fail(`${name} must be a positive number`)
  return o[name]
}

function signalURL(o) {
  if (o.host === undefined) {
    const p = PUBLIC_SIGNAL
    return `https://${p.host}:${p.port}${p.path}`
  }
  if (typeof o.host !== 'string' || o.host === '') fail('host must be a non-empty string')
  const pageSecure = typeof location !== 'undefined' && location.protocol === 'https:'
  const secure = o.secure === undefined ? pageSecure : !!o.secure
  const port = o.port === undefined ? (secure ? 443 : 80) : o.port
  if (!Number.isInteger(port) || port <= 0 || port > 65535) fail('port must be an integer 1-65535')
  let path = o.path === undefined ? '/' : o.path
  if (typeof path !== 'string') fail('path must be a string')
  if (!path.startsWith('/')) path = '/' + path
  if (!path.endsWith('/')) path += '/'
  const host = o.host.includes(':') && !o.host.startsWith('[') ? `[${o.host}]` : o.host
  return `${secure ? 'https' : 'http'}://${host}:${port}${path}`
}

function iceServers(list) {
  if (list === undefined) return undefined
  if (!Array.isArray(list)) fail('iceServers must be an array')
  return list.map((s, i) => {
    const urls = typeof s?.urls === 'string' ? [s.urls] : s?.urls
    if (!Array.isArray(urls) || !urls.every(u => typeof u === 'string')) fail(`iceServers[${i}].urls must be a string or strings`)
    return { urls, username: s.username || '', credential: s.credential || '' }
  })
}

/**
 * Validates options and returns { json, wasmUrl, admit } where json is
 * what rooms.wasm reads.
 */
export function encodeOptions(options) {
  if (options === undefined || options === null) options = {}
  if (typeof options !== 'object') fail('must be an object')
  for (const k of Object.keys(options)) if (!KNOWN.has(k)) fail(`unknown option ${JSON.stringify(k)}`)
  if (options.admit !== undefined && typeof options.admit !== 'function') fail('admit must be a function')
  if (options.password !== undefined && typeof options.password !== 'string') fail('password must be a string')
  if (options.identity !== undefined && !(options.identity instanceof Uint8Array && options.identity.length === 32)) {
    fail('identity must be a Uint8Array of 32 bytes (an Ed25519 seed)')
  }
  if (options.wasmUrl !== undefined && typeof options.wasmUrl !== 'string' && !(options.wasmUrl instanceof URL)) {
    fail('wasmUrl must be a string or URL')
  }
  for (const k of ['key', 'appId']) {
    if (options[k] !== undefined && (typeof options[k] !== 'string' || options[k] === '')) fail(`${k} must be a non-empty string`)
  }
  const go = {
    signalURL: signalURL(options),
    key: options.key ?? (options.host === undefined ? PUBLIC_SIGNAL.key : 'peerjs'),
    appId: options.appId,
    password: options.password,
    identity: options.identity && btoa(String.fromCharCode(...options.identity)),
    iceServers: iceServers(options.iceServers),
    maxVoters: positive(options, 'maxVoters'),
    maxMembers: positive(options, 'maxMembers'),
    joinTimeout: positive(options, 'joinTimeout'),
    updateTimeout: positive(options, 'updateTimeout'),
    peerTimeout: positive(options, 'peerTimeout'),
    metadata: options.metadata,
    debug: !!options.debug,
  }
  return { json: JSON.stringify(go), wasmUrl: options.wasmUrl && String(options.wasmUrl), admit: options.admit }
}
