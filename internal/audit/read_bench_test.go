package audit_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/keyport/keyport/db"
	"github.com/keyport/keyport/internal/audit"
	"github.com/keyport/keyport/internal/kp"
	"github.com/keyport/keyport/internal/pgtest"
)

// BenchmarkFilteredQueries10M seeds 10 M events (several minutes), checks
// that no filter's plan scans the table, and reports the p50 and p95
// latency of a first page for the most used filters (goal p95 < 15 ms).
// It runs only with KEYPORT_BENCH_10M=1 (KEYPORT_BENCH_EVENTS overrides
// the size):
//
//	KEYPORT_BENCH_10M=1 go test -run '^$' -bench FilteredQueries10M -benchtime 1x -timeout 60m ./internal/audit
func BenchmarkFilteredQueries10M(b *testing.B) {
	if os.Getenv("KEYPORT_BENCH_10M") != "1" {
		b.Skip("set KEYPORT_BENCH_10M=1: seeds 10 M events")
	}
	n := 10_000_000
	if s := os.Getenv("KEYPORT_BENCH_EVENTS"); s != "" {
		fmt.Sscan(s, &n)
	}
	pool := pgtest.NewPool(b)
	ctx := context.Background()
	now := time.Now()
	start := time.Now()
	if _, err := audit.Seed(ctx, pool, n, 7, now); err != nil {
		b.Fatal(err)
	}
	b.Logf("seeded %d events in %s", n, time.Since(start).Round(time.Second))
	if _, err := pool.Exec(ctx, `ANALYZE audit_events`); err != nil {
		b.Fatal(err)
	}
	q := db.New(pool)
	empty := emptyPartitions(b, pool)
	for _, tc := range explainCases(now) {
		plan, err := q.ExplainAuditEvents(ctx, tc.f, 50)
		if err != nil {
			b.Fatal(err)
		}
		if p := seqScanned(plan, empty); p != "" {
			b.Errorf("%s: plan reads the whole of %s:\n%s", tc.name, p, plan)
		}
	}
	tenants := []string{"11111111-1111-4111-8111-111111111111", "22222222-2222-4222-8222-222222222222",
		"33333333-3333-4333-8333-333333333333", "44444444-4444-4444-8444-444444444444", "55555555-5555-4555-8555-555555555555"}
	outcomes := []kp.Outcome{kp.OutcomeFailure, kp.OutcomeDenied, kp.OutcomeUnknown}
	queries := []struct {
		name string
		f    func(i int) kp.AuditFilter
	}{
		{"tenant", func(i int) kp.AuditFilter { return kp.AuditFilter{TenantID: tenants[i%5]} }},
		{"key", func(i int) kp.AuditFilter {
			return kp.AuditFilter{KeyID: fmt.Sprintf("SEEDKEY%s%06d", tenants[i%5][:4], (i*7919)%5000)}
		}},
		{"outcome-30d", func(i int) kp.AuditFilter {
			return kp.AuditFilter{Outcome: outcomes[i%3], From: now.Add(-30 * 24 * time.Hour)}
		}},
		{"tenant+action+1d", func(i int) kp.AuditFilter {
			return kp.AuditFilter{TenantID: tenants[i%5], Action: "key.create", From: now.Add(-time.Duration(i%30+1) * 24 * time.Hour), To: now.Add(-time.Duration(i%30) * 24 * time.Hour)}
		}},
	}
	const runs = 400
	for b.Loop() {
		for _, qq := range queries {
			lat := make([]time.Duration, 0, runs)
			for i := 0; i < runs; i++ {
				// Deep pages too: every fourth query continues after a cursor.
				before := int64(0)
				if i%4 == 3 {
					before = int64(n) - int64(i)*20000
				}
				t0 := time.Now()
				p, err := q.ListAuditEvents(ctx, qq.f(i), before, 0, 50)
				lat = append(lat, time.Since(t0))
				if err != nil {
					b.Fatal(err)
				}
				_ = p
			}
			slices.Sort(lat)
			p50, p95 := lat[len(lat)/2], lat[len(lat)*95/100]
			b.ReportMetric(float64(p95.Microseconds())/1000, "p95-ms-"+qq.name)
			b.Logf("%-18s p50 %6.2f ms  p95 %6.2f ms  max %6.2f ms", qq.name,
				float64(p50.Microseconds())/1000, float64(p95.Microseconds())/1000, float64(lat[len(lat)-1].Microseconds())/1000)
		}
	}
}
