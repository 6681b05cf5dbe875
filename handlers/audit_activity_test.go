package handlers_test

import (
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// "Activity by day": each day of the chart is a link named in words
// ("2026-11-28: 12 actions, 1 failure"), the legend says which pattern is
// which, and a day's link lists as many actions as its name says.
func TestActivityChartDaysHaveAccessibleNames(t *testing.T) {
	a := newTestApp(t)
	addReviewer(t, a, "alice")
	seedTrail(t, a, 600)
	b := a.browser()
	b.signInReviewer("alice")
	p := b.get("/audit/activity")
	if p.Status != http.StatusOK || strings.TrimSpace(p.Doc.Find("h1").Text()) != "Activity by day" {
		t.Fatalf("status %d, heading %q", p.Status, p.Doc.Find("h1").Text())
	}
	if nav := p.Doc.Find(`header nav a[href="/audit/activity"]`).Text(); !strings.Contains(nav, "Activity by day") {
		t.Fatalf("nav link %q", nav)
	}
	name := regexp.MustCompile(`^(\d{4}-\d{2}-\d{2}): (\d+) actions?((, \d+ (failures?|denied|unknown outcomes?))*)$`)
	days := p.Doc.Find(`svg[data-testid="activity-chart"] a[data-testid="activity-day-link"]`)
	if days.Length() != 30 {
		t.Fatalf("%d day links, want 30", days.Length())
	}
	checked := false
	days.Each(func(i int, s *goquerySelection) {
		label, _ := s.Attr("aria-label")
		m := name.FindStringSubmatch(label)
		if m == nil {
			t.Fatalf("day link %d named %q", i, label)
		}
		if checked || i > 25 || m[2] == "0" {
			return
		}
		checked = true
		href, _ := s.Attr("href")
		l := b.get(href)
		rows := l.Doc.Find(`[data-testid="audit-row"]`)
		failures := l.Doc.Find(`[data-testid="audit-row"][data-outcome="failure"]`).Length()
		want := m[2] + " action"
		if got := strconv.Itoa(rows.Length()) + " action"; got != want {
			t.Fatalf("%s lists %d rows", label, rows.Length())
		}
		if failures > 0 && !strings.Contains(label, ", "+strconv.Itoa(failures)+" failure") {
			t.Fatalf("%s, but %d failures listed", label, failures)
		}
	})
	if !checked {
		t.Fatal("no day with actions")
	}
	legend := p.Doc.Find(`[data-testid="activity-legend"]`).Text()
	for _, w := range []string{"failure (hatched)", "denied (cross-hatched)", "unknown (dotted)", "bottom to top"} {
		if !strings.Contains(legend, w) {
			t.Errorf("the legend lacks %q: %q", w, legend)
		}
	}
	if p.Doc.Find(`[data-testid="activity-day"] a[aria-label]`).Length() != 30 {
		t.Error("the table's day links are not named")
	}
}

// The integrity panel before any run says so plainly.
func TestIntegrityBeforeAnyRunSaysNotRunYet(t *testing.T) {
	a := newTestApp(t)
	addReviewer(t, a, "alice")
	b := a.browser()
	b.signInReviewer("alice")
	p := b.get("/audit/integrity")
	if got := strings.TrimSpace(p.Doc.Find(`[data-testid="verify-status"]`).Text()); got != "Not run yet." {
		t.Fatalf("verify status %q", got)
	}
}
