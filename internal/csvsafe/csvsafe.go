// Package csvsafe is the one CSV encoder Keyport writes with: RFC 4180
// quoting exactly as encoding/csv does (LF line ends), and every cell a
// spreadsheet would read as a formula made text by a leading single quote
// (CSV and formula injection, OWASP ASVS 5.0 requirement 1.2.10).
//
// A cell is a formula lead-in when it begins with '=', '+', '-', '@', a tab,
// a carriage return or NUL, or with one or more single quotes followed by one
// of those. Every such cell, in every column, gets one more single quote in
// front, machine data included: a negative number or a CXone id beginning
// with '-' is prefixed too (OWASP's rule; a reader cannot tell a column
// "safe" from its name, and Keyport's own numbers are never negative). The
// quote-run part makes the prefix reversible: Restore gives back exactly
// the value that was written, so an audit export row still recomputes its
// hash (docs/auditing.md, "CSV and spreadsheets").
package csvsafe

import (
	"io"
	"unicode"
	"unicode/utf8"
)

// lead marks the bytes a spreadsheet starts a formula (or, for tab, CR and
// NUL, hides one) with.
var lead = [256]bool{'=': true, '+': true, '-': true, '@': true, '\t': true, '\r': true, 0: true}

// IsLead says whether c is a formula lead-in byte.
func IsLead(c byte) bool { return lead[c] }

// NeedsPrefix says whether s is written with a leading single quote: it
// begins with a lead-in, or with single quotes and then a lead-in.
func NeedsPrefix(s string) bool {
	i := 0
	for i < len(s) && s[i] == '\'' {
		i++
	}
	return i < len(s) && lead[s[i]]
}

// Neutralise is s as a cell holds it: with one more leading single quote
// when NeedsPrefix(s).
func Neutralise(s string) string {
	if NeedsPrefix(s) {
		return "'" + s
	}
	return s
}

// Restore undoes Neutralise, as a receiver of a Keyport CSV does before it
// uses a cell: a cell that begins with one or more single quotes followed
// by '=', '+', '-', '@', a tab, a carriage return or NUL loses its first
// single quote. Restore(Neutralise(s)) == s for every s.
func Restore(cell string) string {
	if len(cell) > 1 && cell[0] == '\'' && NeedsPrefix(cell[1:]) {
		return cell[1:]
	}
	return cell
}

// AppendField appends s to b as one CSV field: neutralised, then quoted
// when encoding/csv would quote it.
func AppendField(b []byte, s string) []byte {
	prefix := len(s) > 0 && (lead[s[0]] || s[0] == '\'') && NeedsPrefix(s)
	if !needsQuotes(s, prefix) {
		if prefix {
			b = append(b, '\'')
		}
		return append(b, s...)
	}
	b = append(b, '"')
	if prefix {
		b = append(b, '\'')
	}
	for i := 0; i < len(s); i++ {
		if s[i] == '"' {
			b = append(b, '"')
		}
		b = append(b, s[i])
	}
	return append(b, '"')
}

// needsQuotes is encoding/csv's fieldNeedsQuotes for s, or for "'"+s when
// prefixed (which starts with no space and is never `\.`).
func needsQuotes(s string, prefixed bool) bool {
	if s == "" {
		return false
	}
	if s == `\.` && !prefixed {
		return true
	}
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case ',', '"', '\r', '\n':
			return true
		}
	}
	if prefixed {
		return false
	}
	r, _ := utf8.DecodeRuneInString(s)
	return unicode.IsSpace(r)
}

// AppendRaw appends a value f writes in place (a number, a time, hex: text
// that never needs quotes) as one field, neutralised like any other: a
// negative number gets its single quote.
func AppendRaw(b []byte, f func([]byte) []byte) []byte {
	start := len(b)
	b = f(b)
	if len(b) > start && lead[b[start]] {
		b = append(b, 0)
		copy(b[start+1:], b[start:])
		b[start] = '\''
	}
	return b
}

// A Writer writes rows of fields to w through AppendField, one Write call
// on w per row (give it a bufio.Writer for small rows).
type Writer struct {
	w   io.Writer
	buf []byte
}

// NewWriter returns a Writer writing to w.
func NewWriter(w io.Writer) *Writer { return &Writer{w: w} }

// Write writes one row and its line end.
func (w *Writer) Write(row []string) error {
	b := w.buf[:0]
	for i, s := range row {
		if i > 0 {
			b = append(b, ',')
		}
		b = AppendField(b, s)
	}
	b = append(b, '\n')
	w.buf = b
	_, err := w.w.Write(b)
	return err
}
