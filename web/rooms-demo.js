// Helpers shared by the demo pages: where the signalling server is, which
// room the URL names, and "join the room, or create it if nobody is there".
// Pages load the script-tag build (/dist/rooms.js) first, so window.Rooms is
// defined before these modules run; enterRoom takes another Room class (the
// ES module build's) for pages bundled with esbuild.

// signalOptions points the library at the signalling server that
// `rooms serve` mounts at /signal on the page's own origin.
export function signalOptions() {
  return {
    host: location.hostname,
    port: Number(location.port) || (location.protocol === 'https:' ? 443 : 80),
    path: '/signal',
    secure: location.protocol === 'https:',
  }
}

// randomId returns n random lowercase letters and digits.
export function randomId(n = 8) {
  const abc = 'abcdefghijkmnpqrstuvwxyz23456789'
  const bytes = crypto.getRandomValues(new Uint8Array(n))
  return Array.from(bytes, b => abc[b % abc.length]).join('')
}

// roomFromURL returns the ?room= of the page, making one up (and putting it
// in the address bar, so the address is the link to share) when missing.
export function roomFromURL() {
  const url = new URL(location.href)
  let id = url.searchParams.get('room')
  if (!id) {
    id = randomId()
    url.searchParams.set('room', id)
    history.replaceState(null, '', url)
  }
  return id
}

// participantId makes a unique member id from a display name: two people
// may both call themselves "sam".
export function participantId(name) {
  const slug = name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 24) || 'guest'
  return `${slug}-${randomId(4)}`
}

// enterRoom joins roomId, or creates it with initialState when nobody
// answers; when two first visitors race to create, the loser joins.
// setup(room) runs on each attempt's room before it is ready, so no event
// is missed. Resolves with the ready room.
export async function enterRoom(self, roomId, initialState, setup = () => {}, extra = {}, Room = window.Rooms.Room) {
  const options = { ...signalOptions(), ...extra }
  let lastErr
  for (let attempt = 0; attempt < 4; attempt++) {
    const joined = Room.join(self, roomId, options)
    setup(joined, 'join')
    try {
      return await joined.ready
    } catch (err) {
      if (err.name !== 'RoomNotFoundError') throw err
      lastErr = err
    }
    const created = Room.create(self, roomId, initialState, options)
    setup(created, 'create')
    try {
      return await created.ready
    } catch (err) {
      if (err.name !== 'RoomExistsError') throw err
      lastErr = err
    }
  }
  throw lastErr
}

// el is a tiny DOM builder: el('li', {class: 'x'}, 'text', child).
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag)
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') node.className = v
    else if (k.startsWith('on')) node.addEventListener(k.slice(2), v)
    else node.setAttribute(k, v)
  }
  for (const c of children) if (c !== null && c !== undefined) node.append(c)
  return node
}

// setStatus shows a one-line status; kind is '', 'ok' or 'bad'.
export function setStatus(node, text, kind = '') {
  node.textContent = text
  node.className = `status ${kind}`.trim()
}
