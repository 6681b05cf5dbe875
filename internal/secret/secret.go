// Package secret holds the Secret type in which every credential (basic
// token, bearer, refresh token, access-key secret, configuration key) crosses
// package boundaries. Every printed, logged or marshalled form is
// "[redacted]"; Reveal is the only way to the value, so review can grep for it.
package secret

import (
	"fmt"
	"io"
	"log/slog"
)

const redacted = "[redacted]"

// Secret is a struct, not a string type, so string(s) does not compile.
type Secret struct{ v string }

// New wraps s.
func New(s string) Secret { return Secret{v: s} }

// Reveal returns the raw value. Call it only where the value leaves the
// process on purpose (an upstream request body, a one-time page, a KDF).
func (s Secret) Reveal() string { return s.v }

// IsZero reports whether the secret is empty.
func (s Secret) IsZero() bool { return s.v == "" }

// Len returns the length of the raw value without revealing it.
func (s Secret) Len() int { return len(s.v) }

func (Secret) String() string   { return redacted }
func (Secret) GoString() string { return redacted }

// Format covers every verb, including %#v, %d and %x, which String alone does not.
func (Secret) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, redacted) }

func (Secret) LogValue() slog.Value { return slog.StringValue(redacted) }

func (Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }

func (Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }
