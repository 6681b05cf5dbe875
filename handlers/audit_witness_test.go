package handlers_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/keyport/keyport/db"
)

// The Integrity page shows the last `keyport audit verify --witness`, and
// that none ran before.
func TestIntegrityPageShowsTheLastWitnessCheck(t *testing.T) {
	a := newTestApp(t)
	addReviewer(t, a, "alice")
	b := a.browser()
	b.signInReviewer("alice")
	if p := b.get("/audit/integrity"); p.Doc.Find(`[data-testid="witness-none"]`).Length() != 1 {
		t.Fatalf("no witness check yet, but the page does not say so: %s", text(p))
	}
	q := db.New(a.Pool)
	for _, c := range []db.WitnessCheck{
		{Status: "agrees", WitnessEvents: 250, WitnessFirst: 1, WitnessLast: 250, DBHead: 250},
		{Status: "missing", WitnessEvents: 300, WitnessFirst: 1, WitnessLast: 300, DBHead: 250, Missing: 50, MissingIDs: "251–300"},
	} {
		c.CheckedAt, c.CheckedBy, c.Source, c.Chain = time.Now(), "command line, OS user ops", "file:///var/log/keyport/audit.jsonl", "verified 250 events"
		if err := q.InsertWitnessCheck(context.Background(), &c); err != nil {
			t.Fatal(err)
		}
	}
	p := b.get("/audit/integrity")
	check := p.Doc.Find(`[data-testid="witness-check"]`)
	if got, _ := check.Attr("data-status"); got != "missing" {
		t.Fatalf("witness check status %q, want the last one, missing: %s", got, text(p))
	}
	result := check.Find(`[data-testid="witness-result"]`).Text()
	for _, want := range []string{"50 events", "251–300"} {
		if !strings.Contains(result, want) {
			t.Errorf("witness result %q lacks %q", result, want)
		}
	}
	if !strings.Contains(check.Text(), "file:///var/log/keyport/audit.jsonl") {
		t.Errorf("the check does not name its witness: %q", check.Text())
	}
}
