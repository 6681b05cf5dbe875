// Package seal encrypts small values at rest (session data, CXone tokens)
// with AES-256-GCM under a key derived from KEYPORT_ENCRYPTION_KEY for one
// purpose, binding each ciphertext to the row it belongs to (the AAD), so a
// sealed value copied to another row does not open.
package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"

	"github.com/keyport/keyport/internal/secret"
)

// version prefixes every ciphertext so the scheme can change later.
const version byte = 1

// ErrOpen is returned for any ciphertext that does not open: tampered,
// sealed for another row or purpose, or under another key.
var ErrOpen = errors.New("sealed value does not open")

// Sealer seals and opens values for one purpose.
type Sealer struct{ aead cipher.AEAD }

// New derives the purpose's key from key with HKDF-SHA-256.
func New(key secret.Secret, purpose string) (*Sealer, error) {
	if key.Len() < 32 {
		return nil, errors.New("seal: key shorter than 32 bytes")
	}
	k, err := hkdf.Key(sha256.New, []byte(key.Reveal()), nil, "keyport seal "+purpose+" v1", 32)
	if err != nil {
		return nil, fmt.Errorf("seal: derive key: %w", err)
	}
	block, err := aes.NewCipher(k)
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	return &Sealer{aead: aead}, nil
}

// Seal encrypts plaintext bound to aad: version || nonce || ciphertext.
func (s *Sealer) Seal(plaintext, aad []byte) []byte {
	out := make([]byte, 1, 1+s.aead.NonceSize()+len(plaintext)+s.aead.Overhead())
	out[0] = version
	nonce := make([]byte, s.aead.NonceSize())
	_, _ = rand.Read(nonce)
	out = append(out, nonce...)
	return s.aead.Seal(out, nonce, plaintext, aad)
}

// Open decrypts what Seal produced for the same aad.
func (s *Sealer) Open(sealed, aad []byte) ([]byte, error) {
	n := s.aead.NonceSize()
	if len(sealed) < 1+n+s.aead.Overhead() || sealed[0] != version {
		return nil, ErrOpen
	}
	pt, err := s.aead.Open(nil, sealed[1:1+n], sealed[1+n:], aad)
	if err != nil {
		return nil, ErrOpen
	}
	return pt, nil
}
