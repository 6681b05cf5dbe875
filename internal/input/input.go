// Package input holds the shape and the size limit of every kind of value
// Keyport accepts from a request: ids, labels, names, filters, tokens. The
// HTTP boundary checks each value against its kind before a service, the
// database or CXone sees it, so bad bytes become a clear 4xx, never a 5xx.
//
// Every kind refuses invalid UTF-8, NUL and other control characters (a few
// pasted kinds allow surrounding white space), and caps the length.
// Messages name the field and never repeat the value.
package input

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Kind is one kind of value.
type Kind int

const (
	// Text is the floor for a field no handler reads: any single-line text
	// up to 1,024 bytes.
	Text Kind = iota
	// Label is a key's label: up to MaxLabel characters on one line.
	Label
	// Filter is a free-text search or filter term: up to 200 characters.
	Filter
	// Username is a reviewer's account name: up to 64 characters.
	Username
	// Password is a reviewer's password: up to 1,024 bytes, printable.
	Password
	// TOTPCode is a one-time code: digits and spaces, up to 16.
	TOTPCode
	// Area is a CXone area code such as na1.
	Area
	// LocalPath is a path on this site (the ?next= of a form).
	LocalPath
	// Token is a pasted JWT (a basic token): up to 16 KiB, white space around
	// it and line breaks inside allowed (the connect service removes them).
	Token
	// KeyID is a CXone access key id: 1 to 256 printable ASCII characters
	// (the contract promises no more, §5.3), white space around it allowed.
	KeyID
	// KeySecret is a pasted access key secret, same shape as KeyID.
	KeySecret
	// CXoneID is a CXone user or tenant id: opaque, up to 128 characters of
	// letters, digits and . _ : -.
	CXoneID
	// UUID is one of Keyport's own ids (connections, rotations).
	UUID
	// Handle is one of Keyport's own random handles (form intents): 16 to
	// 64 base64url characters.
	Handle
	// Number is a positive decimal id (audit events, verify runs, page cursors).
	Number
	// RequestID is a request id as Keyport makes them: up to 64 hex digits.
	RequestID
	// Word is a fixed vocabulary value (an action, an outcome, a switch):
	// up to 64 of a-z, 0-9, . _ -.
	Word
	// Time is a date or time as a form sends it: up to 40 printable ASCII characters.
	Time
)

// MaxLabel is the longest label, in characters (the database checks it too).
const MaxLabel = 100

type spec struct {
	what  string            // how a message names the shape, "a UUID"
	max   int               // bytes, or characters when runes is set
	runes bool              // max counts characters, not bytes
	trim  bool              // white space around the value is allowed (pasted values)
	wrap  bool              // line breaks and tabs inside are allowed too (a token a text field wrapped)
	char  func(rune) bool   // every character must pass; nil = any printable
	shape func(string) bool // the whole value must pass; nil = any
}

var specs = map[Kind]spec{
	Text:      {max: 1024},
	Label:     {max: MaxLabel, runes: true},
	Filter:    {max: 200, runes: true},
	Username:  {max: 64, runes: true},
	Password:  {max: 1024},
	TOTPCode:  {what: "a code of digits", max: 16, char: func(r rune) bool { return r == ' ' || r >= '0' && r <= '9' }},
	Area:      {what: "an area code such as na1", max: 32, char: isWordChar},
	LocalPath: {what: "a path on this site", max: 2048, char: isVisibleASCII, shape: isLocalPath},
	Token:     {max: 16 << 10, trim: true, wrap: true},
	KeyID:     {what: "an access key id", max: 256, trim: true, char: isVisibleASCII},
	KeySecret: {what: "an access key secret", max: 256, trim: true, char: isVisibleASCII},
	CXoneID:   {what: "a CXone id", max: 128, char: isIDChar},
	UUID:      {what: "an id", max: 36, shape: isUUID},
	Handle:    {what: "a handle", max: 64, char: isBase64URL, shape: func(s string) bool { return len(s) >= 16 }},
	Number:    {what: "a number", max: 19, shape: isPositive},
	RequestID: {what: "a request id", max: 64, char: isHex},
	Word:      {what: "a known value", max: 64, char: isWordChar},
	Time:      {what: "a time", max: 40, char: isVisibleASCII},
}

// Problem is why a value was refused, as the end of a sentence that starts
// with the field's name: "is longer than 100 characters".
type Problem string

// Check returns "" when v is a valid value of kind k, and otherwise the
// problem. An empty value always passes: whether a field is required is the
// handler's business. Check never panics, whatever the bytes.
func Check(k Kind, v string) Problem {
	if v == "" {
		return ""
	}
	s, ok := specs[k]
	if !ok {
		s = specs[Text]
	}
	if !utf8.ValidString(v) {
		return "is not valid UTF-8 text"
	}
	if strings.IndexByte(v, 0) >= 0 {
		return "contains a NUL byte"
	}
	if s.trim {
		v = strings.TrimSpace(v)
	}
	n := len(v)
	if s.runes {
		n = utf8.RuneCountInString(v)
	}
	if n > s.max {
		unit := "bytes"
		if s.runes {
			unit = "characters"
		}
		return Problem(fmt.Sprintf("is longer than %d %s", s.max, unit))
	}
	for _, r := range v {
		if s.wrap && (r == '\n' || r == '\r' || r == '\t') {
			continue
		}
		if unicode.IsControl(r) || r == utf8.RuneError || r == '\u2028' || r == '\u2029' {
			return "contains a control character"
		}
		if s.char != nil && !s.char(r) {
			return Problem("is not " + s.what)
		}
	}
	if s.shape != nil && v != "" && !s.shape(v) {
		return Problem("is not " + s.what)
	}
	return ""
}

// Clean makes a header value safe to store: valid UTF-8 (bad bytes become
// U+FFFD), control characters dropped, at most max bytes on a character
// boundary. Used for headers Keyport records but does not interpret, such
// as User-Agent: refusing a request for its browser's name helps nobody.
func Clean(v string, max int) string {
	v = strings.ToValidUTF8(v, "\uFFFD")
	v = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, v)
	if len(v) <= max {
		return v
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(v[cut]) {
		cut--
	}
	return v[:cut]
}

func isVisibleASCII(r rune) bool { return r > ' ' && r < 0x7f }

func isWordChar(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-'
}

func isIDChar(r rune) bool { return isWordChar(r) || r == ':' }

func isBase64URL(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-'
}

func isHex(r rune) bool { return r >= '0' && r <= '9' || r >= 'a' && r <= 'f' || r >= 'A' && r <= 'F' }

func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, r := range s {
		switch i {
		case 8, 13, 18, 23:
			if r != '-' {
				return false
			}
		default:
			if !isHex(r) {
				return false
			}
		}
	}
	return true
}

func isPositive(s string) bool {
	n, err := strconv.ParseInt(s, 10, 64)
	return err == nil && n > 0 && s[0] != '+'
}

// isLocalPath is a path browsers resolve on this site: one leading slash,
// not "//" (another host) nor a backslash (which browsers read as a slash).
func isLocalPath(s string) bool {
	return strings.HasPrefix(s, "/") && !strings.HasPrefix(s, "//") && !strings.Contains(s, "\\")
}
