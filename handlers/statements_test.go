package handlers_test

import (
	"net/url"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// TestAdminPagesStayWithinTheirStatements counts the SQL statements an
// admin page view sends (issue 14): the session and its connections in
// one, Keyport's notes on the tenant's keys (metadata, open creates, open
// rotations, owners' names) in one, the audit append, and no session write
// while nothing changed within a minute. A regression that adds a round
// trip to every view fails here, naming the statements.
func TestAdminPagesStayWithinTheirStatements(t *testing.T) {
	tracer := &statementTracer{}
	a := newTestApp(t, func(s *testSetup) { s.Tracer = tracer })
	ten, admin, _ := tenantUsers(t, a.Sim, "na1", 0)
	b := a.browser()
	b.connect("na1", ten.ID, admin.ID)
	_, created := b.createKey("counted")
	keyID := strings.TrimSpace(created.Doc.Find(`[data-testid="key-id"]`).Text())
	// Warm up: the first views learn the role's privileges and load the
	// connection's tokens into this process, once.
	// The first view of a list records it in the credential report (again
	// when it changes, or a minute later): warm up each list too.
	for range 2 {
		b.get("/keys")
		b.get("/keys?user=" + url.QueryEscape(admin.ID))
		b.get("/keys/" + url.PathEscape(keyID))
	}
	for _, c := range []struct {
		path string
		max  int
	}{
		{"/keys", 3},
		{"/keys?user=" + url.QueryEscape(admin.ID), 3},
		{"/keys/" + url.PathEscape(keyID), 4},
		{"/keys/activity", 3},
		{"/connect", 1},
		{"/keys/lookup", 1},
	} {
		for view := range 3 {
			tracer.start()
			p := b.get(c.path)
			counts := tracer.stop()
			if p.Status != 200 {
				t.Fatalf("GET %s: %d", c.path, p.Status)
			}
			if n := total(counts); n > c.max {
				t.Errorf("GET %s (view %d) sent %d statements, want at most %d:\n%s", c.path, view+1, n, c.max, listSQL(counts))
			}
		}
	}
	// A page that changes the session (a flash to show) writes it once.
	tracer.start()
	p := b.post("/keys/"+url.PathEscape(keyID)+"/deactivate", nil)
	b.follow(p)
	counts := tracer.stop()
	if updates := countLike(counts, "UPDATE sessions"); updates == 0 {
		t.Errorf("a deactivate (a flash to keep) wrote no session:\n%s", listSQL(counts))
	}
	// The pool's waits are visible, to size KEYPORT_DB_MAX_CONNS by.
	m := b.get("/metrics")
	for _, want := range []string{"keyport_db_pool_max_conns", "keyport_db_pool_empty_acquire_wait_seconds_total",
		"keyport_db_pool_acquire_wait_seconds_total"} {
		if !strings.Contains(m.Body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

func total(counts map[string]int) int {
	n := 0
	for _, c := range counts {
		n += c
	}
	return n
}

func countLike(counts map[string]int, prefix string) int {
	n := 0
	for s, c := range counts {
		if strings.HasPrefix(s, prefix) {
			n += c
		}
	}
	return n
}

func listSQL(counts map[string]int) string {
	var lines []string
	for s, c := range counts {
		lines = append(lines, "  "+strconv.Itoa(c)+"× "+s)
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}
