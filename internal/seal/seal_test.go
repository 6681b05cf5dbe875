package seal

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"testing"

	"github.com/keyport/keyport/internal/keyring"
	"github.com/keyport/keyport/internal/secret"
)

func TestSealOpen(t *testing.T) {
	key := keyring.New(secret.New("0123456789abcdef0123456789abcdef"))
	s, err := New(key, "test")
	if err != nil {
		t.Fatal(err)
	}
	pt := []byte("bearer-token-CANARY")
	ct := s.Seal(pt, []byte("row-1"))
	if bytes.Contains(ct, pt) {
		t.Fatal("ciphertext contains the plaintext")
	}
	if got, err := s.Open(ct, []byte("row-1")); err != nil || !bytes.Equal(got, pt) {
		t.Fatalf("Open = %q, %v", got, err)
	}
	if _, err := s.Open(ct, []byte("row-2")); err != ErrOpen {
		t.Fatalf("opened with another row's AAD: %v", err)
	}
	other, _ := New(key, "other purpose")
	if _, err := other.Open(ct, []byte("row-1")); err != ErrOpen {
		t.Fatalf("opened under another purpose: %v", err)
	}
	ct[len(ct)-1] ^= 1
	if _, err := s.Open(ct, []byte("row-1")); err != ErrOpen {
		t.Fatalf("opened a tampered value: %v", err)
	}
	if bytes.Equal(s.Seal(pt, nil), s.Seal(pt, nil)) {
		t.Fatal("two seals of one value are equal: nonce reuse")
	}
	if _, err := New(keyring.New(secret.New("short")), "x"); err == nil {
		t.Fatal("accepted a short key")
	}
	if _, err := New(keyring.Ring{}, "x"); err == nil {
		t.Fatal("accepted an empty ring")
	}
}

func randomKey(t *testing.T) secret.Secret {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return secret.New(string(b))
}

// A value sealed under the old key opens once a new key is added in front
// of it; new values use the new key, which the old ring cannot open; the
// key id in the header cannot be swapped.
func TestRingRotation(t *testing.T) {
	oldKey, newKey := randomKey(t), randomKey(t)
	before, _ := New(keyring.New(oldKey), "tokens")
	during, _ := New(keyring.New(newKey, oldKey), "tokens")
	after, _ := New(keyring.New(newKey), "tokens")
	aad := []byte("conn-1")

	old := before.Seal([]byte("old"), aad)
	if got, want := KeyID(old), keyring.ID(oldKey); got != want {
		t.Fatalf("KeyID = %q, want %q", got, want)
	}
	if got, err := during.Open(old, aad); err != nil || string(got) != "old" {
		t.Fatalf("the two-key ring opens the old key's value: %q, %v", got, err)
	}
	if during.Current(old) || !before.Current(old) {
		t.Fatal("Current misjudges the old value")
	}
	fresh := during.Seal([]byte("new"), aad)
	if KeyID(fresh) != keyring.ID(newKey) || !during.Current(fresh) {
		t.Fatalf("the two-key ring sealed under %q, want the newest key", KeyID(fresh))
	}
	if _, err := before.Open(fresh, aad); err != ErrOpen {
		t.Fatalf("the old ring opened the new key's value: %v", err)
	}
	if _, err := after.Open(old, aad); err != ErrOpen {
		t.Fatalf("a ring without the old key opened its value: %v", err)
	}
	swapped := bytes.Clone(fresh)
	copy(swapped[1:headerLen], old[1:headerLen])
	if _, err := during.Open(swapped, aad); err != ErrOpen {
		t.Fatalf("opened a value whose key id was swapped: %v", err)
	}
}

// Values sealed before key rings (version 1: no key id) still open, under
// whichever key of the ring sealed them.
func TestOpensVersion1(t *testing.T) {
	oldKey, newKey := randomKey(t), randomKey(t)
	k, _ := hkdf.Key(sha256.New, []byte(oldKey.Reveal()), nil, "keyport seal tokens v1", 32)
	block, _ := aes.NewCipher(k)
	aead, _ := cipher.NewGCM(block)
	nonce := make([]byte, aead.NonceSize())
	_, _ = rand.Read(nonce)
	legacy := aead.Seal(append([]byte{v1}, nonce...), nonce, []byte("legacy"), []byte("conn-1"))

	ring, _ := New(keyring.New(newKey, oldKey), "tokens")
	if got, err := ring.Open(legacy, []byte("conn-1")); err != nil || string(got) != "legacy" {
		t.Fatalf("Open(version 1) = %q, %v", got, err)
	}
	if KeyID(legacy) != "" || ring.Current(legacy) {
		t.Fatal("a version-1 value claims a key id")
	}
	only, _ := New(keyring.New(newKey), "tokens")
	if _, err := only.Open(legacy, []byte("conn-1")); err != ErrOpen {
		t.Fatalf("opened a version-1 value without its key: %v", err)
	}
}
