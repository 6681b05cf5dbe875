package audit

import (
	"encoding/hex"
	"io"
	"strconv"
	"unicode/utf8"

	"github.com/keyport/keyport/internal/csvsafe"
	"github.com/keyport/keyport/internal/kp"
)

// The export encoders write each event straight into a reused buffer: an
// export of millions of events spends its time here, and encoding/json's
// reflection and encoding/csv's per-field strings cost about half the
// throughput COPY shows for the same rows (issue 14). The output is what
// encoding/json and encoding/csv write (exportfast_test.go compares them;
// the CSV with every cell neutralised by csvsafe.Neutralise first).

// row appends e's exported values to b through put, in exportColumns
// order. Strings go to str; numbers, times and hashes are appended in place
// by raw (no string per value); null is an absent upstream status or intent.
type rowWriter interface {
	str(b []byte, s string) []byte
	raw(b []byte, f func([]byte) []byte, text bool) []byte // text: a JSON string, not a number
	null(b []byte) []byte
	sep(b []byte, i int) []byte
}

func appendRow(b []byte, e *kp.AuditEvent, w rowWriter) []byte {
	i := 0
	next := func() { b = w.sep(b, i); i++ }
	strs := func(ss ...string) {
		for _, s := range ss {
			next()
			b = w.str(b, s)
		}
	}
	num := func(n int64) {
		next()
		b = w.raw(b, func(b []byte) []byte { return strconv.AppendInt(b, n, 10) }, false)
	}
	num(e.ID)
	next()
	b = w.raw(b, func(b []byte) []byte { return e.OccurredAt.UTC().AppendFormat(b, exportTime) }, true)
	strs(string(e.ActorKind), e.ActorUserID, e.ActorName, e.TenantID, e.TenantName, string(e.Region), e.SessionHash,
		e.ClientIP, e.UserAgent, string(e.Action), e.TargetKeyID, string(e.Outcome))
	if e.UpstreamStatus == nil {
		next()
		b = w.null(b)
	} else {
		num(int64(*e.UpstreamStatus))
	}
	strs(e.ErrorMessage, e.RequestID)
	if e.IntentID == nil {
		next()
		b = w.null(b)
	} else {
		num(*e.IntentID)
	}
	strs(e.Details)
	num(int64(e.HashVersion))
	for _, h := range [][]byte{e.PrevHash, e.Hash} {
		next()
		b = w.raw(b, func(b []byte) []byte { return hex.AppendEncode(b, h) }, true)
	}
	return b
}

// fastJSONL writes one JSON object per line, keys in exportColumns order.
type fastJSONL struct {
	w   io.Writer
	buf []byte
}

type jsonRow struct{}

func (jsonRow) sep(b []byte, i int) []byte {
	if i > 0 {
		b = append(b, ',')
	}
	b = append(b, '"')
	b = append(b, exportColumns[i]...)
	return append(b, '"', ':')
}
func (jsonRow) str(b []byte, s string) []byte { return appendJSONString(b, s) }
func (jsonRow) null(b []byte) []byte          { return append(b, "null"...) }

// raw quotes times and hashes (their text needs no escaping), not numbers.
func (jsonRow) raw(b []byte, f func([]byte) []byte, text bool) []byte {
	if !text {
		return f(b)
	}
	b = append(b, '"')
	b = f(b)
	return append(b, '"')
}

func (j *fastJSONL) Encode(e *kp.AuditEvent) error {
	b := append(j.buf[:0], '{')
	b = appendRow(b, e, jsonRow{})
	b = append(b, '}', '\n')
	j.buf = b
	_, err := j.w.Write(b)
	return err
}

func (*fastJSONL) Close() error { return nil }

// AppendJSONLRaw appends one JSON line for an event read as raw text
// (db.ScanAuditRaw: the export's columns in order, nil for null), the same
// bytes NewJSONLEncoder writes for it: numbers as they are, times and hex
// quoted as they are, strings escaped, nothing decoded.
func AppendJSONLRaw(b []byte, vals [][]byte) []byte {
	b = append(b, '{')
	for i, v := range vals {
		b = jsonRow{}.sep(b, i)
		switch {
		case v == nil:
			b = append(b, "null"...)
		case rawNumber[i]:
			b = append(b, v...)
		case rawText[i]:
			b = append(b, '"')
			b = append(b, v...)
			b = append(b, '"')
		default:
			b = appendJSONString(b, v)
		}
	}
	return append(b, '}', '\n')
}

// rawNumber and rawText mark, by export column, the values written as they
// are: numbers bare, times and hashes (text needing no escaping) quoted.
var rawNumber, rawText = func() (n, t [22]bool) {
	for i, c := range exportColumns {
		switch c {
		case "id", "upstream_status", "intent_id", "hash_version":
			n[i] = true
		case "occurred_at", "prev_hash", "hash":
			t[i] = true
		}
	}
	return n, t
}()

// appendJSONString quotes s as encoding/json does with HTML escaping off:
// control characters, invalid UTF-8 (as U+FFFD) and U+2028/U+2029 escaped.
func appendJSONString[T string | []byte](b []byte, s T) []byte {
	const hexDigits = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := decodeRune(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// fastCSV writes RFC 4180 rows as encoding/csv does (LF line ends), every
// cell through internal/csvsafe, which makes formula lead-ins text.
type fastCSV struct {
	w   io.Writer
	buf []byte
}

type csvRow struct{}

func (csvRow) sep(b []byte, i int) []byte {
	if i > 0 {
		b = append(b, ',')
	}
	return b
}
func (csvRow) str(b []byte, s string) []byte { return csvsafe.AppendField(b, s) }
func (csvRow) null(b []byte) []byte          { return b }

// raw writes digits, times and hex: never quoted, and never a formula
// lead-in (ids and statuses are positive), but checked like any cell.
func (csvRow) raw(b []byte, f func([]byte) []byte, _ bool) []byte { return csvsafe.AppendRaw(b, f) }

func newFastCSV(w io.Writer) *fastCSV {
	c := &fastCSV{w: w}
	for i, col := range exportColumns {
		c.buf = csvRow{}.sep(c.buf, i)
		c.buf = append(c.buf, col...)
	}
	c.buf = append(c.buf, '\n')
	return c
}

func (c *fastCSV) Encode(e *kp.AuditEvent) error {
	b := appendRow(c.buf, e, csvRow{})
	b = append(b, '\n')
	_, err := c.w.Write(b)
	c.buf = b[:0]
	return err
}

func (c *fastCSV) Close() error {
	if len(c.buf) > 0 { // the header, when no event came
		_, err := c.w.Write(c.buf)
		c.buf = c.buf[:0]
		return err
	}
	return nil
}

func decodeRune[T string | []byte](s T) (rune, int) {
	switch s := any(s).(type) {
	case string:
		return utf8.DecodeRuneInString(s)
	case []byte:
		return utf8.DecodeRune(s)
	}
	return utf8.RuneError, 1
}
