// Bundles the React demo (poll.jsx) into web/react/bundle.js with esbuild:
//   node web/react/build.mjs        (make demo runs it; so do the web tests)
// React and the hooks come from the npm build ('rooms/react' is js/dist's
// react.mjs; ROOMS_DIST picks another build directory). The core, 'rooms',
// is not bundled: the page imports it from /dist/index.mjs, as served by
// `rooms serve`, so rooms.wasm is found next to it and the page shares one
// copy of the library with the inspector. The shared demo modules stay
// separate files too.
import { build } from 'esbuild'
import { existsSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
const root = resolve(here, '../..')
const dist = resolve(process.env.ROOMS_DIST || join(root, 'js/dist'))
const reactHooks = join(dist, 'react.mjs')
if (!existsSync(reactHooks)) {
  console.error(`web/react/build.mjs: ${reactHooks} is missing: run make dist-dev first`)
  process.exit(1)
}

// Specifiers the page resolves at run time, by URL on the demo server.
const atRunTime = {
  rooms: '/dist/index.mjs',
  '../rooms-demo.js': '/rooms-demo.js',
  '../inspector.js': '/inspector.js',
}

const demoServerModules = {
  name: 'demo-server-modules',
  setup(b) {
    b.onResolve({ filter: /^rooms\/react$/ }, () => ({ path: reactHooks }))
    // react.mjs imports the core as ./index.mjs, next to itself.
    b.onResolve({ filter: /^\.\/index\.mjs$/ }, args => (args.importer === reactHooks ? { path: atRunTime.rooms, external: true } : undefined))
    b.onResolve({ filter: /^(rooms|\.\.\/rooms-demo\.js|\.\.\/inspector\.js)$/ }, args => ({ path: atRunTime[args.path], external: true }))
  },
}

await build({
  entryPoints: [join(here, 'poll.jsx')],
  outfile: join(here, 'bundle.js'),
  bundle: true,
  format: 'esm',
  target: 'es2022',
  jsx: 'automatic',
  minify: true,
  sourcemap: 'linked',
  legalComments: 'none',
  logLevel: 'warning',
  define: { 'process.env.NODE_ENV': '"production"' },
  // A build directory outside the repository (the tests') has no
  // node_modules above it: React comes from the repository's.
  nodePaths: [join(root, 'node_modules')],
  plugins: [demoServerModules],
})
