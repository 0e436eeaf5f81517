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
  args: ['--allow-loopback-in-peer-connection', '--use-fake-ui-for-media-stream'],
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

// checkInspector: the inspector lists n members, exactly one of them the
// doorman, and has logged events.
async function checkInspector(page, n) {
  await page.locator('.inspector tbody tr').nth(n - 1).waitFor(WAIT)
  assert.equal(await page.locator('.inspector tbody tr').count(), n)
  assert.equal(await page.locator('.inspector .tag.doorman').count(), 1, 'one doorman marked')
  assert.equal(await page.locator('.inspector .tag.self').count(), 1, 'self marked')
  assert.match(await page.locator('[data-testid=inspector-log]').textContent(), /ready: version/)
}

const scenarios = {
  async landing() {
    const page = await open('/')
    const id = await page.locator('#room-id').textContent()
    assert.match(id, /^[a-z0-9]{8}$/)
    assert.equal(await page.locator('#demos a').count(), 3)
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
    await a.locator('.inspector tbody tr').nth(1).waitFor(WAIT)

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
  },
}

try {
  if (!scenarios[scenario]) throw new Error(`unknown scenario ${scenario}`)
  await scenarios[scenario]()
} finally {
  await browser.close()
}
