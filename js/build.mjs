// Builds the JS side of js/dist from js/src with esbuild:
//   rooms.js    script-tag build (IIFE) that defines window.Rooms
//   index.mjs   ES module: import { Room } from 'rooms'
//   react.mjs   ES module: import { useRoom, useRoomState } from 'rooms/react'
//   wasm_exec.js, index.d.ts, react.d.ts
// Go's wasm_exec.js (from the Go that builds rooms.wasm; GO selects it) is
// inlined into rooms.js and index.mjs so the two always match.
// rooms.wasm itself and its compressed copies are built by mk/dist.mk.
import { build } from 'esbuild'
import { execFileSync } from 'node:child_process'
import { copyFileSync, mkdirSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
// ROOMS_DIST lets tests build into a directory of their own.
const dist = process.env.ROOMS_DIST || join(here, 'dist')
const goroot = execFileSync(process.env.GO || 'go', ['env', 'GOROOT'], { encoding: 'utf8' }).trim()
const wasmExec = join(goroot, 'lib', 'wasm', 'wasm_exec.js')

// goRuntime resolves the shim's './wasm_exec.js' to Go's own file.
const goRuntime = {
  name: 'go-wasm-exec',
  setup(b) {
    b.onResolve({ filter: /\/wasm_exec\.js$/ }, () => ({ path: wasmExec }))
  },
}

// roomsCore makes react.mjs import the core from ./index.mjs instead of
// bundling a second copy (one Go runtime and one Room class per page).
const roomsCore = {
  name: 'rooms-core',
  setup(b) {
    b.onResolve({ filter: /^rooms$/ }, () => ({ path: './index.mjs', external: true }))
  },
}

const common = { bundle: true, target: 'es2022', legalComments: 'none', logLevel: 'warning' }
mkdirSync(dist, { recursive: true })
await Promise.all([
  build({
    ...common, entryPoints: [join(here, 'src/script.js')], outfile: join(dist, 'rooms.js'),
    format: 'iife', minify: true, define: { __ROOMS_FORMAT__: '"iife"', 'import.meta.url': 'undefined' }, plugins: [goRuntime],
  }),
  build({
    ...common, entryPoints: [join(here, 'src/index.js')], outfile: join(dist, 'index.mjs'),
    format: 'esm', define: { __ROOMS_FORMAT__: '"esm"' }, plugins: [goRuntime],
  }),
  build({
    ...common, entryPoints: [join(here, 'src/react.js')], outfile: join(dist, 'react.mjs'),
    format: 'esm', external: ['react'], plugins: [roomsCore],
  }),
])
copyFileSync(wasmExec, join(dist, 'wasm_exec.js'))
for (const f of ['index.d.ts', 'react.d.ts']) copyFileSync(join(here, f), join(dist, f))
