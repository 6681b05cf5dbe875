package seal

import (
	"bytes"
	"testing"

	"github.com/keyport/keyport/internal/secret"
)

func TestSealOpen(t *testing.T) {
	key := secret.New("0123456789abcdef0123456789abcdef")
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
	if _, err := New(secret.New("short"), "x"); err == nil {
		t.Fatal("accepted a short key")
	}
}
