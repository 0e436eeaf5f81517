// Package demotest runs the demos in web/ in headless Chromium, end to end,
// against a real `rooms serve` (the signalling server built in).
//
// TestMain builds what the demos need from the current sources into a
// temporary directory — rooms.wasm and the JS library (as make dist-dev
// does) and the rooms command — and the React demo's bundle into
// web/react/bundle.js (as make demo does), then starts `rooms serve --addr
// 127.0.0.1:0 --dir web --dist <tmp>`. Each test runs one scenario of
// web/test/demo.mjs (node + playwright-core, /usr/bin/chromium or
// $CHROMIUM): pages in separate browser contexts play the parts of separate
// people, and the driver asserts what each page shows. Screenshots go to
// test-artifacts/demo/ at the repository root (gitignored) for a person to
// look at.
//
// Needs node, chromium and the npm devDependencies (npm ci); a missing one
// fails the tests with a message saying what to install. WebRTC stays on
// loopback: Chromium runs with --allow-loopback-in-peer-connection, and
// with --use-fake-ui-for-media-stream --use-fake-device-for-media-stream
// the video demo gets a synthetic camera and microphone without a prompt;
// make test runs the suite in a loopback-only network namespace.
package demotest
