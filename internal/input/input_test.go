package input

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestCheck(t *testing.T) {
	key := strings.Repeat("A", 52) + "===="
	cases := []struct {
		kind Kind
		v    string
		want string // "" = valid; otherwise a substring of the problem
	}{
		{Label, "reporting ETL, prod", ""},
		{Label, "", ""},
		{Label, "café ☕", ""},
		{Label, strings.Repeat("é", MaxLabel), ""},
		{Label, strings.Repeat("é", MaxLabel+1), "longer than 100 characters"},
		{Label, "a\x00b", "NUL"},
		{Label, "a\xffb", "UTF-8"},
		{Label, "line\nbreak", "control"},
		{Label, "bell\x07", "control"},
		{Label, "c1\u0085", "control"},
		{Label, "sep\u2028", "control"},
		{Filter, strings.Repeat("x", 201), "longer than 200"},
		{KeyID, key, ""},
		{KeyID, "  " + key + "\n", ""},
		{KeyID, "AAAA%00", ""}, // printable: may exist upstream; CXone answers 404
		{KeyID, "AA AA", "not an access key id"},
		{KeyID, strings.Repeat("A", 257), "longer than 256"},
		{KeySecret, "sécret", "not an access key secret"},
		{Token, " eyJ.a.b ", ""},
		{Token, "Basic \"eyJ.a\r\n.b\t\"", ""}, // decorated and wrapped: the connect service cleans it
		{Token, "eyJ.a\x00.b", "NUL"},
		{Token, "eyJ.a\x1b.b", "control"},
		{Token, strings.Repeat("a", 16<<10+1), "longer than 16384"},
		{UUID, "0b9c2c61-9b2e-4c4e-8f33-3c1f2b1a0d9e", ""},
		{UUID, "0b9c2c61-9b2e-4c4e-8f33-3c1f2b1a0d9", "not an id"},
		{UUID, "0b9c2c61x9b2e-4c4e-8f33-3c1f2b1a0d9e", "not an id"},
		{Handle, "abcdefghijklmnop", ""},
		{Handle, "short", "not a handle"},
		{Handle, "abcdefghijklmnop+", "not a handle"},
		{Number, "42", ""},
		{Number, "0", "not a number"},
		{Number, "-1", "not a number"},
		{Number, "+1", "not a number"},
		{Number, "99999999999999999999", "longer"},
		{CXoneID, "11eb660f-0000-4000-8000-000000000001", ""},
		{CXoneID, "user:abc", ""},
		{CXoneID, "a/b", "not a CXone id"},
		{Area, "na1", ""},
		{Area, "na1;drop", "not an area code"},
		{TOTPCode, "123 456", ""},
		{TOTPCode, "12a456", "not a code"},
		{RequestID, "0123abcdef", ""},
		{RequestID, "xyz", "not a request id"},
		{Word, "key.create", ""},
		{Word, "key create", "not a known value"},
		{LocalPath, "/keys?user=x", ""},
		{LocalPath, "/keys <script>", "not a path"},
		{LocalPath, "//evil.example/", "not a path"},
		{LocalPath, "/\\evil.example", "not a path"},
		{LocalPath, "https://evil.example/", "not a path"},
		{LocalPath, "keys", "not a path"},
		{Password, "correct horse battery staple ✓", ""},
		{Password, "tab\tin", "control"},
		{Kind(999), "fallback", ""},
		{Kind(999), "fall\x00back", "NUL"},
	}
	for _, c := range cases {
		got := string(Check(c.kind, c.v))
		if c.want == "" && got != "" || c.want != "" && !strings.Contains(got, c.want) {
			t.Errorf("Check(%d, %q) = %q, want %q", c.kind, c.v, got, c.want)
		}
	}
}

func TestClean(t *testing.T) {
	cases := []struct {
		in   string
		max  int
		want string
	}{
		{"Mozilla/5.0 (X11)", 512, "Mozilla/5.0 (X11)"},
		{"a\x00b\x7fc\nd", 512, "abcd"},
		{"bad\xffbyte", 512, "bad\uFFFDbyte"},
		{strings.Repeat("é", 10), 7, strings.Repeat("é", 3)}, // cut on a character boundary
	}
	for _, c := range cases {
		if got := Clean(c.in, c.max); got != c.want {
			t.Errorf("Clean(%q, %d) = %q, want %q", c.in, c.max, got, c.want)
		}
	}
}

// FuzzCheck: no input makes Check panic, and whatever it accepts is valid
// UTF-8 without NUL, so the database can store it.
func FuzzCheck(f *testing.F) {
	for _, s := range []string{"", "na1", "a\x00b", "\xff\xfe", strings.Repeat("A", 300), "%00", "../../etc/passwd",
		"<script>alert(1)</script>", "' OR 1=1 --", "{{.}}", "\u202e", "\r\n"} {
		f.Add(s, 0)
	}
	f.Fuzz(func(t *testing.T, v string, k int) {
		kind := Kind(k % (int(Time) + 2))
		if Check(kind, v) != "" {
			return
		}
		if strings.IndexByte(v, 0) >= 0 || !utf8.ValidString(v) {
			t.Fatalf("kind %d accepted %q", kind, v)
		}
		_ = Clean(v, 16)
	})
}
