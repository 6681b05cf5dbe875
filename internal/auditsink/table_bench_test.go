package auditsink

import (
	"context"
	"crypto/rand"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/keyport/keyport/db"
	"github.com/keyport/keyport/internal/audit"
	"github.com/keyport/keyport/internal/keyring"
	"github.com/keyport/keyport/internal/kp"
	"github.com/keyport/keyport/internal/pgtest"
	"github.com/keyport/keyport/internal/secret"
)

// BenchmarkTableSink (make bench, issue 15) measures the file sink's
// throughput on a backlog against the trail's own chained append rate in
// the same run, then its lag while events are appended at a steady rate
// (half the measured append rate) for 3 s: the p50 and max lag, in events
// and milliseconds, sampled every 10 ms, with the default options.
func BenchmarkTableSink(b *testing.B) {
	pool := pgtest.NewPool(b)
	key := make([]byte, 32)
	rand.Read(key)
	keys, err := audit.DeriveKeys(keyring.New(secret.New(string(key))))
	if err != nil {
		b.Fatal(err)
	}
	w := audit.NewWriter(pool, keys, slog.New(slog.DiscardHandler))
	ctx := context.Background()
	ev := audit.Event{Actor: audit.Actor{Kind: kp.ActorAdmin, UserID: "u-1", Name: "ada@acme.example"},
		Scope: audit.Scope{TenantID: "t-1", TenantName: "Acme", Region: "na1"}, Action: kp.KeyList}
	const backlog = 20000
	start := time.Now()
	for i := 0; i < backlog; i++ {
		if err := w.Record(ctx, ev, audit.Result{Outcome: kp.OutcomeSuccess}); err != nil {
			b.Fatal(err)
		}
	}
	appendRate := backlog / time.Since(start).Seconds()

	targets, err := Parse("file://"+filepath.Join(b.TempDir(), "audit.jsonl")+"#bench", "")
	if err != nil {
		b.Fatal(err)
	}
	s := New(pool, targets, slog.New(slog.NewTextHandler(io.Discard, nil)), Options{})
	if err := s.Prepare(ctx); err != nil {
		b.Fatal(err)
	}
	rctx, stop := context.WithCancel(ctx)
	defer stop()
	start = time.Now()
	go s.Run(rctx)
	waitCursor(b, pool, backlog)
	sinkRate := backlog / time.Since(start).Seconds()

	// Steady load: append at half the append rate, sample the lag.
	var lagEvents, lagMS []float64
	every := time.Duration(float64(time.Second) / (appendRate / 2))
	deadline := time.Now().Add(3 * time.Second)
	go func() {
		for t := time.NewTicker(10 * time.Millisecond); time.Now().Before(deadline); <-t.C {
			hs, err := s.Health(ctx)
			if err == nil && len(hs) == 1 {
				lagEvents = append(lagEvents, float64(hs[0].LagEvents))
				lagMS = append(lagMS, hs[0].LagSeconds*1000)
			}
		}
	}()
	next := time.Now()
	for time.Now().Before(deadline) {
		if err := w.Record(ctx, ev, audit.Result{Outcome: kp.OutcomeSuccess}); err != nil {
			b.Fatal(err)
		}
		next = next.Add(every)
		time.Sleep(time.Until(next))
	}
	time.Sleep(50 * time.Millisecond)
	b.ReportMetric(sinkRate, "events/s")
	b.ReportMetric(appendRate, "anchor_events/s")
	b.ReportMetric(sinkRate/appendRate, "ratio")
	b.ReportMetric(quantile(lagEvents, 0.5), "lag_p50_events")
	b.ReportMetric(quantile(lagEvents, 1), "lag_max_events")
	b.ReportMetric(quantile(lagMS, 0.5), "lag_p50_ms")
	b.ReportMetric(quantile(lagMS, 1), "lag_max_ms")
}

// waitCursor waits until the bench sink acknowledged event n.
func waitCursor(b *testing.B, pool *pgxpool.Pool, n int64) {
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(2 * time.Millisecond) {
		id, err := db.New(pool).SinkCursorID(context.Background(), "bench")
		if err != nil {
			b.Fatal(err)
		}
		if id >= n {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("the sink reached %d of %d events in 2 minutes", id, n)
		}
	}
}

func quantile(xs []float64, q float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[int(q*float64(len(s)-1))]
}
