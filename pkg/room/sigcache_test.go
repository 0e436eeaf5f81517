package room

import (
	"crypto/ed25519"
	"fmt"
	"testing"
)

func TestSigDigestSeparatesSignatureFromMessage(t *testing.T) {
	key := make(ed25519.PublicKey, ed25519.PublicKeySize)
	sig, msg := []byte("0123456789"), []byte("message")
	shifted := sigDigest(key, append([]byte("9"), msg...), sig[:9])
	if sigDigest(key, msg, sig) == shifted {
		t.Fatal("moving a byte from the signature to the message gives the same digest")
	}
}

// A member's own changes apply without checking its own signature again.
func TestOwnChangesApplyFromTheCache(t *testing.T) {
	url := startSignal(t)
	a := createMember(t, url, "a", "ownsigs", `{"n":0}`)
	for i := 1; i <= 3; i++ {
		if _, err := a.Update(ctxT(t), patch(t, fmt.Sprintf(`[{"op":"replace","path":"/n","value":%d}]`, i))); err != nil {
			t.Fatal(err)
		}
	}
	if hits := a.sm.sigs.hits.Load(); hits < 3 {
		t.Errorf("%d cache hits after 3 own updates, want 3", hits)
	}
}
