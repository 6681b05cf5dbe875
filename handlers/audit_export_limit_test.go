package handlers_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

// ASVS 2.4.1: each reviewer's exports are limited, whichever export and
// whatever the session; a refused one is a clear 429 and a denied
// audit.export; another reviewer is not held up.
func TestExportsAreLimitedPerReviewer(t *testing.T) {
	// 2 a minute: a burst of 1, then one every 30 s, far longer than the test.
	a := newTestApp(t, func(s *testSetup) { s.Options.ExportRateLimit = 2 })
	addReviewer(t, a, "alice")
	addReviewer(t, a, "bob")
	alice, again, bob := a.browser(), a.browser(), a.browser()
	alice.signInReviewer("alice")
	again.signInReviewer("alice")
	bob.signInReviewer("bob")
	if p := alice.get("/audit/export.csv"); p.Status != http.StatusOK {
		t.Fatalf("the first export: status %d: %s", p.Status, text(p))
	}
	for _, tc := range []struct {
		b    *browser
		path string
	}{{alice, "/audit/export.jsonl"}, {again, "/audit/credentials.csv"}, {again, "/audit/export.csv"}} {
		p := tc.b.get(tc.path)
		if p.Status != http.StatusTooManyRequests || !strings.Contains(text(p), "Too many exports") ||
			p.Header.Get("Content-Disposition") != "" {
			t.Errorf("%s over the limit: status %d, disposition %q: %s", tc.path, p.Status, p.Header.Get("Content-Disposition"), text(p))
		}
	}
	if p := bob.get("/audit/export.jsonl"); p.Status != http.StatusOK {
		t.Errorf("another reviewer's export: status %d", p.Status)
	}
	if p := alice.get("/audit"); p.Status != http.StatusOK {
		t.Errorf("the trail's page while exports are limited: status %d", p.Status)
	}
	rows, err := a.Pool.Query(context.Background(), `SELECT actor_user_id || ' ' || outcome || ' ' || (details->>'format') || ' ' || coalesce(error_message, '')
		FROM audit_events WHERE action = 'audit.export' ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	got, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"alice success csv ", "alice denied jsonl rate limited: too many exports", "alice denied csv rate limited: too many exports",
		"alice denied csv rate limited: too many exports", "bob success jsonl "}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("export events:\n got %q\nwant %q", got, want)
	}
}
