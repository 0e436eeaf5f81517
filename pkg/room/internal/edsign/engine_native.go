//go:build !(js && wasm)

package edsign

import "crypto/ed25519"

// Natively Go's Ed25519 is fast: no engine.

func engineVerify(ed25519.PublicKey, []byte, []byte) bool { return false }

func engineSign(ed25519.PrivateKey, []byte) ([]byte, bool) { return nil, false }

// Usable tells whether an engine other than Go does Ed25519: never natively.
func Usable() bool { return false }

// WaitUsable is Usable once the engine's self-test has run.
func WaitUsable() bool { return false }
