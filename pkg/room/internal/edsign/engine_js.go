//go:build js && wasm

package edsign

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"sync"
	"sync/atomic"
	"syscall/js"

	"github.com/rooms-dev/rooms/pkg/room/internal/webcrypto"
)

// Engine states: the self-test starts on first use, and until it has passed
// Go does the work.
const (
	engineUntested int32 = iota
	engineTesting
	engineUsable
	engineRefused
)

// engine is the page's WebCrypto Ed25519. Its calls block on promises, so
// they must not run on the JS event loop; the room signs and verifies on
// its own goroutines, never inside a JS callback.
type engine struct {
	state  atomic.Int32
	tested chan struct{} // closed when the self-test has decided
	subtle js.Value

	mu      sync.Mutex
	public  map[[32]byte]js.Value // imported verifying keys; undefined if the engine refused the key
	private map[[32]byte]js.Value // imported signing keys, by public key
}

var web = engine{tested: make(chan struct{})}

// Usable tells whether WebCrypto does this page's Ed25519 (diagnostics,
// tests). It starts the self-test if nothing did yet.
func Usable() bool { return web.ready() }

// WaitUsable runs the self-test now if it has not run, and reports its
// outcome (tests).
func WaitUsable() bool {
	web.ready()
	<-web.tested
	return web.state.Load() == engineUsable
}

// ready tells whether the engine passed its self-test, starting the test in
// the background on first call.
func (e *engine) ready() bool {
	switch e.state.Load() {
	case engineUsable:
		return true
	case engineUntested:
		if e.state.CompareAndSwap(engineUntested, engineTesting) {
			go e.selfTest()
		}
	}
	return false
}

func engineVerify(key ed25519.PublicKey, msg, sig []byte) bool {
	if !web.ready() {
		return false
	}
	ok, err := web.verify(key, msg, sig)
	return err == nil && ok
}

func engineSign(priv ed25519.PrivateKey, msg []byte) ([]byte, bool) {
	if !web.ready() || len(priv) != ed25519.PrivateKeySize {
		return nil, false
	}
	sig, err := web.sign(priv, msg)
	if err != nil {
		return nil, false
	}
	return sig, true
}

// selfTest decides, once, whether the page's engine agrees with Go on the
// vectors where engines may differ (see the package comment).
func (e *engine) selfTest() {
	if e.passes() {
		e.state.Store(engineUsable)
	} else {
		e.state.Store(engineRefused)
	}
	close(e.tested)
}

func (e *engine) passes() (ok bool) {
	defer func() {
		if recover() != nil { // a JS exception while probing: no engine
			ok = false
		}
	}()
	subtle, ok := webcrypto.Subtle()
	if !ok {
		return false
	}
	e.mu.Lock()
	e.subtle = subtle
	e.public = make(map[[32]byte]js.Value)
	e.private = make(map[[32]byte]js.Value)
	e.mu.Unlock()
	refuses := func(key, sig []byte) bool {
		good, err := e.verify(key, selfTestMessage, sig)
		return err == nil && !good
	}
	good, err := e.verify(selfTestKey, selfTestMessage, selfTestGood)
	if err != nil || !good || !refuses(selfTestKey, selfTestTorR) || !refuses(selfTestTorKey, selfTestTorKeySig) {
		return false
	}
	sig, err := e.sign(ed25519.NewKeyFromSeed(selfTestSeed), selfTestMessage)
	return err == nil && bytes.Equal(sig, selfTestGood)
}

// errKeyRefused: the engine would not import a key; Go checks its
// signatures.
var errKeyRefused = errors.New("edsign: WebCrypto refused the key")

func (e *engine) verify(key ed25519.PublicKey, msg, sig []byte) (bool, error) {
	k, err := e.publicKey(key)
	if err != nil {
		return false, err
	}
	v, err := webcrypto.Await(e.subtle.Call("verify", "Ed25519", k, webcrypto.Bytes(sig), webcrypto.Bytes(msg)))
	if err != nil {
		return false, err
	}
	return v.Truthy(), nil
}

func (e *engine) sign(priv ed25519.PrivateKey, msg []byte) ([]byte, error) {
	k, err := e.privateKey(priv)
	if err != nil {
		return nil, err
	}
	v, err := webcrypto.Await(e.subtle.Call("sign", "Ed25519", k, webcrypto.Bytes(msg)))
	if err != nil {
		return nil, err
	}
	sig := make([]byte, ed25519.SignatureSize)
	if n := js.CopyBytesToGo(sig, js.Global().Get("Uint8Array").New(v)); n != len(sig) {
		return nil, errors.New("edsign: WebCrypto made a signature of the wrong length")
	}
	return sig, nil
}

// publicKey imports key once. A key the engine refuses is remembered as
// refused.
func (e *engine) publicKey(key ed25519.PublicKey) (js.Value, error) {
	id := [32]byte(key)
	e.mu.Lock()
	k, seen := e.public[id]
	e.mu.Unlock()
	if !seen {
		k, _ = webcrypto.Await(e.subtle.Call("importKey", "raw", webcrypto.Bytes(key), "Ed25519", false, []any{"verify"}))
		e.mu.Lock()
		e.public[id] = k
		e.mu.Unlock()
	}
	if k.IsUndefined() {
		return js.Undefined(), errKeyRefused
	}
	return k, nil
}

// pkcs8Prefix is the DER of an Ed25519 PrivateKeyInfo (RFC 8410) up to its
// 32-byte seed.
var pkcs8Prefix = []byte{0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20}

func (e *engine) privateKey(priv ed25519.PrivateKey) (js.Value, error) {
	id := [32]byte(priv[32:])
	e.mu.Lock()
	k, seen := e.private[id]
	e.mu.Unlock()
	if seen {
		return k, nil
	}
	der := append(append([]byte{}, pkcs8Prefix...), priv.Seed()...)
	k, err := webcrypto.Await(e.subtle.Call("importKey", "pkcs8", webcrypto.Bytes(der), "Ed25519", false, []any{"sign"}))
	if err != nil {
		return js.Undefined(), err
	}
	e.mu.Lock()
	e.private[id] = k
	e.mu.Unlock()
	return k, nil
}
