package audit_test

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/keyport/keyport/internal/kp"

	"github.com/keyport/keyport/internal/audit"
	"github.com/keyport/keyport/internal/pgtest"
)

func TestSeedProducesAVerifiableChain(t *testing.T) {
	pool := pgtest.NewPool(t)
	keys := testKeys(t)
	w := audit.NewWriter(pool, keys, quiet())
	appendN(t, w, 2) // seeding continues an existing chain
	n, err := audit.Seed(context.Background(), pool, 45000, 1, time.Now())
	if err != nil || n != 45000 {
		t.Fatalf("seed: %d, %v", n, err)
	}
	appendN(t, w, 1) // and live appends continue after it
	if _, err := w.Checkpoint(context.Background()); err != nil {
		t.Fatal(err)
	}
	rep := mustVerify(t, pool, keys)
	if !rep.OK() || rep.Events != 45006 {
		t.Fatalf("report = %v", rep)
	}
}

// BenchmarkAppend reports the hash-chained append rate as a ratio to plain
// single-row INSERTs into a table of the same shape, measured in one run on
// the same server (goal >= 0.5).
func BenchmarkAppend(b *testing.B) {
	pool := pgtest.NewPool(b)
	w := audit.NewWriter(pool, testKeys(b), quiet())
	ctx := context.Background()
	createPlainEvents(b, pool)
	const n = 2000
	e := adminEvent(kp.KeyList)
	r := audit.Result{Outcome: kp.OutcomeSuccess}
	var chained, plain time.Duration
	var id int64
	for b.Loop() {
		start := time.Now()
		for i := 0; i < n; i++ {
			if err := w.Record(ctx, e, r); err != nil {
				b.Fatal(err)
			}
		}
		chained += time.Since(start)
		start = time.Now()
		for i := 0; i < n; i++ {
			id++
			if err := insertPlain(ctx, pool, id, e); err != nil {
				b.Fatal(err)
			}
		}
		plain += time.Since(start)
	}
	chainedRate := float64(n*b.N) / chained.Seconds()
	plainRate := float64(n*b.N) / plain.Seconds()
	b.ReportMetric(chainedRate, "chained_appends/s")
	b.ReportMetric(plainRate, "plain_inserts/s")
	b.ReportMetric(chainedRate/plainRate, "ratio")
}

// createPlainEvents makes plain_events, a table of audit_events' shape
// without its chain: the anchor of the append benchmarks.
func createPlainEvents(b *testing.B, pool *pgxpool.Pool) {
	b.Helper()
	if _, err := pool.Exec(context.Background(), `CREATE TABLE plain_events (LIKE audit_events INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING INDEXES)`); err != nil {
		b.Fatal(err)
	}
}

// insertPlain inserts the row an append of e would write, as one plain
// INSERT into plain_events with the id given.
func insertPlain(ctx context.Context, pool *pgxpool.Pool, id int64, e audit.Event) error {
	_, err := pool.Exec(ctx, `INSERT INTO plain_events (id, occurred_at, actor_kind, actor_user_id, actor_name,
		tenant_id, tenant_name, region, session_hash, client_ip, user_agent, action, target_key_id, outcome,
		upstream_status, error_message, request_id, intent_id, details, prev_hash, hash)
		VALUES ($1, clock_timestamp(), 'admin', $2, $3, $4, $5, $6, '', $7, $8, 'key.list', '', 'success', NULL, '', $9, NULL, '{}'::jsonb, $10, $10)`,
		id, e.Actor.UserID, e.Actor.Name, e.Scope.TenantID, e.Scope.TenantName, e.Scope.Region, e.Scope.ClientIP,
		e.Scope.UserAgent, e.Scope.RequestID, make([]byte, 32))
	return err
}

// BenchmarkVerify reports audit verify throughput over 1 M events (goal
// >= 200k events/s) and the Go heap in use afterwards (constant memory).
func BenchmarkVerify(b *testing.B) {
	pool := pgtest.NewPool(b)
	keys := testKeys(b)
	const events = 1_000_000
	if _, err := audit.Seed(context.Background(), pool, events, 7, time.Now()); err != nil {
		b.Fatal(err)
	}
	var total time.Duration
	var peak uint64
	for b.Loop() {
		start := time.Now()
		rep, err := audit.Verify(context.Background(), pool, keys, func(int64) {
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapInuse)
		})
		total += time.Since(start)
		if err != nil || !rep.OK() || rep.Events != events {
			b.Fatalf("verify: %v, %v", rep, err)
		}
	}
	b.ReportMetric(float64(events*b.N)/total.Seconds(), "events/s")
	b.ReportMetric(float64(peak)/(1<<20), "peak_heap_MiB")
}
