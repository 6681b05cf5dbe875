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
	"time"

	"github.com/keyport/keyport/internal/kp"

	"github.com/keyport/keyport/db"
	"github.com/keyport/keyport/internal/audit"
	"github.com/keyport/keyport/internal/reviewer"
	"github.com/keyport/keyport/internal/secret"
)

const reviewerPassword = "correct horse battery staple"

// reviewers manages accounts directly, as `keyport auditor` does, with cheap
// argon2 parameters (each hash encodes its own parameters).
func reviewers(a *testApp) *reviewer.Service {
	return reviewer.New(a.Pool, a.App.Audit, nil, reviewer.Options{Params: reviewer.Params{Memory: 64, Time: 1, Threads: 1}})
}

func addReviewer(t *testing.T, a *testApp, name string) {
	t.Helper()
	if _, err := reviewers(a).Add(context.Background(), audit.Actor{Kind: kp.ActorSystem, UserID: "test"}, name, secret.New(reviewerPassword), false); err != nil {
		t.Fatal(err)
	}
}

// signInReviewer signs b in and returns the first /audit page.
func (b *browser) signInReviewer(name string) *page {
	b.t.Helper()
	p := b.post("/auditor/login", url.Values{"username": {name}, "password": {reviewerPassword}})
	if p.Status != http.StatusSeeOther || p.Location != "/audit" {
		b.t.Fatalf("sign-in: status %d location %q: %s", p.Status, p.Location, text(p))
	}
	return b.follow(p)
}

func TestReviewerSignInAnswersEveryFailureAlike(t *testing.T) {
	a := newTestApp(t)
	addReviewer(t, a, "alice")
	addReviewer(t, a, "dora")
	if err := reviewers(a).SetDisabled(context.Background(), audit.Actor{Kind: kp.ActorSystem}, "dora", true); err != nil {
		t.Fatal(err)
	}
	b := a.browser()
	form := b.get("/auditor/login")
	if form.Doc.Find(`[data-testid="login-form"]`).Length() != 1 {
		t.Fatalf("no login form: %s", text(form))
	}
	var messages []string
	for _, tc := range []struct{ name, user, pw string }{
		{"wrong password", "alice", "not the password at all"},
		{"unknown user", "mallory", reviewerPassword},
		{"disabled account", "dora", reviewerPassword},
	} {
		p := b.post("/auditor/login", url.Values{"username": {tc.user}, "password": {tc.pw}, "totp": {"123456"}})
		msg := strings.TrimSpace(p.Doc.Find(`[data-testid="login-error"]`).Text())
		if p.Status != http.StatusUnauthorized || msg == "" {
			t.Fatalf("%s: status %d, message %q", tc.name, p.Status, msg)
		}
		if v, _ := p.Doc.Find(`[data-testid="login-username"]`).Attr("value"); v != tc.user {
			t.Errorf("%s: username not kept: %q", tc.name, v)
		}
		if strings.Contains(p.Body, tc.pw) {
			t.Errorf("%s: the password was echoed", tc.name)
		}
		messages = append(messages, msg)
	}
	for _, m := range messages[1:] {
		if m != messages[0] {
			t.Fatalf("messages differ: %q", messages)
		}
	}
	first := b.signInReviewer("Alice")
	if got := first.Doc.Find(`[data-testid="identity"]`).Text(); !strings.Contains(got, "reviewer alice") {
		t.Fatalf("identity %q", got)
	}
	// Sign out kills the session: the old cookie no longer opens /audit.
	cookies := b.http.Jar.Cookies(mustURL(t, a.URL))
	out := b.post("/auditor/logout", nil)
	if out.Status != http.StatusSeeOther || out.Location != "/reviewer/login" {
		t.Fatalf("logout: %d %q", out.Status, out.Location)
	}
	replay := a.browser()
	replay.http.Jar.SetCookies(mustURL(t, a.URL), cookies)
	if p := replay.get("/audit"); p.Status != http.StatusSeeOther || p.Location != "/reviewer/login" {
		t.Fatalf("replayed cookie after logout: %d %q", p.Status, p.Location)
	}
	var logins, logouts int
	_ = a.Pool.QueryRow(context.Background(), `SELECT count(*) FILTER (WHERE action = 'auditor.login'), count(*) FILTER (WHERE action = 'auditor.logout') FROM audit_events`).Scan(&logins, &logouts)
	if logins != 4 || logouts != 1 {
		t.Fatalf("login events %d, logout events %d; want 4 and 1", logins, logouts)
	}
}

func mustURL(t *testing.T, s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestReviewerLockOutEngagesAndLifts(t *testing.T) {
	a := newTestApp(t)
	addReviewer(t, a, "alice")
	b := a.browser()
	for i := 1; i <= 4; i++ {
		if p := b.post("/auditor/login", url.Values{"username": {"alice"}, "password": {"wrong password " + strconv.Itoa(i)}}); p.Status != http.StatusUnauthorized {
			t.Fatalf("failure %d: status %d", i, p.Status)
		}
	}
	p := b.post("/auditor/login", url.Values{"username": {"alice"}, "password": {"wrong password 5"}})
	if p.Status != http.StatusTooManyRequests {
		t.Fatalf("fifth failure: status %d, want 429: %s", p.Status, text(p))
	}
	if p := b.post("/auditor/login", url.Values{"username": {"alice"}, "password": {reviewerPassword}}); p.Status != http.StatusTooManyRequests {
		t.Fatalf("right password while locked: status %d, want 429", p.Status)
	}
	// The lock's time passes (the service's clock is tested in package
	// reviewer; here the stored deadline moves into the past).
	if _, err := a.Pool.Exec(context.Background(), `UPDATE reviewer_throttle SET locked_until = now() - interval '1 second', window_start = now() - interval '1 hour'`); err != nil {
		t.Fatal(err)
	}
	b.signInReviewer("alice")
}

func TestReviewerAndAdminSessionsAreSeparate(t *testing.T) {
	a := newTestApp(t)
	addReviewer(t, a, "alice")
	rev := a.browser()
	rev.signInReviewer("alice")
	for _, path := range []string{"/keys", "/keys/activity", "/keys/lookup"} {
		p := rev.get(path)
		if p.Status == http.StatusOK || p.Doc.Find(`[data-testid="key-row"], [data-testid="create-form"]`).Length() > 0 {
			t.Errorf("reviewer reached admin page %s: %d", path, p.Status)
		}
	}
	ten, admin, _ := tenantUsers(t, a.Sim, "na1", 0)
	adm := a.browser()
	adm.connect("na1", ten.ID, admin.ID)
	if p := adm.get("/keys"); p.Status != http.StatusOK {
		t.Fatalf("admin keys page: %d", p.Status)
	}
	for _, path := range []string{"/audit", "/audit/1", "/audit/integrity", "/audit/activity", "/audit/export.csv", "/audit/keys/x"} {
		if p := adm.get(path); p.Status != http.StatusSeeOther || p.Location != "/reviewer/login" {
			t.Errorf("admin GET %s: %d %q, want 303 to /reviewer/login", path, p.Status, p.Location)
		}
	}
	if p := adm.post("/audit/integrity/verify", nil); p.Status != http.StatusSeeOther || p.Location != "/reviewer/login" {
		t.Errorf("admin POST verify: %d %q", p.Status, p.Location)
	}
}

// seedTrail fills the trail with n seeded events plus a few live ones.
func seedTrail(t *testing.T, a *testApp, n int) time.Time {
	t.Helper()
	now := time.Now()
	if _, err := audit.Seed(context.Background(), a.Pool, n, 11, now); err != nil {
		t.Fatal(err)
	}
	return now
}

// allEvents reads the whole trail, newest first.
func allEvents(t *testing.T, a *testApp) []kp.AuditEvent {
	t.Helper()
	var out []kp.AuditEvent
	err := db.New(a.Pool).ScanAuditChain(context.Background(), 0, 5000, func(e *kp.AuditEvent) error {
		c := *e
		out = append(out, c)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Reverse(out)
	return out
}

// matches is the reference implementation of the list's filter semantics.
func matches(f kp.AuditFilter, e *kp.AuditEvent) bool {
	return (f.From.IsZero() || !e.OccurredAt.Before(f.From)) &&
		(f.To.IsZero() || e.OccurredAt.Before(f.To)) &&
		(f.TenantID == "" || e.TenantID == f.TenantID) &&
		(f.Region == "" || e.Region == f.Region) &&
		(f.ActorUserID == "" || e.ActorUserID == f.ActorUserID) &&
		(f.Action == "" || e.Action == f.Action) &&
		(f.Outcome == "" || e.Outcome == f.Outcome) &&
		(f.KeyID == "" || e.TargetKeyID == f.KeyID) &&
		(f.RequestID == "" || e.RequestID == f.RequestID) &&
		(f.Text == "" || strings.Contains(strings.ToLower(e.ErrorMessage), strings.ToLower(f.Text)))
}

func rowIDs(p *page) []int64 {
	var ids []int64
	p.Doc.Find(`[data-testid="audit-row"]`).Each(func(_ int, s *goquerySelection) {
		v, _ := s.Attr("data-event-id")
		id, _ := strconv.ParseInt(v, 10, 64)
		ids = append(ids, id)
	})
	return ids
}

func TestEveryFilterNarrowsTheList(t *testing.T) {
	a := newTestApp(t)
	addReviewer(t, a, "alice")
	now := seedTrail(t, a, 3000)
	b := a.browser()
	b.signInReviewer("alice")
	sample := allEvents(t, a)[100] // an outcome or intent from the seed
	day := func(d int) string { return now.UTC().AddDate(0, 0, d).Format("2006-01-02T15:04") }
	from, _ := time.Parse("2006-01-02T15:04", day(-12))
	to, _ := time.Parse("2006-01-02T15:04", day(-10))
	tenant := "22222222-2222-4222-8222-222222222222"
	for _, tc := range []struct {
		name  string
		query url.Values
		f     kp.AuditFilter
	}{
		{"time range keeps events from its start up to its end", url.Values{"from": {day(-12)}, "to": {day(-10)}}, kp.AuditFilter{From: from, To: to}},
		{"tenant keeps that tenant's events", url.Values{"tenant": {tenant}}, kp.AuditFilter{TenantID: tenant}},
		{"area keeps that area's events", url.Values{"area": {"EU1"}}, kp.AuditFilter{Region: "eu1"}},
		{"actor keeps that user's events", url.Values{"actor": {sample.ActorUserID}}, kp.AuditFilter{ActorUserID: sample.ActorUserID}},
		{"action keeps that action", url.Values{"action": {"key.delete"}}, kp.AuditFilter{Action: "key.delete"}},
		{"outcome keeps that outcome", url.Values{"outcome": {"denied"}}, kp.AuditFilter{Outcome: "denied"}},
		{"key id keeps that key's events", url.Values{"key": {sample.TargetKeyID}}, kp.AuditFilter{KeyID: sample.TargetKeyID}},
		{"request id keeps that request's events", url.Values{"request": {sample.RequestID}}, kp.AuditFilter{RequestID: sample.RequestID}},
		{"text matches the error message, any case", url.Values{"q": {"REFUSED THE REQUEST (409"}}, kp.AuditFilter{Text: "refused the request (409"}},
		{"text with LIKE wildcards matches them literally", url.Values{"q": {"%_"}}, kp.AuditFilter{Text: "%_"}},
		{"filters combine", url.Values{"tenant": {tenant}, "outcome": {"failure"}, "from": {day(-20)}}, kp.AuditFilter{TenantID: tenant, Outcome: "failure", From: mustTime(day(-20))}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := b.get("/audit?" + tc.query.Encode())
			if p.Status != http.StatusOK {
				t.Fatalf("status %d: %s", p.Status, text(p))
			}
			got := rowIDs(p)
			var want []int64
			all := allEvents(t, a)
			total := 0
			for i := range all {
				if matches(tc.f, &all[i]) {
					total++
					if len(want) < 50 {
						want = append(want, all[i].ID)
					}
				}
			}
			if total == len(all) || (total == 0 && tc.f.Text != "%_") {
				t.Fatalf("bad case: %d of %d events match", total, len(all))
			}
			if !slices.Equal(got, want) {
				t.Fatalf("rows %v\nwant %v", got, want)
			}
			// The filter is kept in the form, the pager and the export links.
			for k, v := range tc.query {
				if href, _ := p.Doc.Find(`[data-testid="export-csv"]`).Attr("href"); !strings.Contains(href, url.Values{k: v}.Encode()) {
					t.Errorf("export link %q lacks %s=%s", href, k, v[0])
				}
			}
		})
	}
	if p := b.get("/audit?outcome=maybe"); p.Status != http.StatusUnprocessableEntity || p.Doc.Find(`[data-testid="filter-error"]`).Length() != 1 {
		t.Fatalf("unknown outcome: %d", p.Status)
	}
}

func mustTime(s string) time.Time {
	t, err := time.Parse("2006-01-02T15:04", s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestPagesHaveNoGapsOrRepeatsWhileEventsArrive(t *testing.T) {
	a := newTestApp(t)
	addReviewer(t, a, "alice")
	seedTrail(t, a, 420)
	b := a.browser()
	p := b.signInReviewer("alice")
	seen := map[int64]bool{}
	var order []int64
	for pages := 0; ; pages++ {
		if pages > 20 {
			t.Fatal("more pages than events")
		}
		for _, id := range rowIDs(p) {
			if seen[id] {
				t.Fatalf("event %d shown twice", id)
			}
			seen[id] = true
			order = append(order, id)
		}
		// New events arrive between pages (each page view adds one too).
		for i := 0; i < 7; i++ {
			if err := a.App.Audit.Record(context.Background(), audit.Event{Actor: audit.Actor{Kind: kp.ActorSystem}, Action: kp.KeyList},
				audit.Result{Outcome: kp.OutcomeSuccess}); err != nil {
				t.Fatal(err)
			}
		}
		older, ok := p.Doc.Find(`[data-testid="page-older"]`).Attr("href")
		if !ok {
			break
		}
		p = b.get(older)
	}
	for i, id := range order {
		if want := order[0] - int64(i); id != want {
			t.Fatalf("position %d: event %d, want %d (a gap)", i, id, want)
		}
	}
	if order[len(order)-1] != 1 {
		t.Fatalf("the last page ends at %d, not the first event", order[len(order)-1])
	}
	// And back: the newer link from page 2 shows page 1's events again.
	p2 := b.get("/audit?before=" + strconv.FormatInt(order[49], 10))
	newer, _ := p2.Doc.Find(`[data-testid="page-newer"]`).Attr("href")
	if got := rowIDs(b.get(newer)); len(got) != 50 || got[len(got)-1] != order[49] {
		t.Fatalf("newer page = %v", got)
	}
}

func TestExportsParseBackToTheListRowsAndAreAudited(t *testing.T) {
	a := newTestApp(t)
	addReviewer(t, a, "alice")
	seedTrail(t, a, 1500)
	b := a.browser()
	b.signInReviewer("alice")
	query := url.Values{"tenant": {"33333333-3333-4333-8333-333333333333"}, "outcome": {"success"}}
	list := b.get("/audit?" + query.Encode())
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

	res := b.get(csvHref)
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
	fromCSV := recs[1:]

	res = b.get(jsonHref)
	if res.Status != http.StatusOK {
		t.Fatalf("jsonl: %d", res.Status)
	}
	var fromJSON []audit.ExportRecord
	sc := bufio.NewScanner(strings.NewReader(res.Body))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var x audit.ExportRecord
		if err := json.Unmarshal(sc.Bytes(), &x); err != nil {
			t.Fatalf("jsonl line %q: %v", sc.Text(), err)
		}
		fromJSON = append(fromJSON, x)
	}
	if len(fromCSV) != len(want) || len(fromJSON) != len(want) {
		t.Fatalf("csv %d rows, jsonl %d, want %d", len(fromCSV), len(fromJSON), len(want))
	}
	for i, e := range want {
		if i < len(listIDs) && listIDs[i] != e.ID {
			t.Fatalf("list row %d is %d, export row is %d", i, listIDs[i], e.ID)
		}
		wantRow := []string{strconv.FormatInt(e.ID, 10), e.OccurredAt.UTC().Format("2006-01-02T15:04:05.000000Z07:00"), string(e.ActorKind), e.ActorUserID,
			e.ActorName, e.TenantID, e.TenantName, string(e.Region), e.SessionHash, e.ClientIP, e.UserAgent, string(e.Action), e.TargetKeyID,
			string(e.Outcome), optInt32(e.UpstreamStatus), e.ErrorMessage, e.RequestID, optInt64(e.IntentID), e.Details,
			strconv.Itoa(int(e.HashVersion)), hex.EncodeToString(e.PrevHash), hex.EncodeToString(e.Hash)}
		if !slices.Equal(fromCSV[i], wantRow) {
			t.Fatalf("csv row %d:\n got %q\nwant %q", i, fromCSV[i], wantRow)
		}
		j := fromJSON[i]
		jsonRow := []string{strconv.FormatInt(j.ID, 10), j.OccurredAt, j.ActorKind, j.ActorUserID, j.ActorName, j.TenantID,
			j.TenantName, j.Region, j.SessionHash, j.ClientIP, j.UserAgent, j.Action, j.TargetKeyID, j.Outcome,
			optInt32(j.UpstreamStatus), j.ErrorMessage, j.RequestID, optInt64(j.IntentID), j.Details,
			strconv.Itoa(int(j.HashVersion)), j.PrevHash, j.Hash}
		if !slices.Equal(jsonRow, wantRow) {
			t.Fatalf("jsonl row %d:\n got %q\nwant %q", i, jsonRow, wantRow)
		}
	}

	// The view and both exports are in the trail, with their filters.
	type rec struct{ action, format, filters string }
	rows, err := a.Pool.Query(context.Background(), `SELECT action, coalesce(details->>'format', ''), coalesce((details->'filters')::text, '')
		FROM audit_events WHERE action IN ('audit.view', 'audit.export') ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	var got []rec
	for rows.Next() {
		var r rec
		var f string
		if err := rows.Scan(&r.action, &r.format, &f); err != nil {
			t.Fatal(err)
		}
		var m map[string]string
		_ = json.Unmarshal([]byte(f), &m)
		r.filters = fmt.Sprint(m)
		got = append(got, r)
	}
	wantFilters := fmt.Sprint(map[string]string{"tenant": query.Get("tenant"), "outcome": "success"})
	wantRecs := []rec{{"audit.view", "html", fmt.Sprint(map[string]string(nil))}, {"audit.view", "html", wantFilters},
		{"audit.export", "csv", wantFilters}, {"audit.export", "jsonl", wantFilters}}
	if !slices.Equal(got, wantRecs) {
		t.Fatalf("view/export events:\n got %v\nwant %v", got, wantRecs)
	}
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

// A reviewer's journey over pages the browser test drives too: detail,
// key history, verify now until "verified", activity.
func TestReviewerDetailKeyHistoryVerifyAndActivity(t *testing.T) {
	a := newTestApp(t)
	addReviewer(t, a, "alice")
	seedTrail(t, a, 600)
	b := a.browser()
	b.signInReviewer("alice")
	all := allEvents(t, a)
	var outcome *kp.AuditEvent
	for i := range all {
		if all[i].IntentID != nil && all[i].TargetKeyID != "" {
			outcome = &all[i]
			break
		}
	}
	d := b.get("/audit/" + strconv.FormatInt(outcome.ID, 10))
	if d.Status != http.StatusOK {
		t.Fatalf("detail: %d %s", d.Status, text(d))
	}
	if s := d.Doc.Find(`[data-testid="event-link-status"]`).Text(); !strings.Contains(s, "Link verifies") {
		t.Fatalf("link status %q", s)
	}
	if h := strings.TrimSpace(d.Doc.Find(`[data-testid="event-hash"]`).Text()); h != hex.EncodeToString(outcome.Hash) {
		t.Fatalf("hash %q", h)
	}
	if !strings.HasPrefix(strings.TrimSpace(d.Doc.Find(`[data-testid="event-prev-hash"]`).Text()), hex.EncodeToString(outcome.PrevHash)) {
		t.Fatal("previous hash missing")
	}
	intentHref, _ := d.Doc.Find(`[data-testid="event-intent-link"]`).Attr("href")
	if intentHref != "/audit/"+strconv.FormatInt(*outcome.IntentID, 10) {
		t.Fatalf("intent link %q", intentHref)
	}
	in := b.get(intentHref)
	if href, _ := in.Doc.Find(`[data-testid="event-outcome-link"]`).Attr("href"); href != "/audit/"+strconv.FormatInt(outcome.ID, 10) {
		t.Fatalf("outcome link %q", href)
	}
	for _, f := range []string{"actor_user_id", "tenant_id", "region", "session_hash", "client_ip", "user_agent", "action", "target_key_id", "outcome", "request_id", "details"} {
		if d.Doc.Find(`[data-testid="event-field-`+f+`"]`).Length() != 1 {
			t.Errorf("detail lacks field %s", f)
		}
	}

	// Filter to the key, open its history.
	l := b.get("/audit?" + url.Values{"key": {outcome.TargetKeyID}}.Encode())
	hist, ok := l.Doc.Find(`[data-testid="key-history-link"]`).Attr("href")
	if !ok {
		t.Fatal("no key history link on the filtered list")
	}
	h := b.get(hist)
	var keyEvents int
	for _, e := range all {
		if e.TargetKeyID == outcome.TargetKeyID {
			keyEvents++
		}
	}
	if n := h.Doc.Find(`[data-testid="audit-row"]`).Length(); n != keyEvents || keyEvents < 2 {
		t.Fatalf("history rows %d, want %d", n, keyEvents)
	}
	if got := strings.TrimSpace(h.Doc.Find(`[data-testid="key-history-id"]`).Text()); got != outcome.TargetKeyID {
		t.Fatalf("history of %q", got)
	}

	// Verify now, then poll the fragment as htmx would until it is done.
	if p := b.get("/audit/integrity"); p.Doc.Find(`[data-testid="verify-now"]`).Length() != 1 {
		t.Fatalf("no verify button: %s", text(p))
	}
	panel := b.follow(b.post("/audit/integrity/verify", nil))
	poll, ok := panel.Doc.Find(`[data-testid="verify-progress"]`).Attr("hx-get")
	status, _ := panel.Doc.Find(`[data-testid="verify-progress"]`).Attr("data-status")
	deadline := time.Now().Add(30 * time.Second)
	for ok && status == "running" && time.Now().Before(deadline) {
		if trig, _ := panel.Doc.Find(`[data-testid="verify-progress"]`).Attr("hx-trigger"); trig != "every 1s" {
			t.Fatalf("hx-trigger %q", trig)
		}
		panel = b.get(poll)
		status, _ = panel.Doc.Find(`[data-testid="verify-progress"]`).Attr("data-status")
		time.Sleep(20 * time.Millisecond) // between polls, as a browser would
	}
	if got := strings.TrimSpace(panel.Doc.Find(`[data-testid="verify-result"]`).Text()); got != "verified" {
		t.Fatalf("verify result %q (status %q): %s", got, status, text(panel))
	}
	var verifies int
	_ = a.Pool.QueryRow(context.Background(), `SELECT count(*) FROM audit_events WHERE action = 'audit.verify' AND outcome = 'success'`).Scan(&verifies)
	if verifies != 1 {
		t.Fatalf("audit.verify success events: %d", verifies)
	}

	// Activity: counts match the trail and link to the filtered list.
	act := b.get("/audit/activity")
	var failures int
	for _, e := range allEvents(t, a) {
		if e.Outcome == "failure" {
			failures++
		}
	}
	if got := strings.TrimSpace(act.Doc.Find(`[data-testid="count-failures"]`).Text()); got != strconv.Itoa(failures) {
		t.Fatalf("failures count %q, want %d", got, failures)
	}
	href, _ := act.Doc.Find(`[data-testid="count-failures"]`).Attr("href")
	if fl := b.get(href); fl.Status != http.StatusOK || fl.Doc.Find(`[data-testid="audit-row"][data-outcome="failure"]`).Length() == 0 ||
		fl.Doc.Find(`[data-testid="audit-row"]:not([data-outcome="failure"])`).Length() != 0 {
		t.Fatalf("failures link %q shows other outcomes", href)
	}
	if act.Doc.Find(`svg[data-testid="activity-chart"] title`).Length() == 0 || act.Doc.Find(`[data-testid="activity-day"]`).Length() != 30 {
		t.Fatal("chart lacks its title or 30 days")
	}
	// Unknown and denied rows stand out.
	u := b.get("/audit?outcome=unknown")
	if u.Doc.Find(`[data-testid="audit-row"] [data-testid="outcome-conspicuous"]`).Length() != u.Doc.Find(`[data-testid="audit-row"]`).Length() {
		t.Fatal("unknown outcomes are not marked")
	}
}
