package room

import (
	"crypto/ed25519"
	"crypto/sha256"
	"sync"
	"sync/atomic"

	"github.com/rooms-dev/rooms/pkg/room/internal/edsign"
)

// Verifying an Ed25519 signature takes about a millisecond in Go compiled
// to wasm (edsign hands it to WebCrypto where it can), and every member
// checks every change while applying it, on the path of every update. A
// member need not check the signatures it made itself, so it remembers
// them; applying looks them up. Only good signatures are kept, under a
// digest of everything the check covers, so a lookup answers exactly what
// ed25519.Verify would. (Checking other members' entries on arrival, before
// the commit, was tried twice: with Go's Ed25519 in the browser it made
// updates slower, the pages being short of CPU rather than idle while
// waiting; with WebCrypto's it made no difference.)

// sigCacheSize bounds the remembered signatures: far more than a member's
// changes in flight.
const sigCacheSize = 4096

type sigCache struct {
	hits atomic.Uint64 // checks answered from the cache (diagnostics, tests)
	mu   sync.Mutex
	seen map[[sha256.Size]byte]struct{}
	ring [][sha256.Size]byte // insertion order, for eviction
	next int
}

func newSigCache() *sigCache {
	return &sigCache{seen: make(map[[sha256.Size]byte]struct{}, sigCacheSize), ring: make([][sha256.Size]byte, sigCacheSize)}
}

// sigDigest covers the key, the signature and the message, with the
// signature's length so that no split of sig‖message can stand for another.
func sigDigest(key ed25519.PublicKey, msg, sig []byte) [sha256.Size]byte {
	h := sha256.New()
	h.Write(u64(uint64(len(sig))))
	h.Write(sig)
	h.Write(key)
	h.Write(msg)
	var d [sha256.Size]byte
	h.Sum(d[:0])
	return d
}

func (c *sigCache) add(d [sha256.Size]byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.seen[d]; ok {
		return
	}
	if old := c.ring[c.next]; old != ([sha256.Size]byte{}) {
		delete(c.seen, old)
	}
	c.ring[c.next] = d
	c.next = (c.next + 1) % sigCacheSize
	c.seen[d] = struct{}{}
}

func (c *sigCache) has(d [sha256.Size]byte) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.seen[d]
	return ok
}

// verifySignature is ed25519.Verify (by edsign), answered from the cache when this
// exact check succeeded before.
func (m *machine) verifySignature(key ed25519.PublicKey, msg, sig []byte) bool {
	d := sigDigest(key, msg, sig)
	if m.sigs.has(d) {
		m.sigs.hits.Add(1)
		return true
	}
	if !edsign.Verify(key, msg, sig) {
		return false
	}
	m.sigs.add(d)
	return true
}
