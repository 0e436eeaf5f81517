//go:build js && wasm

package room

import (
	"crypto/pbkdf2"
	"crypto/sha256"
	"errors"
	"fmt"
	"syscall/js"

	"github.com/rooms-dev/rooms/pkg/room/internal/webcrypto"
)

// pbkdf2SHA256 derives a key from a password with the browser's WebCrypto,
// which runs PBKDF2 about seven times faster than Go's compiled to wasm
// (600k iterations: ~250 ms against ~1.7 s). Where WebCrypto is missing (a
// page served over plain http from another host than localhost is not a
// secure context and has no crypto.subtle) it falls back to Go's, with the
// same result, only slower.
func pbkdf2SHA256(password string, salt []byte, iterations, keyLen int) ([]byte, error) {
	key, err := webCryptoPBKDF2(password, salt, iterations, keyLen)
	if err == nil {
		return key, nil
	}
	return pbkdf2.Key(sha256.New, password, salt, iterations, keyLen)
}

// webCryptoPBKDF2 awaits crypto.subtle's deriveBits. The caller must not
// be on the JS event loop (room.Create and room.Join never are): it blocks
// until the promise settles.
func webCryptoPBKDF2(password string, salt []byte, iterations, keyLen int) ([]byte, error) {
	subtle, ok := webcrypto.Subtle()
	if !ok {
		return nil, errors.New("room: no WebCrypto")
	}
	pw := webcrypto.Bytes([]byte(password))
	base, err := webcrypto.Await(subtle.Call("importKey", "raw", pw, "PBKDF2", false, []any{"deriveBits"}))
	if err != nil {
		return nil, err
	}
	params := js.Global().Get("Object").New()
	params.Set("name", "PBKDF2")
	params.Set("hash", "SHA-256")
	params.Set("salt", webcrypto.Bytes(salt))
	params.Set("iterations", iterations)
	bits, err := webcrypto.Await(subtle.Call("deriveBits", params, base, keyLen*8))
	if err != nil {
		return nil, err
	}
	out := make([]byte, keyLen)
	if n := js.CopyBytesToGo(out, js.Global().Get("Uint8Array").New(bits)); n != keyLen {
		return nil, fmt.Errorf("room: WebCrypto derived %d bytes, not %d", n, keyLen)
	}
	return out, nil
}
