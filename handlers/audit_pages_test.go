package handlers_test

import (
	"context"
	"encoding/hex"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/keyport/keyport/internal/kp"
)

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
	checkEventDetail(t, b, outcome)
	checkKeyHistory(t, b, all, outcome)
	verifyNowUntilVerified(t, a, b)
	checkActivity(t, a, b)
}

// checkEventDetail opens an outcome's page: its chain link verifies, it
// shows both hashes and every field, and it links to its intent and back.
func checkEventDetail(t *testing.T, b *browser, outcome *kp.AuditEvent) {
	t.Helper()
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
}

// checkKeyHistory filters the list to the outcome's key and opens the key's
// history from it: every event about the key, and only those.
func checkKeyHistory(t *testing.T, b *browser, all []kp.AuditEvent, outcome *kp.AuditEvent) {
	t.Helper()
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
}

// verifyNowUntilVerified starts a verification from the integrity panel and
// polls its progress fragment, as htmx would, until it ends "verified".
func verifyNowUntilVerified(t *testing.T, a *testApp, b *browser) {
	t.Helper()
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
}

// checkActivity compares the activity page with the trail: its counts, the
// links from them to the filtered list, the chart; and unknown outcomes
// stand out in the list.
func checkActivity(t *testing.T, a *testApp, b *browser) {
	t.Helper()
	// The page counts from 00:00 UTC 29 days ago, while the seed
	// spreads events over the 30×24 h before now: count what the page counts,
	// fetching again if midnight passed during the fetch.
	var act *page
	var first time.Time
	for {
		day := time.Now().UTC().Truncate(24 * time.Hour)
		act = b.get("/audit/activity")
		if time.Now().UTC().Truncate(24 * time.Hour).Equal(day) {
			first = day.AddDate(0, 0, -(30 - 1)) // the chart's 30 days, checked below
			break
		}
	}
	var failures int
	for _, e := range allEvents(t, a) {
		if e.Outcome == "failure" && !e.OccurredAt.Before(first) {
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
