package handlers_test

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/keyport/keyport/db"
	"github.com/keyport/keyport/internal/audit"
	"github.com/keyport/keyport/internal/kp"
)

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
			// events=1: every stored event, one by one (the grouped
			// view has its own test, TestGroupedListMatchesActionsByResult).
			p := b.get("/audit?events=1&" + tc.query.Encode())
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
	b.signInReviewer("alice")
	p := b.get("/audit?events=1") // every stored event; the grouped view: TestActionPagesWalkEveryActionOnce
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
	p2 := b.get("/audit?events=1&before=" + strconv.FormatInt(order[49], 10))
	newer, _ := p2.Doc.Find(`[data-testid="page-newer"]`).Attr("href")
	if got := rowIDs(b.get(newer)); len(got) != 50 || got[len(got)-1] != order[49] {
		t.Fatalf("newer page = %v", got)
	}
}
