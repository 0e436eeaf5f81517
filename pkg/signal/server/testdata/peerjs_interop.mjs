// Drives two headless Chromium pages that use the real `peerjs` client
// against our Go signalling server: page "a" registers a chosen id, page
// "b" fetches a throwaway id from the server, opens a DataConnection to "a",
// and the two exchange a message each way.
//
// Usage: node peerjs_interop.mjs <base-url> <signal-path> [<signal-url-for-b>]
// Pages load from <base-url>; page "a" signals through <base-url> and page
// "b" through the third argument if given (another server instance).
// Prints one JSON line {"ok":true,...} and exits 0 on success.
import { chromium } from 'playwright-core';

const [base, path, bBase] = process.argv.slice(2);
const peerOpts = (u) => {
  const url = new URL(u);
  return {
    host: url.hostname, port: Number(url.port), path, key: 'peerjs', secure: false,
    config: { iceServers: [] }, debug: 1,
  };
};
const opts = peerOpts(base);
const bOpts = peerOpts(bBase || base);

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--allow-loopback-in-peer-connection', '--use-fake-ui-for-media-stream'],
});
const fail = async (msg) => {
  console.log(JSON.stringify({ ok: false, error: String(msg) }));
  await browser.close();
  process.exit(1);
};
const timer = setTimeout(() => fail('timed out after 40 s'), 40000);

try {
  const ctx = await browser.newContext();
  const [a, b] = [await ctx.newPage(), await ctx.newPage()];
  for (const [name, p] of [['a', a], ['b', b]]) {
    p.on('console', (m) => process.stderr.write(`[${name}] ${m.text()}\n`));
    p.on('pageerror', (e) => process.stderr.write(`[${name}] pageerror ${e}\n`));
    await p.goto(base + '/page.html');
  }
  // a: fixed id, answers "world" to "hello".
  const aReady = a.evaluate((opts) => new Promise((resolve, reject) => {
    const peer = new Peer('interop-a', opts);
    peer.on('error', (e) => reject(new Error('a: ' + e.type + ' ' + e.message)));
    peer.on('open', (id) => resolve(id));
    peer.on('connection', (conn) => {
      conn.on('data', (d) => {
        window.received = d;
        conn.send('world from ' + peer.id);
      });
    });
  }), opts);
  const aID = await aReady;
  // b: server-issued id, connects to a.
  const result = await b.evaluate(({ opts, target }) => new Promise((resolve, reject) => {
    const peer = new Peer(opts);
    peer.on('error', (e) => reject(new Error('b: ' + e.type + ' ' + e.message)));
    peer.on('open', (id) => {
      const conn = peer.connect(target, { reliable: true });
      conn.on('open', () => conn.send('hello from ' + id));
      conn.on('data', (d) => resolve({ bID: id, reply: d }));
      conn.on('error', (e) => reject(new Error('b conn: ' + e)));
    });
  }), { opts: bOpts, target: aID });
  const received = await a.evaluate(() => window.received);
  clearTimeout(timer);
  console.log(JSON.stringify({ ok: true, aID, bID: result.bID, reply: result.reply, received }));
  await browser.close();
} catch (e) {
  clearTimeout(timer);
  await fail(e && e.stack || e);
}
