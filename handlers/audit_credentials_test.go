package handlers_test

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"
)

// createdID creates a key through b and returns its id.
func (b *browser) createdID(label string) string {
	b.t.Helper()
	_, created := b.createKey(label)
	return strings.TrimSpace(created.Doc.Find(`[data-testid="key-id"]`).Text())
}

// The credential report (issue 15): two tenants in two areas, connected by
// their admins, with keys created, deactivated and deleted through Keyport
// and keys made directly in the simulator (its seeded keys). The reviewer's
// report lists every key with its state, owner and flags, marks the deleted
// one gone (it stays in the report), and the CSV parses back to the rows
// the page shows. Viewing and downloading are audited like other reads.
func TestCredentialReportCoversEveryTenantAndArea(t *testing.T) {
	a := newTestApp(t)
	tenA, adminA, _ := tenantUsers(t, a.Sim, "na1", 0)
	tenB, adminB, _ := tenantUsers(t, a.Sim, "eu1", 0)
	ba, bb := a.browser(), a.browser()
	ba.connect("na1", tenA.ID, adminA.ID)
	bb.connect("eu1", tenB.ID, adminB.ID)
	kept := ba.createdID("payroll export")
	gone := ba.createdID("old ETL")
	ba.follow(ba.post("/keys/"+gone+"/deactivate", nil))
	if p := ba.follow(ba.post("/keys/"+gone+"/delete", url.Values{"confirm": {confirmFor(gone)}})); p.Status != 200 {
		t.Fatalf("delete: %d", p.Status)
	}
	paused := bb.createdID("eu reporting")
	bb.follow(bb.post("/keys/"+paused+"/deactivate", nil))
	direct := createInSimulator(t, a, "eu1", tenB.ID, adminB.ID)
	ba.get("/keys")
	bb.get("/keys")

	addReviewer(t, a, "rita")
	r := a.browser()
	r.signInReviewer("rita")
	all := r.get("/audit/credentials?gone=all")
	if all.Status != 200 {
		t.Fatalf("report: %d: %s", all.Status, text(all))
	}
	rows := reportRows(all)
	want := map[string]string{
		kept:   "active | " + adminA.Email,
		gone:   "gone | " + adminA.Email,
		paused: "inactive | " + adminB.Email,
		direct: "active outside | " + adminB.Email,
	}
	for _, k := range append(tenA.Keys, tenB.Keys...) { // made directly in the simulator
		state := "inactive"
		if k.Active {
			state = "active"
		}
		want[k.ID] = state + " outside | "
	}
	for id, w := range want {
		got, ok := rows[id]
		if !ok {
			t.Errorf("the report lacks key %s (%s)", id, w)
			continue
		}
		if !strings.HasPrefix(got, w) && !(strings.HasSuffix(w, "| ") && strings.HasPrefix(got, strings.TrimSuffix(w, " | "))) {
			t.Errorf("key %s: the report shows %q, want %q", id, got, w)
		}
	}
	if len(rows) != len(want) {
		t.Errorf("the report has %d keys, want %d: %v", len(rows), len(want), rows)
	}
	present := r.get("/audit/credentials")
	if present.Doc.Find(`[data-testid="credential-row"][data-key-id="`+gone+`"]`).Length() != 0 {
		t.Error("the default report (present keys) lists the deleted key")
	}
	onlyB := r.get("/audit/credentials?area=eu1&gone=all")
	if n := onlyB.Doc.Find(`[data-testid="credential-row"]`).Length(); n != len(tenB.Keys)+2 {
		t.Errorf("filtered to eu1 the report has %d keys, want %d", n, len(tenB.Keys)+2)
	}
	outside := r.get("/audit/credentials?outside=1&gone=all")
	if n := outside.Doc.Find(`[data-testid="credential-row"]`).Length(); n != len(tenA.Keys)+len(tenB.Keys)+1 {
		t.Errorf("made outside Keyport: %d keys, want %d", n, len(tenA.Keys)+len(tenB.Keys)+1)
	}

	csvMatchesPage(t, r.get("/audit/credentials.csv?gone=all").Body, rows, kept)
	reportReadsAudited(t, a, 4, 1)
}

// reportRows reads the report page: key id → "state[ outside] | owner".
func reportRows(p *page) map[string]string {
	rows := map[string]string{}
	p.Doc.Find(`[data-testid="credential-row"]`).Each(func(_ int, s *goquerySelection) {
		id, _ := s.Attr("data-key-id")
		state, _ := s.Attr("data-state")
		if s.Find(`[data-testid="credential-outside"]`).Length() > 0 {
			state += " outside"
		}
		rows[id] = state + " | " + strings.TrimSpace(s.Find(`[data-testid="credential-owner"]`).Text())
	})
	return rows
}

// csvMatchesPage parses the report's CSV and compares it with the page.
func csvMatchesPage(t *testing.T, body string, rows map[string]string, kept string) {
	t.Helper()
	recs, err := csv.NewReader(strings.NewReader(body)).ReadAll()
	if err != nil || len(recs) < 2 {
		t.Fatalf("the CSV does not parse: %v (%d records)", err, len(recs))
	}
	col := map[string]int{}
	for i, h := range recs[0] {
		col[h] = i
	}
	var fromCSV, fromPage []string
	for _, rec := range recs[1:] {
		state := rec[col["state"]]
		if rec[col["gone_at"]] != "" {
			state = "gone"
		}
		if rec[col["created_outside_keyport"]] == "true" {
			state += " outside"
		}
		fromCSV = append(fromCSV, rec[col["access_key_id"]]+" "+state+" "+rec[col["owner_name"]])
	}
	for id, v := range rows {
		st, owner, _ := strings.Cut(v, " | ")
		if strings.Contains(owner, "name unknown") {
			owner = ""
		}
		fromPage = append(fromPage, id+" "+st+" "+owner)
	}
	sort.Strings(fromCSV)
	sort.Strings(fromPage)
	if strings.Join(fromCSV, "\n") != strings.Join(fromPage, "\n") {
		t.Errorf("the CSV and the page disagree:\ncsv:\n%s\npage:\n%s", strings.Join(fromCSV, "\n"), strings.Join(fromPage, "\n"))
	}
}

// reportReadsAudited checks the report's views and downloads were audited,
// and that the report holds no fingerprint.
func reportReadsAudited(t *testing.T, a *testApp, wantViews, wantExports int64) {
	t.Helper()
	var views, exports int64
	err := a.Pool.QueryRow(context.Background(), `SELECT count(*) FILTER (WHERE action = 'audit.view'), count(*) FILTER (WHERE action = 'audit.export')
		FROM audit_events WHERE details->'filters'->>'page' = 'credentials'`).Scan(&views, &exports)
	if err != nil || views != wantViews || exports != wantExports {
		t.Errorf("the report's reads were audited as %d views and %d exports (%v), want %d and %d", views, exports, err, wantViews, wantExports)
	}
	var leaks int64
	if err := a.Pool.QueryRow(context.Background(), `SELECT count(*) FROM credential_report r JOIN key_metadata m USING (region, tenant_id, access_key_id)
		WHERE r::text LIKE '%' || m.secret_fingerprint || '%'`).Scan(&leaks); err != nil || leaks != 0 {
		t.Errorf("the report holds a fingerprint (%d rows, %v)", leaks, err)
	}
}

// createInSimulator makes a key the way a script calling CXone would, not
// through Keyport: a bearer from the basic token, then the create call.
func createInSimulator(t *testing.T, a *testApp, region, tenantID, userID string) string {
	t.Helper()
	basic, err := a.Sim.BasicToken(region, tenantID, userID)
	if err != nil {
		t.Fatal(err)
	}
	call := func(path, bearer, body string) map[string]any {
		req, _ := http.NewRequest(http.MethodPost, a.SimURL+"/"+region+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json")
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var out map[string]any
		if err := json.NewDecoder(res.Body).Decode(&out); err != nil || res.StatusCode >= 300 {
			t.Fatalf("POST %s: %d %v", path, res.StatusCode, err)
		}
		return out
	}
	bearer, _ := call("/public/user/refresh", "", `{"token":"`+basic.Reveal()+`"}`)["token"].(string)
	k := call("/access-key-management/v1/access-keys", bearer, `{"userId":"`+userID+`","tenantId":"`+tenantID+`"}`)
	inner, _ := k["accessKey"].(map[string]any)
	id, _ := inner["accessKeyId"].(string)
	if id == "" {
		t.Fatalf("the simulator's create answered %v", k)
	}
	return id
}
