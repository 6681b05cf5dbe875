package handlers_test

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/keyport/keyport/internal/audit"
	"github.com/keyport/keyport/internal/kp"
)

func TestExportsParseBackToTheListRowsAndAreAudited(t *testing.T) {
	a := newTestApp(t)
	addReviewer(t, a, "alice")
	seedTrail(t, a, 1500)
	b := a.browser()
	b.signInReviewer("alice")
	query := url.Values{"tenant": {"33333333-3333-4333-8333-333333333333"}, "outcome": {"success"}}
	list := b.get("/audit?events=1&" + query.Encode()) // exports are per event, like this view
	listIDs := rowIDs(list)
	var want []kp.AuditEvent
	for _, e := range allEvents(t, a) {
		if e.TenantID == query.Get("tenant") && e.Outcome == "success" {
			want = append(want, e)
		}
	}
	if len(listIDs) != 50 || len(want) <= 50 {
		t.Fatalf("list %d rows, %d matching events", len(listIDs), len(want))
	}
	csvHref, _ := list.Doc.Find(`[data-testid="export-csv"]`).Attr("href")
	jsonHref, _ := list.Doc.Find(`[data-testid="export-jsonl"]`).Attr("href")
	fromCSV := exportedCSV(t, b, csvHref)
	fromJSON := exportedJSONL(t, b, jsonHref)
	if len(fromCSV) != len(want) || len(fromJSON) != len(want) {
		t.Fatalf("csv %d rows, jsonl %d, want %d", len(fromCSV), len(fromJSON), len(want))
	}
	for i, e := range want {
		if i < len(listIDs) && listIDs[i] != e.ID {
			t.Fatalf("list row %d is %d, export row is %d", i, listIDs[i], e.ID)
		}
		wantRow := storedRow(&e)
		if !slices.Equal(fromCSV[i], wantRow) {
			t.Fatalf("csv row %d:\n got %q\nwant %q", i, fromCSV[i], wantRow)
		}
		if !slices.Equal(fromJSON[i], wantRow) {
			t.Fatalf("jsonl row %d:\n got %q\nwant %q", i, fromJSON[i], wantRow)
		}
	}

	// The view and both exports are in the trail, with their filters.
	wantFilters := fmt.Sprint(map[string]string{"tenant": query.Get("tenant"), "outcome": "success"})
	viewed := fmt.Sprint(map[string]string{"tenant": query.Get("tenant"), "outcome": "success", "events": "1"})
	wantRecs := []viewRecord{{"audit.view", "html", fmt.Sprint(map[string]string(nil))}, {"audit.view", "html", viewed},
		{"audit.export", "csv", wantFilters}, {"audit.export", "jsonl", wantFilters}}
	if got := viewsAndExports(t, a); !slices.Equal(got, wantRecs) {
		t.Fatalf("view/export events:\n got %v\nwant %v", got, wantRecs)
	}
}

// exportedCSV downloads a CSV export and returns its rows after the header,
// which must name every column in order.
func exportedCSV(t *testing.T, b *browser, href string) [][]string {
	t.Helper()
	res := b.get(href)
	if res.Status != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/csv") ||
		!strings.Contains(res.Header.Get("Content-Disposition"), "attachment") {
		t.Fatalf("csv: %d %v", res.Status, res.Header)
	}
	recs, err := csv.NewReader(strings.NewReader(res.Body)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(recs[0], ",") != "id,occurred_at,actor_kind,actor_user_id,actor_name,tenant_id,tenant_name,region,session_hash,client_ip,user_agent,action,target_key_id,outcome,upstream_status,error_message,request_id,intent_id,details,hash_version,prev_hash,hash" {
		t.Fatalf("csv header %v", recs[0])
	}
	return recs[1:]
}

// exportedJSONL downloads a JSON lines export and returns each record's
// fields in the CSV's column order, "" for null.
func exportedJSONL(t *testing.T, b *browser, href string) [][]string {
	t.Helper()
	res := b.get(href)
	if res.Status != http.StatusOK {
		t.Fatalf("jsonl: %d", res.Status)
	}
	var rows [][]string
	sc := bufio.NewScanner(strings.NewReader(res.Body))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var j audit.ExportRecord
		if err := json.Unmarshal(sc.Bytes(), &j); err != nil {
			t.Fatalf("jsonl line %q: %v", sc.Text(), err)
		}
		rows = append(rows, []string{strconv.FormatInt(j.ID, 10), j.OccurredAt, j.ActorKind, j.ActorUserID, j.ActorName, j.TenantID,
			j.TenantName, j.Region, j.SessionHash, j.ClientIP, j.UserAgent, j.Action, j.TargetKeyID, j.Outcome,
			optInt32(j.UpstreamStatus), j.ErrorMessage, j.RequestID, optInt64(j.IntentID), j.Details,
			strconv.Itoa(int(j.HashVersion)), j.PrevHash, j.Hash})
	}
	return rows
}

// storedRow is what an export must hold for e: the stored values, unchanged.
func storedRow(e *kp.AuditEvent) []string {
	return []string{strconv.FormatInt(e.ID, 10), e.OccurredAt.UTC().Format("2006-01-02T15:04:05.000000Z07:00"), string(e.ActorKind), e.ActorUserID,
		e.ActorName, e.TenantID, e.TenantName, string(e.Region), e.SessionHash, e.ClientIP, e.UserAgent, string(e.Action), e.TargetKeyID,
		string(e.Outcome), optInt32(e.UpstreamStatus), e.ErrorMessage, e.RequestID, optInt64(e.IntentID), e.Details,
		strconv.Itoa(int(e.HashVersion)), hex.EncodeToString(e.PrevHash), hex.EncodeToString(e.Hash)}
}

// viewRecord is one audit.view or audit.export event as the test compares it.
type viewRecord struct{ action, format, filters string }

// viewsAndExports reads the trail's view and export events, oldest first.
func viewsAndExports(t *testing.T, a *testApp) []viewRecord {
	t.Helper()
	rows, err := a.Pool.Query(context.Background(), `SELECT action, coalesce(details->>'format', ''), coalesce((details->'filters')::text, '')
		FROM audit_events WHERE action IN ('audit.view', 'audit.export') ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	var got []viewRecord
	for rows.Next() {
		var r viewRecord
		var f string
		if err := rows.Scan(&r.action, &r.format, &f); err != nil {
			t.Fatal(err)
		}
		var m map[string]string
		_ = json.Unmarshal([]byte(f), &m)
		r.filters = fmt.Sprint(m)
		got = append(got, r)
	}
	return got
}

func optInt32(p *int32) string {
	if p == nil {
		return ""
	}
	return strconv.Itoa(int(*p))
}

func optInt64(p *int64) string {
	if p == nil {
		return ""
	}
	return strconv.FormatInt(*p, 10)
}
