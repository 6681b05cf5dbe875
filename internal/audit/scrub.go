package audit

import (
	"regexp"
	"strings"
)

// credentialLike matches what must never be stored: JWTs (three base64url
// segments), "Bearer …" values, access-key secrets (long base32 runs with
// their "=" padding) and any other long opaque token-like run.
var credentialLike = regexp.MustCompile(
	`(?i:bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}` +
		`|[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}` +
		`|[A-Z2-7]{32,}=*` +
		`|[A-Za-z0-9+/_-]{40,}=*`)

// Redacted replaces whatever Scrub removes.
const Redacted = "[redacted]"

// Scrub removes credential-like substrings and control characters from s.
// It is applied to every string the writer stores (except key ids, which
// are validated as ids), so an upstream message quoting a token, or a bug
// passing one, cannot put it into the trail.
func Scrub(s string) string {
	if s == "" {
		return s
	}
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return ' '
		}
		return r
	}, s)
	return credentialLike.ReplaceAllString(s, Redacted)
}
