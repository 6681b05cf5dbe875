// Package keyring holds a key ring: the one or more keys of one of
// Keyport's own keys (KEYPORT_SESSION_KEY, _ENCRYPTION_KEY, _AUDIT_KEY),
// newest first. The newest signs or encrypts; every key verifies or
// decrypts, so a key can be rotated without losing what the older one made.
// Each key has a short id, stored beside what the key produced, that says
// which key made it without saying anything about the key. It imports only
// internal/secret.
package keyring

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/keyport/keyport/internal/secret"
)

// IDBytes is the length of a key id in bytes (it is shown as hex). Four
// bytes name a key among the few of a ring; config refuses a ring whose ids
// collide.
const IDBytes = 4

// Key is one key of a ring and its id.
type Key struct {
	ID     string // IDBytes bytes, hex
	Secret secret.Secret
}

// Ring is a key ring, newest first. The zero Ring has no key.
type Ring struct{ keys []Key }

// New returns the ring of keys, newest first.
func New(keys ...secret.Secret) Ring {
	r := Ring{keys: make([]Key, len(keys))}
	for i, k := range keys {
		r.keys[i] = Key{ID: ID(k), Secret: k}
	}
	return r
}

// ID is k's id: the first IDBytes of HMAC-SHA-256 keyed with k over a fixed
// label. Keyed, not a plain hash of k, so the id is a MAC of a public
// string: it reveals nothing about k and cannot be used to test a guess of
// k without k itself. Hex, so it can sit in a text column and a log line.
func ID(k secret.Secret) string {
	m := hmac.New(sha256.New, []byte(k.Reveal()))
	m.Write([]byte("keyport key id"))
	return hex.EncodeToString(m.Sum(nil)[:IDBytes])
}

// Len is the number of keys.
func (r Ring) Len() int { return len(r.keys) }

// Newest is the key that signs and encrypts. It panics on an empty ring:
// config refuses one.
func (r Ring) Newest() Key { return r.keys[0] }

// Keys returns the keys, newest first.
func (r Ring) Keys() []Key { return append([]Key(nil), r.keys...) }

// IDs returns the keys' ids, newest first.
func (r Ring) IDs() []string {
	ids := make([]string, len(r.keys))
	for i, k := range r.keys {
		ids[i] = k.ID
	}
	return ids
}

// Lookup returns the key whose id is id.
func (r Ring) Lookup(id string) (Key, bool) {
	for _, k := range r.keys {
		if k.ID == id {
			return k, true
		}
	}
	return Key{}, false
}

// Has reports whether the ring holds a key with id.
func (r Ring) Has(id string) bool {
	_, ok := r.Lookup(id)
	return ok
}

// String lists the ids only: a printed ring is safe.
func (r Ring) String() string { return "ring[" + strings.Join(r.IDs(), ",") + "]" }

// Format covers every verb (%#v and %x included) with String.
func (r Ring) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, r.String()) }

// LogValue logs the ids only.
func (r Ring) LogValue() slog.Value { return slog.StringValue(r.String()) }
