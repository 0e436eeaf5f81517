package edsign

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha512"
	"math/rand/v2"
	"testing"

	"filippo.io/edwards25519"
)

// cofactoredVerify is the check some engines do: [8]([S]B - [k]A - R) is
// the identity. The self-test's bad vectors must pass it and fail Go's.
func cofactoredVerify(t *testing.T, key, msg, sig []byte) bool {
	t.Helper()
	A, err := new(edwards25519.Point).SetBytes(key)
	if err != nil {
		t.Fatalf("key: %v", err)
	}
	R, err := new(edwards25519.Point).SetBytes(sig[:32])
	if err != nil {
		t.Fatalf("R: %v", err)
	}
	S, err := new(edwards25519.Scalar).SetCanonicalBytes(sig[32:])
	if err != nil {
		t.Fatalf("S: %v", err)
	}
	h := sha512.New()
	h.Write(sig[:32])
	h.Write(key)
	h.Write(msg)
	k, _ := new(edwards25519.Scalar).SetUniformBytes(h.Sum(nil))
	p := new(edwards25519.Point).VarTimeDoubleScalarBaseMult(new(edwards25519.Scalar).Negate(k), A, S)
	p.Subtract(p, R)
	return p.MultByCofactor(p).Equal(edwards25519.NewIdentityPoint()) == 1
}

func TestSelfTestVectors(t *testing.T) {
	priv := ed25519.NewKeyFromSeed(selfTestSeed)
	if !bytes.Equal(priv.Public().(ed25519.PublicKey), selfTestKey) {
		t.Fatal("selfTestKey is not the seed's public key")
	}
	if !bytes.Equal(ed25519.Sign(priv, selfTestMessage), selfTestGood) {
		t.Fatal("selfTestGood is not Go's signature")
	}
	for _, v := range []struct {
		name     string
		key, sig []byte
	}{{"torsion in R", selfTestKey, selfTestTorR}, {"torsion in the key", selfTestTorKey, selfTestTorKeySig}} {
		if ed25519.Verify(v.key, selfTestMessage, v.sig) {
			t.Errorf("%s: Go accepts the vector; it must refuse it", v.name)
		}
		if !cofactoredVerify(t, v.key, selfTestMessage, v.sig) {
			t.Errorf("%s: a cofactored verifier refuses the vector, so it tests nothing", v.name)
		}
		if !canonical(v.key, v.sig) {
			t.Errorf("%s: the vector is not canonical, so the engine would never be asked", v.name)
		}
	}
	if !cofactoredVerify(t, selfTestKey, selfTestMessage, selfTestGood) {
		t.Error("the good vector fails cofactored verification")
	}
}

func TestScalarBelowOrder(t *testing.T) {
	below := order
	below[0]--
	above := order
	above[31]++
	for _, c := range []struct {
		name string
		s    [32]byte
		want bool
	}{{"zero", [32]byte{}, true}, {"L-1", below, true}, {"L", order, false}, {"L+2^248", above, false}, {"all ones", [32]byte{0: 0xff, 31: 0xff}, false}} {
		if got := scalarBelowOrder(c.s[:]); got != c.want {
			t.Errorf("%s: scalarBelowOrder = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestCanonicalPoint(t *testing.T) {
	pMinus := func(d byte, sign bool) []byte { // p - d, little-endian
		b := bytes.Repeat([]byte{0xff}, 32)
		b[0] = 0xed - d
		b[31] = 0x7f
		if sign {
			b[31] |= 0x80
		}
		return b
	}
	one := func(sign bool) []byte {
		b := make([]byte, 32)
		b[0] = 1
		if sign {
			b[31] = 0x80
		}
		return b
	}
	for _, c := range []struct {
		name string
		b    []byte
		want bool
	}{
		{"a key", selfTestKey, true},
		{"y = p-2", pMinus(2, false), true},
		{"y = p-1 (x = 0)", pMinus(1, false), true},
		{"y = p-1 with the sign bit (negative zero)", pMinus(1, true), false},
		{"y = 1 (the identity)", one(false), true},
		{"y = 1 with the sign bit (negative zero)", one(true), false},
		{"y = p", pMinus(0, false), false},
		{"y = 2^255-1", bytes.Repeat([]byte{0xff}, 32), false},
	} {
		if got := canonicalPoint(c.b); got != c.want {
			t.Errorf("%s: canonicalPoint = %v, want %v", c.name, got, c.want)
		}
	}
}

// TestVerifyAgreesWithGo: Verify decides as crypto/ed25519 does, on good
// signatures, tampered ones, and the self-test's vectors; wrong lengths are
// refused, not a panic. Natively this is Go itself; the wasm run of this
// test (TestWasmEngine) asks the browser engine.
func TestVerifyAgreesWithGo(t *testing.T) {
	checkAgreesWithGo(t)
}

func checkAgreesWithGo(t *testing.T) {
	t.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	seed := make([]byte, 32)
	for i := 0; i < 20; i++ {
		for j := range seed {
			seed[j] = byte(rng.Uint32())
		}
		priv := ed25519.NewKeyFromSeed(seed)
		key := priv.Public().(ed25519.PublicKey)
		msg := make([]byte, rng.IntN(300))
		for j := range msg {
			msg[j] = byte(rng.Uint32())
		}
		sig := Sign(priv, msg)
		if !bytes.Equal(sig, ed25519.Sign(priv, msg)) {
			t.Fatalf("key %d: Sign differs from Go's", i)
		}
		tampered := bytes.Clone(sig)
		tampered[rng.IntN(64)] ^= 1 << rng.IntN(8)
		otherMsg := append(bytes.Clone(msg), 0)
		for _, c := range []struct {
			name     string
			key      []byte
			msg, sig []byte
		}{{"good", key, msg, sig}, {"tampered", key, msg, tampered}, {"other message", key, otherMsg, sig}} {
			if got, want := Verify(c.key, c.msg, c.sig), ed25519.Verify(c.key, c.msg, c.sig); got != want {
				t.Fatalf("key %d, %s: Verify = %v, Go says %v", i, c.name, got, want)
			}
		}
	}
	for _, v := range []struct {
		name     string
		key, sig []byte
		want     bool
	}{{"good vector", selfTestKey, selfTestGood, true}, {"torsion in R", selfTestKey, selfTestTorR, false}, {"torsion in the key", selfTestTorKey, selfTestTorKeySig, false}} {
		if got := Verify(v.key, selfTestMessage, v.sig); got != v.want {
			t.Errorf("%s: Verify = %v, want %v", v.name, got, v.want)
		}
	}
	if Verify(selfTestKey[:31], selfTestMessage, selfTestGood) || Verify(selfTestKey, selfTestMessage, selfTestGood[:63]) {
		t.Error("Verify accepted a key or signature of the wrong length")
	}
}
