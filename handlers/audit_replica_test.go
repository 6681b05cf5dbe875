package handlers_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/keyport/keyport/internal/audit"
	"github.com/keyport/keyport/internal/kp"
	"github.com/keyport/keyport/internal/pgtest"
)

// waitFor polls get until ok says the page is the one wanted: the replica
// applies the primary's WAL on its own schedule. The limit is generous; a
// healthy replica on this machine takes milliseconds.
func waitFor(t *testing.T, what string, get func() *page, ok func(*page) bool) *page {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		p := get()
		if ok(p) {
			return p
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: last page %d: %s", what, p.Status, text(p))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// writeOnPrimary appends an event named label through the portal's writer.
func writeOnPrimary(t *testing.T, a *testApp, label string) int64 {
	t.Helper()
	id, err := a.App.Audit.Intent(context.Background(), audit.Event{Actor: audit.Actor{Kind: kp.ActorSystem, UserID: "replica-test", Name: label}, Action: kp.KeyList})
	if err != nil {
		t.Fatal(err)
	}
	return int64(id)
}

func readNote(p *page) string {
	return strings.TrimSpace(p.Doc.Find(`[data-testid="read-note"]`).Text())
}

func TestReviewerReadsFromAStreamingReplica(t *testing.T) {
	rep := pgtest.NewReplicated(t)
	ctx := context.Background()
	replica, err := pgxpool.New(ctx, rep.ReplicaURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(replica.Close)
	a := newTestApp(t, func(s *testSetup) {
		s.URL = rep.PrimaryURL
		// Any lag shows, and every request looks at the replica afresh.
		s.Options.ReadPool, s.Options.ReplicaLag, s.Options.ReplicaCheck = replica, time.Nanosecond, time.Nanosecond
	})
	addReviewer(t, a, "rita")
	b := a.browser()
	b.signInReviewer("rita")
	write := func(label string) int64 { return writeOnPrimary(t, a, label) }

	// Written on the primary, seen on the replica once it has caught up;
	// a replica that has caught up earns no note.
	first := write("first")
	path := fmt.Sprintf("/audit/%d", first)
	waitFor(t, "the event on the replica", func() *page { return b.get(path) }, func(p *page) bool {
		return p.Status == http.StatusOK && strings.Contains(text(p), "first")
	})
	deadline := time.Now().Add(30 * time.Second)
	for audit.ReadSourceOf(a.App.Trail.ChooseRead(ctx)).Note() != "" {
		if time.Now().After(deadline) {
			t.Fatalf("the replica never caught up: %s", audit.ReadSourceOf(a.App.Trail.ChooseRead(ctx)).Note())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if s := audit.ReadSourceOf(a.App.Trail.ChooseRead(ctx)); !s.Replica || s.Fallback {
		t.Fatalf("read source %+v, want the replica", s)
	}

	// Replay paused: the pages read the replica, which lacks the new
	// event, and say as of when.
	if _, err := replica.Exec(ctx, `SELECT pg_wal_replay_pause()`); err != nil {
		t.Fatal(err)
	}
	for state := ""; state != "paused"; time.Sleep(10 * time.Millisecond) {
		if err := replica.QueryRow(ctx, `SELECT pg_get_wal_replay_pause_state()`).Scan(&state); err != nil {
			t.Fatal(err)
		}
	}
	second := write("second")
	path = fmt.Sprintf("/audit/%d", second)
	if p := b.get(path); p.Status != http.StatusNotFound {
		t.Fatalf("with replay paused, the new event's page: status %d, want 404 from the replica", p.Status)
	}
	waitFor(t, "the list saying as of", func() *page { return b.get("/audit") }, func(p *page) bool {
		return p.Status == http.StatusOK && strings.HasPrefix(readNote(p), "As of ")
	})
	if _, err := replica.Exec(ctx, `SELECT pg_wal_replay_resume()`); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the second event after replay resumed", func() *page { return b.get(path) }, func(p *page) bool {
		return p.Status == http.StatusOK && strings.Contains(text(p), "second")
	})

	// The replica stopped: the same pages read the primary and say so.
	if err := rep.Replica.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	third := write("third")
	for _, path := range []string{fmt.Sprintf("/audit/%d", third), "/audit", "/audit/activity"} {
		p := b.get(path)
		if p.Status != http.StatusOK || !strings.Contains(readNote(p), "primary") {
			t.Fatalf("%s with the replica down: status %d, note %q: %s", path, p.Status, readNote(p), text(p))
		}
	}
}
