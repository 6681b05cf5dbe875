package kp_test

import (
	"regexp"
	"testing"

	"github.com/keyport/keyport/internal/kp"
)

func TestNewUUIDIsARandomVersion4UUID(t *testing.T) {
	v4 := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	seen := map[string]bool{}
	for range 100 {
		id := kp.NewUUID()
		if !v4.MatchString(id) {
			t.Fatalf("NewUUID() = %q, not a version 4 UUID", id)
		}
		if seen[id] {
			t.Fatalf("NewUUID() repeated %q", id)
		}
		seen[id] = true
	}
}

func TestNewTokenIs32URLSafeCharacters(t *testing.T) {
	shape := regexp.MustCompile(`^[A-Za-z0-9_-]{32}$`)
	a, b := kp.NewToken(), kp.NewToken()
	if !shape.MatchString(a) || !shape.MatchString(b) {
		t.Fatalf("NewToken() = %q, %q; want 32 URL-safe characters", a, b)
	}
	if a == b {
		t.Fatalf("NewToken() repeated %q", a)
	}
}
