package handlers_test

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

// handles are the End buttons' session handles on a /reviewer/sessions page.
func handles(p *page) []string {
	var out []string
	p.Doc.Find(`[data-testid="session-row"] input[name="session"]`).Each(func(_ int, s *goquerySelection) {
		v, _ := s.Attr("value")
		out = append(out, v)
	})
	return out
}

// ASVS 7.5.2: a reviewer sees their own live sessions and ends any of them,
// never another reviewer's.
func TestReviewerSeesAndEndsOwnSessions(t *testing.T) {
	a := newTestApp(t)
	addReviewer(t, a, "alice")
	addReviewer(t, a, "bob")
	one, two, three, bob := a.browser(), a.browser(), a.browser(), a.browser()
	for _, b := range []*browser{one, two, three} {
		b.signInReviewer("alice")
	}
	bob.signInReviewer("bob")
	list := one.get("/reviewer/sessions")
	rows := list.Doc.Find(`[data-testid="session-row"]`)
	if list.Status != http.StatusOK || rows.Length() != 3 || list.Doc.Find(`[data-testid="session-current"]`).Length() != 1 {
		t.Fatalf("list: status %d, %d rows: %s", list.Status, rows.Length(), text(list))
	}
	if got := rows.First().Find(`td[data-label="Address"]`).Text(); got != "127.0.0.1" {
		t.Errorf("address %q", got)
	}
	bobs := handles(bob.get("/reviewer/sessions"))
	if len(bobs) != 0 {
		t.Fatalf("bob's only session has an End button: %v", bobs)
	}
	// Bob's own session's handle, from the database (his page shows none to end).
	var bobHandle []byte
	if err := a.Pool.QueryRow(context.Background(), `SELECT id_hash FROM sessions WHERE owner = 'local:bob'`).Scan(&bobHandle); err != nil {
		t.Fatal(err)
	}
	if p := one.follow(one.post("/reviewer/sessions/end", url.Values{"session": {b64url(bobHandle)}})); p.Status != http.StatusOK {
		t.Fatalf("ending bob's session: status %d: %s", p.Status, text(p))
	}
	if signedOut(bob) {
		t.Fatal("alice ended bob's session")
	}
	mine := handles(list)
	if len(mine) != 2 {
		t.Fatalf("handles %v", mine)
	}
	done := one.follow(one.post("/reviewer/sessions/end", url.Values{"session": {mine[0]}}))
	if done.Doc.Find(`[data-testid="session-row"]`).Length() != 2 || done.Doc.Find(`[data-testid="flash"]`).Length() != 1 {
		t.Fatalf("after ending one: %s", text(done))
	}
	ended := 0
	for _, b := range []*browser{two, three} {
		if signedOut(b) {
			ended++
		}
	}
	if ended != 1 {
		t.Fatalf("%d of alice's other sessions ended, want 1", ended)
	}
	one.follow(one.post("/reviewer/sessions/end", url.Values{"others": {"1"}}))
	if !signedOut(two) || !signedOut(three) || signedOut(one) || signedOut(bob) {
		t.Fatal("End every other session: wrong sessions ended")
	}
	rowsQ, err := a.Pool.Query(context.Background(), `SELECT actor_user_id || ' ' || (details->>'step') || ' ' || coalesce(details->>'count', '0')
		FROM audit_events WHERE action = 'auditor.logout' AND intent_id IS NOT NULL ORDER BY id`) // the outcomes
	if err != nil {
		t.Fatal(err)
	}
	got, err := pgx.CollectRows(rowsQ, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	want := "alice ended by the reviewer 0|alice ended by the reviewer 1|alice ended by the reviewer 1"
	if strings.Join(got, "|") != want {
		t.Errorf("audit events %q, want %q", strings.Join(got, "|"), want)
	}
}

func b64url(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
