// Browser scenarios for the demos in web/, one per run:
//   node web/test/demo.mjs <scenario> <base URL> <screenshot dir>
// The base URL is a `rooms serve` of web/ with a built dist. Each scenario
// drives real pages in separate browser contexts (like separate people),
// asserts what they show, and saves screenshots. Exit status 0 means the
// assertions held. Run by web/test/demo_test.go.
import assert from 'node:assert/strict'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { chromium } from 'playwright-core'

const [scenario, base, shots] = process.argv.slice(2)
const roomId = `t${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`
const WAIT = { timeout: 25000 }
mkdirSync(shots, { recursive: true })

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--allow-loopback-in-peer-connection', '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream'],
})

let opened = 0
// open loads path in a browser context of its own.
async function open(path) {
  const n = opened++
  const context = await browser.newContext({ viewport: { width: 1100, height: 760 } })
  const page = await context.newPage()
  page.on('pageerror', err => console.log(`[page ${n}] uncaught: ${err.message}`))
  page.on('console', msg => { if (msg.type() === 'error') console.log(`[page ${n}] ${msg.text()}`) })
  await page.goto(`${base}${path}`)
  return page
}

const shot = (page, name) => page.screenshot({ path: join(shots, `${name}.png`), fullPage: true })
const texts = (page, sel) => page.locator(sel).allTextContents()

// checkInspector: the inspector's mesh picture shows n members, exactly one
// of them the doorman and one this page, a link from this page to each of the
// others with a measured round-trip time, the raft term and commit index,
// and a log of events.
async function checkInspector(page, n) {
  const mesh = page.locator('[data-testid=inspector-mesh]')
  await mesh.locator('[data-node]').nth(n - 1).waitFor(WAIT)
  assert.equal(await mesh.locator('[data-node]').count(), n)
  assert.equal(await mesh.locator('[data-node][data-doorman]').count(), 1, 'one doorman marked')
  assert.equal(await mesh.locator('[data-node][data-self]').count(), 1, 'self marked')
  const doorman = await page.evaluate(() => window.demo.room.doorman)
  assert.equal(await mesh.locator('[data-doorman]').getAttribute('data-node'), doorman)
  // Learners become voters soon after joining: wait for the picture to agree.
  await page.waitForFunction(() => {
    const want = window.demo.room.peers.map(p => `${p.id} ${p.voter ? 'voter' : 'learner'}`).sort().join()
    const shown = [...document.querySelectorAll('[data-testid=inspector-mesh] [data-node]')].map(n => `${n.dataset.node} ${n.dataset.role}`).sort().join()
    return want === shown
  }, null, WAIT)
  // RTTs come from the keepalives, a little after the links open.
  await page.waitForFunction(n => {
    const links = [...document.querySelectorAll('[data-testid=inspector-mesh] [data-link]')]
    return links.length === n - 1 && links.every(l => Number(l.dataset.rtt) > 0 && / ms$/.test(l.textContent))
  }, n, WAIT)
  assert.equal(await page.locator('[data-testid=inspector-legend]').isVisible(), true)
  assert.match(await page.locator('[data-testid=inspector-log]').textContent(), /ready: version/)
  // The raft line shows the room's current term and commit index.
  await page.waitForFunction(() => {
    const r = window.demo.room.raft
    const term = document.querySelector('[data-testid=raft-term]')
    const commit = document.querySelector('[data-testid=raft-commit]')
    return r.term > 0 && r.commit > 0 && term && commit && term.textContent === String(r.term) && commit.textContent === String(r.commit)
  }, null, WAIT)
}

const scenarios = {
  async landing() {
    const page = await open('/')
    const id = await page.locator('#room-id').textContent()
    assert.match(id, /^[a-z0-9]{8}$/)
    assert.deepEqual(await page.locator('#demos a').evaluateAll(as => as.map(a => a.dataset.demo)),
      ['chat/', 'tictactoe/', 'whiteboard/', 'video/', 'react/'])
    for (const a of await page.locator('#demos a').all()) assert.match(await a.getAttribute('href'), new RegExp(`\\?room=${id}$`))
    assert.equal(await page.locator('a[data-demo="chat/"]').getAttribute('href'), `chat/?room=${id}`)
    assert.equal(await page.locator('#share').textContent(), `${base}/chat/?room=${id}`)
    await page.locator('#new-room').click()
    assert.notEqual(await page.locator('#room-id').textContent(), id, 'New room makes a new id')
    await shot(page, 'landing')
  },

  async chat() {
    const enter = async (page, name) => {
      await page.locator('#name').fill(name)
      await page.locator('#join').click()
      await page.locator('#chat').waitFor({ state: 'visible', ...WAIT })
    }
    const [alice, bob] = await Promise.all([open(`/chat/?room=${roomId}`), open(`/chat/?room=${roomId}`)])
    await enter(alice, 'Alice') // first visitor: join finds nobody, so she creates the room
    await enter(bob, 'Bob')
    for (const p of [alice, bob]) {
      await p.locator('#people li').nth(1).waitFor(WAIT)
      await p.waitForFunction(() => [...document.querySelectorAll('#people li')].map(li => li.textContent).join() .match(/Alice.*Bob|Bob.*Alice/), null, WAIT)
    }

    // Typing goes as an ephemeral message: Alice sees it, the state does not change.
    const version = await alice.evaluate(() => window.demo.room.version)
    await bob.locator('#text').pressSequentially('hel')
    await alice.locator('#typing', { hasText: 'Bob is typing' }).waitFor(WAIT)
    await bob.locator('#text').fill('hello from Bob')
    await bob.locator('#send').click()
    await alice.locator('#messages li', { hasText: 'hello from Bob' }).waitFor(WAIT)
    assert.equal(await alice.evaluate(() => window.demo.room.version), version + 1, 'typing must not touch the state; the message is one change')
    await alice.locator('#typing', { hasText: /^$/ }).waitFor(WAIT)

    await alice.locator('#text').fill('hi Bob, Alice here')
    await alice.locator('#send-form button').click()
    for (const p of [alice, bob]) await p.locator('#messages li').nth(1).waitFor(WAIT)
    const want = ['Bobhello from Bob', 'Alicehi Bob, Alice here']
    for (const p of [alice, bob]) {
      const got = (await texts(p, '#messages li')).map(t => t.replace(/\d{1,2}:\d\d:\d\d.*$/, ''))
      assert.deepEqual(got, want)
    }
    for (const p of [alice, bob]) await checkInspector(p, 2)
    await shot(alice, 'chat-alice')
    await shot(bob, 'chat-bob')

    // Bob leaves: Alice's presence list shrinks.
    await bob.evaluate(() => window.demo.room.leave())
    await alice.waitForFunction(() => document.querySelectorAll('#people li').length === 1, null, WAIT)
  },

  async tictactoe() {
    const url = name => `/tictactoe/?room=${roomId}&name=${name}`
    const x = await open(url('xena'))
    await x.locator('#seats', { hasText: 'you play X' }).waitFor(WAIT)
    const o = await open(url('oscar'))
    await o.locator('#seats', { hasText: 'you play O' }).waitFor(WAIT)
    const cell = (p, i) => p.locator(`#board button[data-cell="${i}"]`)

    // O moves first: the room refuses it, X's turn.
    await cell(o, 4).click()
    await o.locator('#status', { hasText: "refused by the room (ConflictError): it is X's turn" }).waitFor(WAIT)
    await cell(x, 0).click()
    await x.locator('#status', { hasText: 'You played X in cell 1' }).waitFor(WAIT)
    await o.locator('#turn', { hasText: 'O to play — your turn' }).waitFor(WAIT)
    // X again, out of turn; then O into X's cell.
    await cell(x, 1).click()
    await x.locator('#status', { hasText: "it is O's turn" }).waitFor(WAIT)
    await cell(o, 0).click()
    await o.locator('#status', { hasText: 'that cell is taken' }).waitFor(WAIT)
    await cell(o, 4).click()
    await o.locator('#status', { hasText: 'You played O in cell 5' }).waitFor(WAIT)
    await x.locator('#turn', { hasText: 'X to play — your turn' }).waitFor(WAIT)

    // A spectator comes late and sees the same board.
    const s = await open(url('sam'))
    await s.locator('#status', { hasText: 'you are watching' }).waitFor(WAIT)
    const want = ['X', '', '', '', 'O', '', '', '', '']
    for (const p of [x, o, s]) assert.deepEqual(await texts(p, '#board button'), want)
    const versions = await Promise.all([x, o, s].map(p => p.evaluate(() => window.demo.room.version)))
    // Two seats and two moves: the three refused moves left no trace.
    assert.deepEqual(versions, [4, 4, 4])
    await cell(s, 8).click()
    await s.locator('#status', { hasText: 'only X and O can move' }).waitFor(WAIT)
    for (const p of [x, o, s]) await checkInspector(p, 3)
    await shot(x, 'tictactoe-x')
    await shot(o, 'tictactoe-o')
    await shot(s, 'tictactoe-spectator')
  },

  async whiteboard() {
    const url = name => `/whiteboard/?room=${roomId}&name=${name}`
    const a = await open(url('ada'))
    await a.locator('#status', { hasText: 'draw on the board' }).waitFor(WAIT)
    const b = await open(url('bea'))
    await b.locator('#status', { hasText: 'draw on the board' }).waitFor(WAIT)
    await a.locator('[data-testid=inspector-mesh] [data-node]').nth(1).waitFor(WAIT)

    // Ada draws a zigzag with the mouse; her cursor shows on Bea's page
    // while she draws, and the stroke lands in both states.
    const box = await a.locator('#canvas').boundingBox()
    const at = (fx, fy) => [box.x + fx * box.width, box.y + fy * box.height]
    await a.mouse.move(...at(0.1, 0.5))
    await a.mouse.down()
    for (let i = 1; i <= 12; i++) await a.mouse.move(...at(0.1 + i * 0.06, i % 2 ? 0.3 : 0.7), { steps: 3 })
    await b.locator('.cursor', { hasText: 'ada' }).waitFor(WAIT)
    await a.mouse.up()
    for (const p of [a, b]) await p.locator('#count', { hasText: /^1 stroke$/ }).waitFor(WAIT)
    const [sa, sb] = await Promise.all([a, b].map(p => p.evaluate(() => JSON.stringify(window.demo.room.state))))
    assert.equal(sa, sb, 'both pages hold the same strokes')
    const stroke = JSON.parse(sa).strokes[0]
    assert.ok(stroke.points.length > 10, `stroke has ${stroke.points.length} points`)
    assert.match(stroke.by, /^ada-/)
    // The stroke is drawn on Bea's canvas: some pixel is not blank.
    const inked = await b.evaluate(() => {
      const d = document.querySelector('#canvas').getContext('2d').getImageData(0, 0, 800, 500).data
      for (let i = 3; i < d.length; i += 4) if (d[i] !== 0) return true
      return false
    })
    assert.ok(inked, "Bea's canvas shows the stroke")
    for (const p of [a, b]) await checkInspector(p, 2)
    await shot(b, 'whiteboard-bea')

    // The inspector folds down to its title, giving the board the room.
    const aside = b.locator('aside.inspector')
    const wide = (await aside.boundingBox()).width
    await aside.locator('summary').click()
    await b.locator('[data-testid=inspector-mesh]').waitFor({ state: 'hidden', ...WAIT })
    assert.ok((await aside.boundingBox()).width < wide * 0.7, 'a folded inspector is narrower')
    await aside.locator('summary').click()
    await b.locator('[data-testid=inspector-mesh]').waitFor({ state: 'visible', ...WAIT })
  },

  async video() {
    const url = name => `/video/?room=${roomId}&name=${name}`
    const ana = await open(url('ana'))
    await ana.locator('#status', { hasText: 'You are in the room as ana' }).waitFor(WAIT)
    const ben = await open(url('ben'))
    await ben.locator('#status', { hasText: 'You are in the room as ben' }).waitFor(WAIT)
    const [anaId, benId] = await Promise.all([ana, ben].map(p => p.evaluate(() => window.demo.room.self)))

    // Each sees two tiles: its own, muted, and the other's, playing video.
    for (const [page, self, other] of [[ana, anaId, benId], [ben, benId, anaId]]) {
      await page.waitForFunction(other => {
        const v = document.querySelector(`.tile[data-peer="${other}"] video`)
        return v && v.videoWidth > 0 && v.currentTime > 0 && !v.paused
      }, other, WAIT)
      assert.equal(await page.locator('.tile').count(), 2)
      assert.equal(await page.locator(`.tile.self[data-peer="${self}"] video`).evaluate(v => v.muted), true, 'own tile is muted')
      assert.equal(await page.locator(`.tile[data-peer="${other}"] video`).evaluate(v => v.srcObject.getVideoTracks().length), 1)
    }
    assert.match(await ben.locator(`.tile[data-peer="${anaId}"] .who`).textContent(), /^ana$/)

    // Ana mutes her microphone and turns her camera off: her tracks are
    // disabled, and Ben's page shows both from the shared state.
    await ana.locator('#mic').click()
    await ana.locator('#cam').click()
    await ana.locator('#cam[aria-pressed=true]').waitFor(WAIT)
    await ana.locator('.tile.self[data-mic=false][data-cam=false]').waitFor(WAIT)
    assert.deepEqual(await ana.evaluate(() => window.demo.local.getTracks().map(t => `${t.kind} ${t.enabled}`).sort()), ['audio false', 'video false'])
    assert.deepEqual(await ana.evaluate(() => window.demo.room.state.people[window.demo.room.self]), { name: 'ana', mic: false, cam: false })
    await ben.locator(`.tile[data-peer="${anaId}"][data-mic=false][data-cam=false]`).waitFor(WAIT)
    assert.equal(await ben.locator(`.tile[data-peer="${anaId}"] .badge.mic`).isVisible(), true)
    await ana.locator('#cam').click()
    await ben.locator(`.tile[data-peer="${anaId}"][data-cam=true]`).waitFor(WAIT)

    for (const p of [ana, ben]) await checkInspector(p, 2)
    await shot(ana, 'video-ana')
    await shot(ben, 'video-ben')

    // Ben leaves: his tile goes from Ana's page.
    await ben.locator('#leave').click()
    await ana.locator(`.tile[data-peer="${benId}"]`).waitFor({ state: 'detached', ...WAIT })
    assert.equal(await ana.locator('.tile').count(), 1)
  },

  async react() {
    const url = name => `/react/?room=${roomId}&name=${name}`
    const pia = await open(url('pia'))
    await pia.locator('#status', { hasText: 'You are in the room' }).waitFor(WAIT)
    const quinn = await open(url('quinn'))
    await quinn.locator('#status', { hasText: 'You are in the room' }).waitFor(WAIT)
    for (const p of [pia, quinn]) {
      assert.equal(await p.locator('#question').textContent(), 'What shall we have for lunch?')
      assert.deepEqual(await p.locator('#options li').evaluateAll(li => li.map(l => l.dataset.option)), ['Pizza', 'Noodles'])
    }
    const option = (p, text) => p.locator(`#options li[data-option="${text}"]`)
    const renders = p => p.locator('#options').getAttribute('data-renders').then(Number)

    // Quinn adds an option: Pia's list re-renders with it.
    const before = await renders(pia)
    await quinn.locator('#option').fill('Tacos')
    await quinn.locator('#add').click()
    await option(pia, 'Tacos').waitFor(WAIT)
    assert.ok(await renders(pia) > before, "Pia's list re-rendered for Quinn's change")

    // Each votes; both pages show the same counts and voters.
    await option(pia, 'Tacos').locator('button').click()
    await option(quinn, 'Tacos').and(quinn.locator('[data-votes="1"]')).waitFor(WAIT)
    await option(quinn, 'Pizza').locator('button').click()
    for (const p of [pia, quinn]) {
      await option(p, 'Pizza').and(p.locator('[data-votes="1"]')).waitFor(WAIT)
      assert.deepEqual(await p.locator('#options li').evaluateAll(li => li.map(l => `${l.dataset.option} ${l.dataset.votes}`)), ['Pizza 1', 'Noodles 0', 'Tacos 1'])
      await p.locator('#voters li').nth(1).waitFor(WAIT)
      assert.deepEqual((await texts(p, '#voters li')).sort(), ['pia: Tacos', 'quinn: Pizza'])
    }
    // Quinn changes his mind: his vote is replaced, not added.
    await option(quinn, 'Tacos').locator('button').click()
    await option(pia, 'Tacos').and(pia.locator('[data-votes="2"]')).waitFor(WAIT)
    assert.equal(await option(pia, 'Pizza').getAttribute('data-votes'), '0')
    const [sp, sq] = await Promise.all([pia, quinn].map(p => p.evaluate(() => JSON.stringify(window.demo.room.state))))
    assert.equal(sp, sq, 'both pages hold the same state')

    for (const p of [pia, quinn]) await checkInspector(p, 2)
    await shot(pia, 'react-pia')
    await shot(quinn, 'react-quinn')
  },
}

try {
  if (!scenarios[scenario]) throw new Error(`unknown scenario ${scenario}`)
  await scenarios[scenario]()
} finally {
  await browser.close()
}
