// Package seal encrypts small values at rest (session data, CXone tokens,
// TOTP seeds) with AES-256-GCM under a key derived from one key of the
// KEYPORT_ENCRYPTION_KEY ring for one purpose, binding each ciphertext to
// the row it belongs to (the AAD), so a sealed value copied to another row
// does not open. A sealed value names the ring key that sealed it, so an
// older key's values still open after a rotation and `keyport rekey` can
// find them.
package seal

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/keyport/keyport/internal/keyring"
)

// The versions a sealed value starts with. Version 1 (before key rings) is
// version || nonce || ciphertext, its key unknown: Open tries every key.
// Version 2 is version || key id || nonce || ciphertext, and its header
// (version and key id) is authenticated with the row's AAD.
const (
	v1 byte = 1
	v2 byte = 2
)

const headerLen = 1 + keyring.IDBytes

// The purposes of Keyport's sealed values, one derived key each: every
// sealed column is one of these (`keyport rekey` walks them all).
const (
	Tokens      = "cxone tokens" // connections.tokens, bound to the connection id
	TOTP        = "totp"         // reviewers.totp_sealed, bound to the username
	SessionData = "session data" // sessions.data, bound to the id hash
)

// ErrOpen is returned for any ciphertext that does not open: tampered,
// sealed for another row or purpose, or under a key not in the ring.
var ErrOpen = errors.New("sealed value does not open")

// Sealer seals under the ring's newest key and opens under any of its keys,
// for one purpose.
type Sealer struct {
	keys []sealKey // newest first
}

type sealKey struct {
	id     string
	header [headerLen]byte
	aead   cipher.AEAD
}

// New derives each ring key's purpose key with HKDF-SHA-256.
func New(ring keyring.Ring, purpose string) (*Sealer, error) {
	if ring.Len() == 0 {
		return nil, errors.New("seal: no key")
	}
	s := &Sealer{}
	for _, key := range ring.Keys() {
		if key.Secret.Len() < 32 {
			return nil, errors.New("seal: key shorter than 32 bytes")
		}
		k, err := hkdf.Key(sha256.New, []byte(key.Secret.Reveal()), nil, "keyport seal "+purpose+" v1", 32)
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
		sk := sealKey{id: key.ID, aead: aead}
		sk.header[0] = v2
		if _, err := hex.Decode(sk.header[1:], []byte(key.ID)); err != nil {
			return nil, fmt.Errorf("seal: key id: %w", err)
		}
		s.keys = append(s.keys, sk)
	}
	return s, nil
}

// Seal encrypts plaintext bound to aad under the newest key.
func (s *Sealer) Seal(plaintext, aad []byte) []byte {
	k := &s.keys[0]
	n := k.aead.NonceSize()
	out := make([]byte, headerLen+n, headerLen+n+len(plaintext)+k.aead.Overhead())
	copy(out, k.header[:])
	_, _ = rand.Read(out[headerLen:])
	return k.aead.Seal(out, out[headerLen:], plaintext, authData(k.header[:], aad))
}

// authData binds the header to the row: a value whose key id was changed
// does not open under either key.
func authData(header, aad []byte) []byte {
	return append(append(make([]byte, 0, len(header)+len(aad)), header...), aad...)
}

// Open decrypts what Seal produced for the same aad, under whichever of the
// ring's keys sealed it.
func (s *Sealer) Open(sealed, aad []byte) ([]byte, error) {
	if len(sealed) == 0 {
		return nil, ErrOpen
	}
	switch sealed[0] {
	case v2:
		if len(sealed) < headerLen {
			return nil, ErrOpen
		}
		for i := range s.keys {
			if k := &s.keys[i]; bytes.Equal(sealed[:headerLen], k.header[:]) {
				return open(k.aead, sealed[headerLen:], authData(k.header[:], aad))
			}
		}
	case v1:
		for i := range s.keys {
			if pt, err := open(s.keys[i].aead, sealed[1:], aad); err == nil {
				return pt, nil
			}
		}
	}
	return nil, ErrOpen
}

func open(aead cipher.AEAD, body, aad []byte) ([]byte, error) {
	n := aead.NonceSize()
	if len(body) < n+aead.Overhead() {
		return nil, ErrOpen
	}
	pt, err := aead.Open(nil, body[:n], body[n:], aad)
	if err != nil {
		return nil, ErrOpen
	}
	return pt, nil
}

// Current reports whether sealed was sealed under the newest key: what
// `keyport rekey` leaves alone.
func (s *Sealer) Current(sealed []byte) bool {
	return len(sealed) >= headerLen && bytes.Equal(sealed[:headerLen], s.keys[0].header[:])
}

// NewestID is the id of the key Seal uses.
func (s *Sealer) NewestID() string { return s.keys[0].id }

// KeyID returns the id of the key that sealed a value, read from its
// header; "" for a value sealed before key ids (version 1) or not sealed
// at all. It needs no key: `keyport keys status` counts values by it.
func KeyID(sealed []byte) string {
	if len(sealed) < headerLen || sealed[0] != v2 {
		return ""
	}
	return hex.EncodeToString(sealed[1:headerLen])
}
