// Package webcrypto calls the page's WebCrypto (crypto.subtle) from Go
// compiled to wasm, for what Go does too slowly there: the room password's
// PBKDF2 and Ed25519. It exists only in the browser build.
package webcrypto
