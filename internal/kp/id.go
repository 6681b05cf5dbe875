package kp

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
)

// NewUUID returns a random (version 4) UUID: the id of a row Keyport makes
// itself (a connection, a rotation).
func NewUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// NewToken returns 192 random bits as 32 URL-safe characters: a handle
// that is its own proof of having been handed out (a create form's one-time
// id, the address of a new key's creation page).
func NewToken() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
