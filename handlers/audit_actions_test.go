package handlers_test

import (
	"context"
	"encoding/hex"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/keyport/keyport/internal/audit"
	"github.com/keyport/keyport/internal/kp"
)

// heads is the reference for the grouped list: each action's latest event
// (an outcome no later outcome of its intent follows, a single event, or an
// intent no outcome points at), newest first.
func heads(all []kp.AuditEvent) []kp.AuditEvent {
	latest := map[int64]int64{} // action (intent or single event) → its latest event
	for _, e := range all {
		action := e.ID
		if e.IntentID != nil {
			action = *e.IntentID
		}
		latest[action] = max(latest[action], e.ID)
	}
	var out []kp.AuditEvent
	for _, e := range all { // all is newest first
		action := e.ID
		if e.IntentID != nil {
			action = *e.IntentID
		}
		if latest[action] == e.ID {
			out = append(out, e)
		}
	}
	return out
}

func rowsAttr(p *page, sel, attr string) []string {
	var out []string
	p.Doc.Find(sel).Each(func(_ int, s *goquerySelection) {
		v, _ := s.Attr(attr)
		out = append(out, v)
	})
	return out
}

// The default trail shows one row per action: an intent and its outcome are
// one row whose data-outcome is the result, an intent with no outcome yet
// stands out in words, reads are left out, and every filter matches an
// action by its latest event (outcome=failure: actions that failed).
func TestGroupedListMatchesActionsByResult(t *testing.T) {
	a := newTestApp(t)
	addReviewer(t, a, "alice")
	seedTrail(t, a, 3000)
	ctx := context.Background()
	open, err := a.App.Audit.Intent(ctx, audit.Event{Actor: audit.Actor{Kind: kp.ActorAdmin, UserID: "u-open", Name: "Olive Open"},
		Scope: audit.Scope{TenantID: "t-open", Region: "na1"}, Action: kp.KeyDeactivate, TargetKeyID: "KEY-OPEN"})
	if err != nil {
		t.Fatal(err)
	}
	b := a.browser()
	b.signInReviewer("alice")
	tenant := "22222222-2222-4222-8222-222222222222"
	sample := heads(allEvents(t, a))[300]
	for _, tc := range []struct {
		name  string
		query url.Values
		f     kp.AuditFilter
		reads bool
	}{
		{"no filter: reads hidden", url.Values{}, kp.AuditFilter{}, false},
		{"reads=1 shows them", url.Values{"reads": {"1"}}, kp.AuditFilter{}, true},
		{"outcome failure: actions that failed", url.Values{"outcome": {"failure"}}, kp.AuditFilter{Outcome: "failure"}, false},
		{"outcome intent: actions with no outcome yet", url.Values{"outcome": {"intent"}}, kp.AuditFilter{Outcome: "intent"}, false},
		{"an action filter naming a read shows it", url.Values{"action": {"key.list"}}, kp.AuditFilter{Action: "key.list"}, true},
		{"tenant and outcome", url.Values{"tenant": {tenant}, "outcome": {"denied"}}, kp.AuditFilter{TenantID: tenant, Outcome: "denied"}, false},
		{"key", url.Values{"key": {sample.TargetKeyID}, "reads": {"1"}}, kp.AuditFilter{KeyID: sample.TargetKeyID}, true},
		{"text", url.Values{"q": {"(409)"}}, kp.AuditFilter{Text: "(409)"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := b.get("/audit?" + tc.query.Encode())
			if p.Status != http.StatusOK {
				t.Fatalf("status %d: %s", p.Status, text(p))
			}
			var want, wantOutcomes []string
			for _, e := range heads(allEvents(t, a)) {
				if matches(tc.f, &e) && (tc.reads || !audit.IsRead(e.Action)) && len(want) < 50 {
					want = append(want, strconv.FormatInt(e.ID, 10))
					o := string(e.Outcome)
					if o == "intent" {
						o = "pending"
					}
					wantOutcomes = append(wantOutcomes, o)
				}
			}
			if len(want) == 0 {
				t.Fatal("bad case: nothing matches")
			}
			row := `[data-testid="audit-row"]`
			if got := rowsAttr(p, row, "data-event-id"); !slices.Equal(got, want) {
				t.Fatalf("rows %v\nwant %v", got, want)
			}
			if got := rowsAttr(p, row, "data-outcome"); !slices.Equal(got, wantOutcomes) {
				t.Fatalf("outcomes %v\nwant %v", got, wantOutcomes)
			}
			if !tc.reads && p.Doc.Find(`[data-action="key.list"], [data-action="audit.view"], [data-action="audit.export"], [data-action="key.lookup"]`).Length() != 0 {
				t.Fatal("reads shown in the default view")
			}
		})
	}

	checkActionDetail(t, a, b, sample.TargetKeyID)

	// The open intent stands out in words, not colour alone.
	pending := b.get("/audit?outcome=intent").Doc.Find(`[data-testid="audit-row"][data-outcome="pending"]`)
	if id, _ := pending.Attr("data-event-id"); id != strconv.FormatInt(int64(open), 10) ||
		!strings.Contains(pending.Find(`[data-testid="outcome-conspicuous"]`).Text(), "NO OUTCOME YET") {
		t.Fatalf("pending row %q: %q", id, pending.Text())
	}
	if p := b.get("/audit?reads=yes"); p.Status != http.StatusUnprocessableEntity || p.Doc.Find(`[data-testid="filter-error"]`).Length() != 1 {
		t.Fatalf("reads=yes: %d", p.Status)
	}
}

// checkActionDetail: an intent and its outcome are one row, linked to the
// outcome's page, which shows both events with their ids and hashes.
func checkActionDetail(t *testing.T, a *testApp, b *browser, keyID string) {
	t.Helper()
	p := b.get("/audit?" + url.Values{"key": {keyID}, "reads": {"1"}}.Encode())
	r := p.Doc.Find(`[data-testid="audit-row"]:not([data-intent-id=""])`).First()
	outID, _ := r.Attr("data-event-id")
	inID, _ := r.Attr("data-intent-id")
	href, _ := r.Find(`[data-testid="audit-row-link"]`).Attr("href")
	if href != "/audit/"+outID || inID == "" || inID == outID {
		t.Fatalf("row %s (intent %s) links to %q", outID, inID, href)
	}
	d := b.get(href)
	for _, id := range []string{inID, outID} {
		n, _ := strconv.ParseInt(id, 10, 64)
		e := eventByID(t, a, n)
		ev := d.Doc.Find(`[data-testid="action-event"][data-event-id="` + id + `"]`)
		if ev.Length() != 1 || !strings.Contains(ev.Text(), hex.EncodeToString(e.Hash)) {
			t.Fatalf("the detail page lacks event %s with its hash: %s", id, text(d))
		}
	}

}

func eventByID(t *testing.T, a *testApp, id int64) kp.AuditEvent {
	t.Helper()
	for _, e := range allEvents(t, a) {
		if e.ID == id {
			return e
		}
	}
	t.Fatalf("no event %d", id)
	return kp.AuditEvent{}
}

// The toggles: reads are one link away and back, and every stored event is
// one link away, keeping the filters; exports stay per event.
func TestListTogglesKeepFilters(t *testing.T) {
	a := newTestApp(t)
	addReviewer(t, a, "alice")
	seedTrail(t, a, 400)
	b := a.browser()
	b.signInReviewer("alice")
	p := b.get("/audit?area=eu1")
	show, _ := p.Doc.Find(`[data-testid="show-reads"]`).Attr("href")
	every, _ := p.Doc.Find(`[data-testid="show-events"]`).Attr("href")
	csv, _ := p.Doc.Find(`[data-testid="export-csv"]`).Attr("href")
	if show != "/audit?area=eu1&reads=1" || every != "/audit?area=eu1&events=1" || csv != "/audit/export.csv?area=eu1" {
		t.Fatalf("toggles %q %q, export %q", show, every, csv)
	}
	withReads := b.get(show)
	if withReads.Doc.Find(`[data-testid="audit-row"][data-action="key.list"]`).Length() == 0 {
		t.Fatal("reads=1 shows no key.list")
	}
	if hide, _ := withReads.Doc.Find(`[data-testid="hide-reads"]`).Attr("href"); hide != "/audit?area=eu1" {
		t.Fatalf("hide link %q", hide)
	}
	if older, _ := withReads.Doc.Find(`[data-testid="page-older"]`).Attr("href"); !strings.Contains(older, "reads=1") {
		t.Fatalf("the older page drops reads=1: %q", older)
	}
	events := b.get(every)
	if events.Doc.Find(`[data-testid="audit-row"][data-outcome="intent"]`).Length() == 0 {
		t.Fatal("every stored event lists no intent rows")
	}
	if back, _ := events.Doc.Find(`[data-testid="show-actions"]`).Attr("href"); back != "/audit?area=eu1" {
		t.Fatalf("back to actions %q", back)
	}
	if v, ok := events.Doc.Find(`[data-testid="filter-form"] input[name="events"]`).Attr("value"); !ok || v != "1" {
		t.Fatal("the filter form drops events=1")
	}
}

// One row per action on the reviewers' list: walking every page shows each
// action once, while new actions arrive between pages.
func TestActionPagesWalkEveryActionOnce(t *testing.T) {
	a := newTestApp(t)
	addReviewer(t, a, "alice")
	seedTrail(t, a, 420)
	b := a.browser()
	b.signInReviewer("alice")
	want := 0
	for _, e := range heads(allEvents(t, a)) {
		if !audit.IsRead(e.Action) {
			want++
		}
	}
	p := b.get("/audit")
	seen := map[string]bool{}
	for pages := 0; ; pages++ {
		if pages > 20 {
			t.Fatal("more pages than actions")
		}
		for _, id := range rowsAttr(p, `[data-testid="audit-row"]`, "data-event-id") {
			if seen[id] {
				t.Fatalf("action %s shown twice", id)
			}
			seen[id] = true
		}
		ctx := context.Background()
		_ = a.App.Audit.Do(ctx, audit.Event{Actor: audit.Actor{Kind: kp.ActorSystem}, Action: kp.KeyReconcile},
			func(context.Context) (audit.Result, error) { return audit.Result{}, nil })
		older, ok := p.Doc.Find(`[data-testid="page-older"]`).Attr("href")
		if !ok {
			break
		}
		p = b.get(older)
	}
	if len(seen) != want {
		t.Fatalf("%d actions seen, want %d", len(seen), want)
	}
}
