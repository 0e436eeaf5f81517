//go:build !js

package room

import (
	"crypto/pbkdf2"
	"crypto/sha256"
)

// pbkdf2SHA256 derives a key from a password with Go's own PBKDF2.
func pbkdf2SHA256(password string, salt []byte, iterations, keyLen int) ([]byte, error) {
	return pbkdf2.Key(sha256.New, password, salt, iterations, keyLen)
}
