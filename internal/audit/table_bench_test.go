package audit_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/keyport/keyport/internal/audit"
	"github.com/keyport/keyport/internal/kp"
	"github.com/keyport/keyport/internal/pgtest"
)

// BenchmarkTableAppend is rows of `make bench`'s table (issues 14 and 23;
// units as scripts/benchtable documents them): hash-chained appends against
// plain INSERTs of the same row shape on the same server, measured in
// alternating rounds, with one writer, and with 8 writers per portal
// instance on 1, 2 and 4 instances (an audit.Writer on a pool each, as
// separate processes have). Goal: ratio >= 0.5 for one writer and for 2
// instances × 8 writers; the others are reported.
//
//	go test -run '^$' -bench TableAppend -benchtime 1x ./internal/audit
func BenchmarkTableAppend(b *testing.B) {
	dbURL := pgtest.NewDatabase(b)
	keys := testKeys(b)
	var pools [4]*pgxpool.Pool
	var writers [4]*audit.Writer
	for i := range pools {
		pool, err := pgxpool.New(context.Background(), dbURL) // the default size, as serve's pool
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(pool.Close)
		pools[i], writers[i] = pool, audit.NewWriter(pool, keys, quiet())
	}
	createPlainEvents(b, pools[0])
	var ids atomic.Int64
	e := adminEvent(kp.KeyList)
	r := audit.Result{Outcome: kp.OutcomeSuccess}
	for _, tc := range []struct {
		name               string
		writers, instances int
		goal               float64
	}{{"1_writer", 1, 1, 0.5}, {"16_writers", 16, 2, 0.5}, {"1_instance_8_writers", 8, 1, 0}, {"4_instances_32_writers", 32, 4, 0}} {
		chained := func(worker int) error { return writers[worker%tc.instances].Record(context.Background(), e, r) }
		plain := func(worker int) error {
			return insertPlain(context.Background(), pools[worker%tc.instances], ids.Add(1), e)
		}
		b.Run(tc.name, func(b *testing.B) {
			var fig, anc float64
			for b.Loop() {
				fig, anc = alternate(b, tc.writers, chained, plain)
			}
			b.ReportMetric(fig, "appends/s")
			b.ReportMetric(anc, "anchor_appends/s")
			b.ReportMetric(fig/anc, "ratio")
			if tc.goal > 0 {
				b.ReportMetric(tc.goal, "goal_ratio")
			}
		})
	}
	// The two instances' appends under contention still form one chain.
	rep, err := audit.Verify(context.Background(), pools[0], keys, nil)
	if err != nil || !rep.OK() {
		b.Fatalf("verify after concurrent appends: %v, %v", rep, err)
	}
}

// alternate measures figure and anchor with c workers each in alternating
// rounds (2.4 s each in all), so a change in the machine's load touches
// both alike, and returns both rates in calls per second.
func alternate(b *testing.B, c int, figure, anchor func(worker int) error) (figRate, ancRate float64) {
	b.Helper()
	const rounds, per = 3, 800 * time.Millisecond
	var fn, an int64
	var ft, at time.Duration
	for range rounds {
		n, d, err := loadFor(c, per, anchor)
		if err != nil {
			b.Fatal(err)
		}
		an, at = an+n, at+d
		if n, d, err = loadFor(c, per, figure); err != nil {
			b.Fatal(err)
		}
		fn, ft = fn+n, ft+d
	}
	return float64(fn) / ft.Seconds(), float64(an) / at.Seconds()
}

// loadFor runs c workers calling call until d has passed and returns how
// many calls completed and how long that took.
func loadFor(c int, d time.Duration, call func(worker int) error) (int64, time.Duration, error) {
	var n atomic.Int64
	var first error
	var once sync.Once
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(d)
	for w := range c {
		wg.Go(func() {
			for time.Now().Before(deadline) {
				if err := call(w); err != nil {
					once.Do(func() { first = err })
					return
				}
				n.Add(1)
			}
		})
	}
	wg.Wait()
	return n.Load(), time.Since(start), first
}
