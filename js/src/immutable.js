// Immutable JSON documents with structural sharing.
//
// The room state in JS is a frozen tree. Applying a JSON Patch copies only
// the objects and arrays on the paths it touches; every other part keeps
// its identity, so `prev.a === next.a` tells a renderer that nothing under
// `a` changed. diff() is the reverse: it turns (prev, next) into a patch and
// descends only where references differ, so a reducer that returns a
// structurally shared next state costs what it changed.

/** Freezes v and every not-yet-frozen object under it; returns v. */
export function deepFreeze(v) {
  if (v === null || typeof v !== 'object' || Object.isFrozen(v)) return v
  Object.freeze(v)
  for (const k of Object.keys(v)) deepFreeze(v[k])
  return v
}

/** Splits a JSON Pointer (RFC 6901) into unescaped tokens. */
export function parsePointer(p) {
  if (p === '') return []
  if (p[0] !== '/') throw new SyntaxError(`JSON Pointer ${JSON.stringify(p)} must start with "/"`)
  return p.slice(1).split('/').map(t => t.replace(/~1/g, '/').replace(/~0/g, '~'))
}

function escapeToken(t) {
  return String(t).replace(/~/g, '~0').replace(/\//g, '~1')
}

function isObject(v) {
  return v !== null && typeof v === 'object' && !Array.isArray(v)
}

function arrayIndex(arr, t, forAdd) {
  if (forAdd && t === '-') return arr.length
  if (!/^(0|[1-9][0-9]*)$/.test(t)) throw new RangeError(`bad array index ${JSON.stringify(t)}`)
  const i = Number(t)
  if (i > arr.length || (!forAdd && i === arr.length)) throw new RangeError(`array index ${i} out of range`)
  return i
}

function get(doc, tokens) {
  let v = doc
  for (const t of tokens) {
    if (Array.isArray(v)) v = v[arrayIndex(v, t, false)]
    else if (isObject(v) && Object.prototype.hasOwnProperty.call(v, t)) v = v[t]
    else throw new RangeError(`path /${tokens.map(escapeToken).join('/')} not found`)
  }
  return v
}

// edit returns a copy of doc where the container at tokens[0..n-1] is
// replaced by fn(container, lastToken); only the spine is copied.
function edit(doc, tokens, fn) {
  if (tokens.length === 0) return fn(undefined, undefined, true)
  const [head, ...rest] = tokens
  if (rest.length === 0) return Object.freeze(fn(doc, head, false))
  if (Array.isArray(doc)) {
    const i = arrayIndex(doc, head, false)
    const copy = doc.slice()
    copy[i] = edit(doc[i], rest, fn)
    return Object.freeze(copy)
  }
  if (isObject(doc) && Object.prototype.hasOwnProperty.call(doc, head)) {
    return Object.freeze({ ...doc, [head]: edit(doc[head], rest, fn) })
  }
  throw new RangeError(`path /${tokens.map(escapeToken).join('/')} not found`)
}

function add(doc, tokens, value) {
  return edit(doc, tokens, (c, t, root) => {
    if (root) return value
    if (Array.isArray(c)) {
      const copy = c.slice()
      copy.splice(arrayIndex(c, t, true), 0, value)
      return copy
    }
    if (isObject(c)) return { ...c, [t]: value }
    throw new RangeError('add: parent is not a container')
  })
}

function remove(doc, tokens) {
  return edit(doc, tokens, (c, t, root) => {
    if (root) throw new RangeError('remove: cannot remove the whole document')
    if (Array.isArray(c)) {
      const copy = c.slice()
      copy.splice(arrayIndex(c, t, false), 1)
      return copy
    }
    if (isObject(c) && Object.prototype.hasOwnProperty.call(c, t)) {
      const copy = { ...c }
      delete copy[t]
      return copy
    }
    throw new RangeError(`remove: ${t} not found`)
  })
}

function replace(doc, tokens, value) {
  get(doc, tokens) // must exist
  return edit(doc, tokens, (c, t, root) => {
    if (root) return value
    if (Array.isArray(c)) {
      const copy = c.slice()
      copy[arrayIndex(c, t, false)] = value
      return copy
    }
    return { ...c, [t]: value }
  })
}

/** Deep equality of two JSON values. */
export function equal(a, b) {
  if (a === b) return true
  if (Array.isArray(a)) {
    return Array.isArray(b) && a.length === b.length && a.every((v, i) => equal(v, b[i]))
  }
  if (isObject(a) && isObject(b)) {
    const ka = Object.keys(a)
    return ka.length === Object.keys(b).length &&
      ka.every(k => Object.prototype.hasOwnProperty.call(b, k) && equal(a[k], b[k]))
  }
  return false
}

/**
 * Applies a JSON Patch (RFC 6902) to a frozen document and returns the new
 * frozen document, sharing every untouched part. Throws on a patch that does
 * not apply (the document is left as it was: it is immutable).
 */
export function applyPatch(doc, patch) {
  for (const op of patch || []) {
    const path = parsePointer(op.path)
    switch (op.op) {
      case 'add': doc = add(doc, path, deepFreeze(op.value)); break
      case 'remove': doc = remove(doc, path); break
      case 'replace': doc = replace(doc, path, deepFreeze(op.value)); break
      case 'move': {
        const from = parsePointer(op.from)
        const v = get(doc, from)
        doc = add(remove(doc, from), path, v)
        break
      }
      case 'copy': doc = add(doc, path, get(doc, parsePointer(op.from))); break
      case 'test':
        if (!equal(get(doc, path), op.value)) throw new RangeError(`test failed at ${op.path}`)
        break
      default: throw new SyntaxError(`unknown op ${JSON.stringify(op.op)}`)
    }
  }
  return doc
}

/**
 * Returns a JSON Patch that turns prev into next. Parts that are the same
 * reference are skipped without being looked at.
 */
export function diff(prev, next, path = '', out = []) {
  if (prev === next) return out
  if (Array.isArray(prev) && Array.isArray(next)) {
    const common = Math.min(prev.length, next.length)
    for (let i = 0; i < common; i++) diff(prev[i], next[i], `${path}/${i}`, out)
    for (let i = prev.length - 1; i >= next.length; i--) out.push({ op: 'remove', path: `${path}/${i}` })
    for (let i = prev.length; i < next.length; i++) out.push({ op: 'add', path: `${path}/-`, value: json(next[i]) })
    return out
  }
  if (isObject(prev) && isObject(next)) {
    for (const k of Object.keys(prev)) {
      if (!Object.prototype.hasOwnProperty.call(next, k) || next[k] === undefined) {
        out.push({ op: 'remove', path: `${path}/${escapeToken(k)}` })
      }
    }
    for (const k of Object.keys(next)) {
      if (next[k] === undefined) continue
      const p = `${path}/${escapeToken(k)}`
      if (Object.prototype.hasOwnProperty.call(prev, k)) diff(prev[k], next[k], p, out)
      else out.push({ op: 'add', path: p, value: json(next[k]) })
    }
    return out
  }
  if (!equal(prev, next)) out.push({ op: 'replace', path, value: json(next) })
  return out
}

// json checks that v survives JSON (no undefined at the top, no functions,
// no NaN) so a reducer's mistake is reported where it happens.
function json(v) {
  if (v === undefined || typeof v === 'function' || typeof v === 'symbol' || typeof v === 'bigint') {
    throw new TypeError(`state values must be JSON, got ${typeof v}`)
  }
  if (typeof v === 'number' && !Number.isFinite(v)) throw new TypeError(`state numbers must be finite, got ${v}`)
  return v
}
