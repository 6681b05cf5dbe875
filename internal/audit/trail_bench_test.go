package audit_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/keyport/keyport/db"
	"github.com/keyport/keyport/internal/audit"
	"github.com/keyport/keyport/internal/kp"
	"github.com/keyport/keyport/internal/pgtest"
)

// BenchmarkTrailAtScale is issue 24's trail at scale, opt-in because it
// seeds for minutes: KEYPORT_BENCH_EVENTS events (default 2 M) across 500
// tenants over the last 13 months, then reports bytes per event; the p95 of
// the reviewers' filtered list (first page and a deep page) for each
// filter, an event page and a key history, each through audit.Reader (so
// with its audit.view append); CSV export throughput; a full verify, then
// an incremental one after a day's events; and the archive time per month.
//
//	KEYPORT_BENCH_TRAIL=1 KEYPORT_BENCH_EVENTS=2000000 go test -run '^$' -bench TrailAtScale -benchtime 1x -timeout 120m ./internal/audit
func BenchmarkTrailAtScale(b *testing.B) {
	if os.Getenv("KEYPORT_BENCH_TRAIL") != "1" {
		b.Skip("set KEYPORT_BENCH_TRAIL=1: seeds millions of events")
	}
	n := 2_000_000
	if s := os.Getenv("KEYPORT_BENCH_EVENTS"); s != "" {
		if v, err := strconv.Atoi(s); err == nil && v > 0 {
			n = v
		}
	}
	const tenants = 500
	pool, keys, w, r, now, perEvent := seedAtScale(b, n, tenants)
	for b.Loop() {
		b.ReportMetric(perEvent, "bytes/event") // in the loop: b.Loop's reset drops earlier metrics
		benchReads(b, r, n, tenants, now)
		benchExportVerifyArchive(b, pool, keys, w, r, n)
	}
}

// seedAtScale seeds n events across tenants over 395 days and measures the
// bytes per event.
func seedAtScale(b *testing.B, n, tenants int) (*pgxpool.Pool, audit.Keys, *audit.Writer, *audit.Reader, time.Time, float64) {
	b.Helper()
	pool := pgtest.NewPool(b)
	ctx := context.Background()
	keys := testKeys(b)
	w := audit.NewWriter(pool, keys, quiet())
	r := audit.NewReader(pool, w, nil, quiet())
	now := time.Now()
	span := 395 * 24 * time.Hour
	t0 := time.Now()
	if _, err := audit.SeedWith(ctx, pool, audit.SeedOptions{Events: n, Seed: 24, Now: now, Span: span, Tenants: tenants}); err != nil {
		b.Fatal(err)
	}
	b.Logf("seeded %d events across %d tenants over %s in %s", n, tenants, span, time.Since(t0).Round(time.Second))
	if _, err := pool.Exec(ctx, `VACUUM ANALYZE audit_events`); err != nil {
		b.Fatal(err)
	}
	var bytes int64
	if err := pool.QueryRow(ctx, `SELECT sum(pg_total_relation_size(relid)) FROM pg_partition_tree('audit_events')`).Scan(&bytes); err != nil {
		b.Fatal(err)
	}
	b.Logf("%d events: %.1f GB with indexes, %.0f bytes/event", n, float64(bytes)/1e9, float64(bytes)/float64(n))
	return pool, keys, w, r, now, float64(bytes) / float64(n)
}

// benchReads reports the p95 of the reviewers' list per filter (first and
// deep pages), an event page and a key history.
func benchReads(b *testing.B, r *audit.Reader, n, tenants int, now time.Time) {
	b.Helper()
	ctx := context.Background()
	tenant := func(i int) string {
		return fmt.Sprintf("%04x5eed-%04x-4000-8000-%012x", i%tenants, i%tenants, i%tenants)
	}
	who := audit.Reviewer{Username: "bench"}
	outcomes := []kp.Outcome{kp.OutcomeFailure, kp.OutcomeDenied, kp.OutcomeUnknown}
	filters := []struct {
		name string
		f    func(i int) kp.AuditFilter
	}{
		{"none", func(int) kp.AuditFilter { return kp.AuditFilter{} }},
		{"tenant", func(i int) kp.AuditFilter { return kp.AuditFilter{TenantID: tenant(i * 37)} }},
		{"area", func(i int) kp.AuditFilter {
			return kp.AuditFilter{Region: kp.Region([]string{"na1", "eu1", "au1"}[i%3])}
		}},
		{"actor", func(i int) kp.AuditFilter {
			return kp.AuditFilter{ActorUserID: tenant(i * 37)[:8] + "-user-" + strconv.Itoa(i%8)}
		}},
		{"action", func(i int) kp.AuditFilter { return kp.AuditFilter{Action: "key.delete"} }},
		{"outcome", func(i int) kp.AuditFilter { return kp.AuditFilter{Outcome: outcomes[i%3]} }},
		{"key", func(i int) kp.AuditFilter {
			return kp.AuditFilter{KeyID: fmt.Sprintf("SEEDKEY%s%06d", tenant(i * 37)[:4], (i*7919)%5000)}
		}},
		{"time-1d", func(i int) kp.AuditFilter {
			return kp.AuditFilter{From: now.Add(-time.Duration(i%300+1) * 24 * time.Hour), To: now.Add(-time.Duration(i%300) * 24 * time.Hour)}
		}},
		{"tenant+outcome", func(i int) kp.AuditFilter { return kp.AuditFilter{TenantID: tenant(i * 37), Outcome: "failure"} }},
	}
	const runs = 200
	p95 := func(lat []time.Duration) float64 {
		slices.Sort(lat)
		return float64(lat[len(lat)*95/100].Microseconds()) / 1000
	}
	for _, fl := range filters {
		lat := make([]time.Duration, 0, runs)
		for i := range runs {
			before := int64(0)
			if i%4 == 3 { // a deep page
				before = int64(n) - int64(i)*(int64(n)/runs)
			}
			t := time.Now()
			if _, err := r.Events(ctx, who, fl.f(i), nil, before, 0, 50); err != nil {
				b.Fatal(err)
			}
			lat = append(lat, time.Since(t))
		}
		b.ReportMetric(p95(lat), "p95_ms_list_"+fl.name)
	}
	lat := make([]time.Duration, 0, runs)
	for i := range runs {
		t := time.Now()
		if _, err := r.Event(ctx, who, int64(1+(i*104729)%n)); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t))
	}
	b.ReportMetric(p95(lat), "p95_ms_event_page")
	lat = lat[:0]
	for i := range runs {
		t := time.Now()
		if _, err := r.KeyHistory(ctx, who, fmt.Sprintf("SEEDKEY%s%06d", tenant(i * 37)[:4], (i*7919)%5000)); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t))
	}
	b.ReportMetric(p95(lat), "p95_ms_key_history")

}

// benchExportVerifyArchive reports the CSV export rate, a full verify, a
// daily incremental one and the archive time per month.
func benchExportVerifyArchive(b *testing.B, pool *pgxpool.Pool, keys audit.Keys, w *audit.Writer, r *audit.Reader, n int) {
	b.Helper()
	ctx := context.Background()
	who := audit.Reviewer{Username: "bench"}
	t := time.Now()
	var lines lineCounter
	if err := r.ExportCSV(ctx, who, kp.AuditFilter{}, nil, func() io.Writer { return &lines }); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(lines-1)/time.Since(t).Seconds(), "csv_events/s") // less the header

	if _, err := w.Checkpoint(ctx); err != nil {
		b.Fatal(err)
	}
	t = time.Now()
	rep, err := audit.VerifyLatest(ctx, pool, keys, true, nil)
	if err != nil || !rep.OK() {
		b.Fatalf("full verify: %v, %v", rep, err)
	}
	b.ReportMetric(time.Since(t).Seconds(), "s_verify_full")
	// A day's events (the seed's daily rate), a checkpoint, and the daily run.
	day := n / 395
	if _, err := audit.Seed(ctx, pool, day, 25, time.Now()); err != nil {
		b.Fatal(err)
	}
	if _, err := w.Checkpoint(ctx); err != nil {
		b.Fatal(err)
	}
	t = time.Now()
	rep, err = audit.VerifyLatest(ctx, pool, keys, false, nil)
	if err != nil || !rep.OK() || rep.SinceCheckpoint == 0 {
		b.Fatalf("incremental verify: %v, %v", rep, err)
	}
	b.ReportMetric(time.Since(t).Seconds(), "s_verify_daily")
	b.Logf("incremental: %v", rep)

	// The oldest month(s): retention leaves the last 12.
	t = time.Now()
	ms, err := audit.Archive(ctx, pool, w, b.TempDir(), 365*24*time.Hour, time.Now(), nil)
	if err != nil || len(ms) == 0 {
		b.Fatalf("archive: %d months, %v", len(ms), err)
	}
	var archived int64
	for _, m := range ms {
		archived += m.Count
	}
	per := time.Since(t) / time.Duration(len(ms))
	b.ReportMetric(per.Seconds(), "s_archive_per_month")
	b.ReportMetric(float64(archived)/float64(len(ms)), "events_per_archived_month")
	parts, _ := db.New(pool).AuditPartitions(ctx)
	b.Logf("archived %d months (%d events) in %s; %d live months", len(ms), archived, time.Since(t).Round(time.Millisecond), len(parts))
}

// lineCounter counts the lines written to it.
type lineCounter int64

func (c *lineCounter) Write(p []byte) (int, error) {
	*c += lineCounter(bytes.Count(p, []byte{'\n'}))
	return len(p), nil
}
