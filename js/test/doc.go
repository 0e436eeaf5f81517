// Package e2e tests the browser library end to end: rooms.wasm and the JS
// shim (script tag, ES module, React hooks, TypeScript types) in real
// headless Chromium driven by playwright-core.
//
// The Go test builds a fresh dist (rooms.wasm + the esbuild output of
// js/build.mjs) into a temporary directory, serves it on 127.0.0.1 next to
// the test pages in js/test/pages and our signalling server (pkg/signal/
// server, under /signal/), and runs one node driver per scenario
// (js/test/e2e.mjs <scenario> <base URL>). The drivers assert; the Go test
// fails with their output.
//
// Needs node, the npm devDependencies of the repository root (npm ci) and
// Chromium at /usr/bin/chromium (or $CHROMIUM). Run it in a loopback-only
// network namespace, as make test does:
//
//	unshare -n sh -c 'ip link set lo up && exec go test -count=1 ./js/test/'
//
// BenchmarkWasmSize prints rooms.wasm's size raw, gzip -9 and brotli -q 11.
package e2e
