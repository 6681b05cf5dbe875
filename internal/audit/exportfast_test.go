package audit

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"io"
	"strconv"
	"strings"
	"testing"

	"github.com/keyport/keyport/internal/csvsafe"
	"github.com/keyport/keyport/internal/kp"
)

// The fast encoders write byte for byte what encoding/json and encoding/csv
// write for the same records, whatever the text holds; the CSV reference
// neutralises every cell with csvsafe.Neutralise before encoding/csv quotes
// it (the fast path must not skip a column).
func TestFastEncodersMatchTheStandardLibrary(t *testing.T) {
	evs := chainedEvents()
	odd := []string{"", " lead", "tab\there", "quote \" and , comma", "line\nbreak\r\n", `\.`, "<b>&amp;</b>",
		"bad \xff utf8", "sep \u2028 \u2029", "nul \x00 \x1f", "émoji 🔑", "\u00a0nbsp first",
		"=1+1", "+1", "-1", "@A1", "\tlead tab", "\rlead cr", "\x00lead nul", "'=quoted", "''@two", "'plain", "=\"a,b\"", " =space first"}
	for i, s := range odd {
		e := evs[i%len(evs)]
		e.ID = int64(10 + i)
		e.ActorUserID, e.ActorName, e.TenantID, e.TenantName, e.SessionHash, e.ClientIP = s, s, s, s, s, s
		e.UserAgent, e.TargetKeyID, e.ErrorMessage, e.RequestID, e.Details = s, s, s, s, s
		evs = append(evs, e)
	}
	negative := int32(-1) // no upstream status is negative, but a raw cell is checked like any other
	evs[len(evs)-1].UpstreamStatus = &negative
	var slowJ, fastJ, slowC, fastC bytes.Buffer
	sj := json.NewEncoder(&slowJ)
	sj.SetEscapeHTML(false)
	sc := csv.NewWriter(&slowC)
	sc.Write(exportColumns)
	fj, fc := &fastJSONL{w: &fastJ}, newFastCSV(&fastC)
	var row []string
	for i := range evs {
		x := exportRecord(&evs[i])
		if err := sj.Encode(&x); err != nil {
			t.Fatal(err)
		}
		row = neutralised(x.csvRow(row))
		sc.Write(row)
		if err := fj.Encode(&evs[i]); err != nil {
			t.Fatal(err)
		}
		if err := fc.Encode(&evs[i]); err != nil {
			t.Fatal(err)
		}
	}
	sc.Flush()
	fc.Close()
	for name, pair := range map[string][2]string{"jsonl": {slowJ.String(), fastJ.String()}, "csv": {slowC.String(), fastC.String()}} {
		slow, fast := strings.Split(pair[0], "\n"), strings.Split(pair[1], "\n")
		if len(slow) != len(fast) {
			t.Fatalf("%s: %d lines, want %d", name, len(fast), len(slow))
		}
		for i := range slow {
			if slow[i] != fast[i] {
				t.Errorf("%s line %d:\n fast %q\n want %q", name, i, fast[i], slow[i])
			}
		}
	}
	var empty bytes.Buffer
	ec := newFastCSV(&empty)
	ec.Close()
	if got := empty.String(); got != strings.Join(exportColumns, ",")+"\n" {
		t.Errorf("an empty CSV export is %q, want the header", got)
	}
}

func BenchmarkEncoders(b *testing.B) {
	evs := chainedEvents()
	for _, c := range []struct {
		name string
		enc  func(io.Writer) ExportEncoder
	}{{"csv-std", func(w io.Writer) ExportEncoder { return stdCSV(w) }}, {"csv-fast", func(w io.Writer) ExportEncoder { return newFastCSV(w) }},
		{"jsonl-std", func(w io.Writer) ExportEncoder { return stdJSONL(w) }}, {"jsonl-fast", func(w io.Writer) ExportEncoder { return &fastJSONL{w: w} }}} {
		b.Run(c.name, func(b *testing.B) {
			enc := c.enc(io.Discard)
			for b.Loop() {
				for i := range evs {
					enc.Encode(&evs[i])
				}
			}
		})
	}
}

func stdCSV(w io.Writer) ExportEncoder {
	cw := csv.NewWriter(w)
	return &csvEncoder{w: cw, row: make([]string, 0, len(exportColumns))}
}

func stdJSONL(w io.Writer) ExportEncoder {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return jsonlEncoder{enc}
}

var _ = kp.ActorAdmin

// The references the fast encoders match: what the export wrote before.

// csvRow appends x's fields to row[:0] in exportColumns order (row is
// reused, so a long export allocates no slice per event).
func (x *ExportRecord) csvRow(row []string) []string {
	opt32 := func(p *int32) string {
		if p == nil {
			return ""
		}
		return strconv.Itoa(int(*p))
	}
	opt64 := func(p *int64) string {
		if p == nil {
			return ""
		}
		return strconv.FormatInt(*p, 10)
	}
	return append(row[:0], strconv.FormatInt(x.ID, 10), x.OccurredAt, x.ActorKind, x.ActorUserID, x.ActorName,
		x.TenantID, x.TenantName, x.Region, x.SessionHash, x.ClientIP, x.UserAgent, x.Action, x.TargetKeyID,
		x.Outcome, opt32(x.UpstreamStatus), x.ErrorMessage, x.RequestID, opt64(x.IntentID), x.Details,
		strconv.Itoa(int(x.HashVersion)), x.PrevHash, x.Hash)
}

// neutralised applies the spreadsheet rule to every cell of row, in place.
func neutralised(row []string) []string {
	for i := range row {
		row[i] = csvsafe.Neutralise(row[i])
	}
	return row
}

type csvEncoder struct {
	w   *csv.Writer
	row []string
}

func (c *csvEncoder) Encode(e *kp.AuditEvent) error {
	x := exportRecord(e)
	c.row = neutralised(x.csvRow(c.row))
	return c.w.Write(c.row)
}

func (c *csvEncoder) Close() error {
	c.w.Flush()
	return c.w.Error()
}

type jsonlEncoder struct{ enc *json.Encoder }

func (j jsonlEncoder) Encode(e *kp.AuditEvent) error {
	x := exportRecord(e)
	return j.enc.Encode(&x)
}

func (jsonlEncoder) Close() error { return nil }
