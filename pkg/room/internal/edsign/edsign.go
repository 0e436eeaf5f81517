// Package edsign signs and checks Ed25519 signatures for the room: with Go's
// crypto/ed25519 natively, and in the browser with WebCrypto where the
// engine proves it decides exactly as Go does.
//
// In the browser, Go's Ed25519 compiled to wasm is slow (about 1 ms to
// verify and 0.4 ms to sign under load), and every member verifies every
// change on the path of every update. WebCrypto's Ed25519 (Chrome 137,
// Firefox 129, Safari 17) runs natively, off the page's main thread. But
// members must decide alike, and native members use Go, so WebCrypto may
// only ever agree with Go:
//   - a signature WebCrypto refuses is checked again by Go, which decides;
//   - WebCrypto is asked only about signatures and keys that are canonically
//     encoded (S below the group order, R and the key with y below p and no
//     negative zero), the cases where engines lawfully differ;
//   - the engine must first pass a self-test: accept a good signature, refuse
//     two that hold only under cofactored verification (a point of order 8
//     added to R, and to the key), and sign exactly as Go does.
//
// An engine that fails any of this, or a page without WebCrypto, uses Go.
package edsign

import "crypto/ed25519"

// Verify reports whether sig is key's signature of msg, as
// crypto/ed25519.Verify decides; a key or signature of the wrong length is
// refused rather than a panic.
func Verify(key ed25519.PublicKey, msg, sig []byte) bool {
	if len(key) != ed25519.PublicKeySize || len(sig) != ed25519.SignatureSize {
		return false
	}
	if canonical(key, sig) && engineVerify(key, msg, sig) {
		return true
	}
	return ed25519.Verify(key, msg, sig)
}

// Sign is crypto/ed25519.Sign. Ed25519 signatures are deterministic, so a
// signature by WebCrypto is the one Go would make (the self-test checks it).
func Sign(priv ed25519.PrivateKey, msg []byte) []byte {
	if sig, ok := engineSign(priv, msg); ok {
		return sig
	}
	return ed25519.Sign(priv, msg)
}

// canonical tells whether key and sig are encoded the one way RFC 8032
// allows: S below the group order, and R and the key as canonical points.
// Go refuses a signature whose S or R is not; an engine might accept it.
func canonical(key ed25519.PublicKey, sig []byte) bool {
	return scalarBelowOrder(sig[32:]) && canonicalPoint(sig[:32]) && canonicalPoint(key)
}

// order is the group order L = 2^252 + 27742317777372353535851937790883648493,
// little-endian.
var order = [32]byte{
	0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
}

// scalarBelowOrder tells whether the little-endian s is below L.
func scalarBelowOrder(s []byte) bool {
	for i := 31; i >= 0; i-- {
		if s[i] != order[i] {
			return s[i] < order[i]
		}
	}
	return false
}

// canonicalPoint tells whether the 32-byte point encoding b is canonical:
// its y (the low 255 bits) is below p = 2^255-19, and the sign bit is not
// set on a point whose x is zero (y = 1 or y = p-1), which would be a
// negative zero.
func canonicalPoint(b []byte) bool {
	var y [32]byte
	copy(y[:], b)
	y[31] &= 0x7f
	sign := b[31] >> 7
	// p-1 = 0x7fff…ffec little-endian: ec ff … ff 7f.
	high := y[31] == 0x7f
	for i := 1; i < 31 && high; i++ {
		high = y[i] == 0xff
	}
	if high && y[0] >= 0xed { // y ≥ p
		return false
	}
	if sign == 1 && (high && y[0] == 0xec || isOne(y)) {
		return false
	}
	return true
}

func isOne(y [32]byte) bool {
	if y[0] != 1 {
		return false
	}
	for _, v := range y[1:] {
		if v != 0 {
			return false
		}
	}
	return true
}
