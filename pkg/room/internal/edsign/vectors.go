package edsign

import "encoding/hex"

// The engine self-test's vectors. Made with filippo.io/edwards25519 (see
// edsign_test.go, which checks each property claimed here): a key from the
// seed 01 02 … 20, its good signature of selfTestMessage, and two signatures
// that Go refuses but a cofactored verifier accepts, because a point of
// order 8 was added to R, or to the key.
var (
	selfTestMessage = []byte("rooms: ed25519 engine self-test")
	selfTestSeed    = func() []byte {
		s := make([]byte, 32)
		for i := range s {
			s[i] = byte(i + 1)
		}
		return s
	}()
	selfTestKey       = mustHex("79b5562e8fe654f94078b112e8a98ba7901f853ae695bed7e0e3910bad049664")
	selfTestGood      = mustHex("70b51f052d7840e16b1bde15d27b9679da12068eed3695d98d796220410ebe32438dd691945ac9461a99422844312e04a1fe6060613d1c2755577944b8043201")
	selfTestTorR      = mustHex("044f44cd226da065e29b8184e9e0ab2a02042ddcfe7908e477ae8b253ac75e4fba35c057311e8f16792b5cf1e0945786b429a64b622de4e9ad07fad30d60bf0a")
	selfTestTorKey    = mustHex("287f6bda7a57f4f2873f3bff5e5ea9c260a6a6343bdf37c7abcd346ed5904c11")
	selfTestTorKeySig = mustHex("51e092cc689380a0164bf784796546a8048844348a9da29fee5a0f05c3ddd784c1612157b037f0e969970922ee9960be2881563fa981caef4ce7b1a703ee2703")
)

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}
