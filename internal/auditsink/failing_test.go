package auditsink

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/keyport/keyport/db"
	"github.com/keyport/keyport/internal/audit"
	"github.com/keyport/keyport/internal/keyring"
	"github.com/keyport/keyport/internal/pgtest"
	"github.com/keyport/keyport/internal/secret"
)

// A sink failing for longer than the limit is recorded once per outage:
// not before the limit, not again while the same outage lasts, and again
// after a success and a new, long enough outage.
func TestNoteFailingOncePerOutage(t *testing.T) {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, pgtest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	keys, err := audit.DeriveKeys(keyring.New(secret.New(strings.Repeat("k", 32))))
	if err != nil {
		t.Fatal(err)
	}
	w := audit.NewWriter(pool, keys, slog.New(slog.DiscardHandler))
	q := db.New(pool)
	if err := q.EnsureSinkCursor(ctx, "siem", "https://siem.example/in?…"); err != nil {
		t.Fatal(err)
	}
	t0 := time.Now().Add(-time.Hour)
	note := func(at time.Time, want int64) {
		t.Helper()
		if n, err := NoteFailing(ctx, pool, w, 15*time.Minute, at); err != nil || n != want {
			t.Fatalf("at %v: %d recorded (%v), want %d", at.Sub(t0), n, err, want)
		}
	}
	fail := func(at time.Time) {
		t.Helper()
		if err := q.RecordSinkFailure(ctx, "siem", "HTTP 503", at); err != nil {
			t.Fatal(err)
		}
	}
	fail(t0)
	note(t0.Add(10*time.Minute), 0)
	fail(t0.Add(11 * time.Minute))
	note(t0.Add(16*time.Minute), 1)
	fail(t0.Add(17 * time.Minute))
	note(t0.Add(30*time.Minute), 0)
	if err := q.AdvanceSinkCursor(ctx, "siem", 0, t0.Add(31*time.Minute)); err != nil {
		t.Fatal(err)
	}
	note(t0.Add(50*time.Minute), 0)
	fail(t0.Add(51 * time.Minute))
	note(t0.Add(67*time.Minute), 1)
	var n int
	var msg string
	if err := pool.QueryRow(ctx, `SELECT count(*), max(error_message) FROM audit_events WHERE action = 'audit.sink_failing' AND outcome = 'failure'`).Scan(&n, &msg); err != nil || n != 2 {
		t.Fatalf("%d audit.sink_failing events (%v), want 2", n, err)
	}
	if !strings.Contains(msg, "siem (https://siem.example/in?…) has been failing for 16 minutes: HTTP 503") {
		t.Errorf("message %q", msg)
	}
}
