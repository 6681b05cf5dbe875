package handlers_test

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/keyport/keyport/internal/audit"
	"github.com/keyport/keyport/internal/kp"
)

// The admins' key history: one row per action, 50 a page with older and
// newer links, reads (key lists) hidden behind a link, an action with no
// outcome marked in words, and a title that is not the reviewers' "Activity".
func TestKeyHistoryPagesOneRowPerAction(t *testing.T) {
	a := newTestApp(t)
	ten, admin, _ := tenantUsers(t, a.Sim, "na1", 0)
	b := a.browser()
	b.connect("na1", ten.ID, admin.ID)
	b.get("/keys") // writes a key.list: a read
	// Reads are hidden, one link away.
	if b.get("/keys/activity").Doc.Find(`[data-action="key.list"]`).Length() != 0 {
		t.Fatal("a key list is shown by default")
	}
	withReads := b.get(mustAttr(t, b.get("/keys/activity"), `[data-testid="show-reads"]`, "href"))
	if withReads.Doc.Find(`[data-testid="activity-row"][data-action="key.list"]`).Length() == 0 ||
		withReads.Doc.Find(`[data-testid="hide-reads"]`).Length() != 1 {
		t.Fatalf("reads=1 shows no key.list: %s", text(withReads))
	}
	ctx := context.Background()
	ev := audit.Event{Actor: audit.Actor{Kind: kp.ActorAdmin, UserID: admin.ID, Name: "Ada"},
		Scope: audit.Scope{TenantID: ten.ID, TenantName: ten.Name, Region: "na1"}, Action: kp.KeyVerify, TargetKeyID: "KEY-1"}
	open, err := a.App.Audit.Intent(ctx, ev)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 119 {
		_ = a.App.Audit.Do(ctx, ev, func(context.Context) (audit.Result, error) {
			if i%10 == 0 {
				return audit.Result{UpstreamStatus: 401}, kp.Errorf(kp.Upstream, "CXone rejected the secret.")
			}
			return audit.Result{}, nil
		})
	}
	other := ev
	other.Scope.TenantID = "someone-else"
	_ = a.App.Audit.Do(ctx, other, func(context.Context) (audit.Result, error) { return audit.Result{}, nil })

	p := b.get("/keys/activity")
	if p.Status != http.StatusOK {
		t.Fatalf("status %d: %s", p.Status, text(p))
	}
	if h := strings.TrimSpace(p.Doc.Find(`h1`).Text()); h != "Key history for "+ten.Name || !strings.Contains(p.Doc.Find("title").Text(), "Key history for") {
		t.Fatalf("heading %q", h)
	}
	rows, failures, statuses, p := walkActivity(t, b, p)
	joined := " " + strings.Join(rows, " ") + " "
	if strings.Contains(joined, "key.list") || strings.Count(joined, " key.verify:") != 120 || failures != 12 || statuses != 12 {
		t.Fatalf("%d rows, %d failures (%d with status and message): %s", len(rows), failures, statuses, joined)
	}
	if !strings.Contains(joined, " key.verify:pending ") || !strings.Contains(joined, " connect:success ") {
		t.Fatalf("no pending verify or connect: %s", joined)
	}
	last := p.Doc.Find(`[data-testid="activity-row"][data-outcome="pending"]`)
	if id, _ := last.Attr("data-event-id"); id != strconv.FormatInt(int64(open), 10) || !strings.Contains(last.Text(), "NO OUTCOME YET") {
		t.Fatalf("the open intent %d: %q %q", open, id, last.Text())
	}
	newer, ok := p.Doc.Find(`[data-testid="page-newer"]`).Attr("href")
	if !ok || b.get(newer).Doc.Find(`[data-testid="activity-row"]`).Length() != 50 {
		t.Fatalf("newer link %q", newer)
	}

	if p := b.get("/keys/activity?before=x"); p.Status != http.StatusUnprocessableEntity {
		t.Fatalf("bad cursor: %d", p.Status)
	}
}

// walkActivity follows the older links from p to the last page: every
// row's action:outcome, how many failed, how many of those show CXone's
// status and message, and the last page.
func walkActivity(t *testing.T, b *browser, p *page) (rows []string, failures, statuses int, last *page) {
	t.Helper()
	for pages := 0; ; pages++ {
		if pages > 5 {
			t.Fatal("endless pages")
		}
		n := p.Doc.Find(`[data-testid="activity-row"]`).Length()
		if older := p.Doc.Find(`[data-testid="page-older"]`).Length(); older == 1 && n != 50 {
			t.Fatalf("page %d has %d rows", pages, n)
		}
		p.Doc.Find(`[data-testid="activity-row"]`).Each(func(_ int, s *goquerySelection) {
			act, _ := s.Attr("data-action")
			out, _ := s.Attr("data-outcome")
			rows = append(rows, act+":"+out)
			if out == "failure" {
				failures++
				if strings.Contains(s.Find(`[data-testid="activity-row-status"]`).Text(), "HTTP 401") &&
					strings.Contains(s.Text(), "CXone rejected the secret.") {
					statuses++
				}
			}
			if s.Find("a").Length() != 0 {
				t.Error("an admin row links to a reviewers' page")
			}
		})
		older, ok := p.Doc.Find(`[data-testid="page-older"]`).Attr("href")
		if !ok {
			break
		}
		p = b.get(older)
	}
	return rows, failures, statuses, p
}

func mustAttr(t *testing.T, p *page, sel, attr string) string {
	t.Helper()
	v, ok := p.Doc.Find(sel).Attr(attr)
	if !ok {
		t.Fatalf("no %s on the page: %s", sel, text(p))
	}
	return v
}
