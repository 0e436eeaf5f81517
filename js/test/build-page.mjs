// Bundles the React test page (pages/react-page.jsx) against a built dist:
//   node js/test/build-page.mjs <dist dir>  →  <dist>/test/react-page.js
import { build } from 'esbuild'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
const dist = resolve(process.argv[2] || join(here, '..', 'dist'))

// The page imports the package by name, as an app would; resolve the names
// to the dist under test.
const distPackage = {
  name: 'rooms-dist',
  setup(b) {
    b.onResolve({ filter: /^rooms(\/react)?$/ }, args => ({
      path: join(dist, args.path === 'rooms' ? 'index.mjs' : 'react.mjs'),
    }))
  },
}

await build({
  entryPoints: [join(here, 'pages', 'react-page.jsx')],
  outfile: join(dist, 'test', 'react-page.js'),
  bundle: true, format: 'esm', jsx: 'automatic', target: 'es2022', logLevel: 'warning',
  define: { 'process.env.NODE_ENV': '"production"' },
  // The dist may live outside the repository (tests build it in a temp dir).
  nodePaths: [join(here, '..', '..', 'node_modules')],
  plugins: [distPackage],
})
