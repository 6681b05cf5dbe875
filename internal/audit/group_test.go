package audit_test

import (
	"context"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/keyport/keyport/internal/audit"
	"github.com/keyport/keyport/internal/kp"
	"github.com/keyport/keyport/internal/pgtest"
)

// Concurrent appends share transactions but each caller gets its own
// event, the chain stays linear and verifies, and an event the database
// refuses (an outcome of an intent that does not exist) fails only its own
// caller, not the group it was written with.
func TestConcurrentAppendsShareCommitsAndStayChained(t *testing.T) {
	pool := pgtest.NewPool(t)
	keys := testKeys(t)
	w := audit.NewWriter(pool, keys, quiet())
	ctx := context.Background()
	const writers, each = 24, 40
	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				if i == 0 { // an outcome whose intent does not exist: refused by the foreign key
					w.Outcome(ctx, audit.IntentID(1<<40), adminEvent(kp.KeyDelete), audit.Result{Outcome: kp.OutcomeSuccess})
					continue
				}
				id, err := w.Intent(ctx, adminEvent(kp.KeyCreate))
				if err != nil {
					errs <- err
					continue
				}
				w.Outcome(ctx, id, adminEvent(kp.KeyCreate), audit.Result{Outcome: kp.OutcomeSuccess})
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("an append failed: %v", err)
	}
	if lost := w.OutcomeFailures(); lost != each {
		t.Errorf("%d outcomes lost, want the %d refused ones only", lost, each)
	}
	var n, open int64
	if err := pool.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE outcome = 'intent' AND NOT EXISTS (
		SELECT 1 FROM audit_events o WHERE o.intent_id = audit_events.id)) FROM audit_events`).Scan(&n, &open); err != nil {
		t.Fatal(err)
	}
	if want := int64(2 * (writers - 1) * each); n != want || open != 0 {
		t.Errorf("%d events, %d intents without outcome; want %d and 0", n, open, want)
	}
	if rep := mustVerify(t, pool, keys); !rep.OK() {
		t.Fatalf("the chain does not verify: %v", rep)
	}
}

// Page views may commit without waiting for their WAL flush, but a write
// that holds an intent or an outcome never does: checked inside each
// write's own transaction, with views, intents and outcomes mixed across
// concurrent writers (so groups of every mix form) and a lone view.
//
// The test cluster runs with synchronous_commit off throughout (speed), so
// this database is set back to PostgreSQL's default first.
func TestOnlyViewsCommitWithoutTheirFlush(t *testing.T) {
	pool := pgtest.NewPool(t)
	if _, err := pool.Exec(context.Background(), `DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET synchronous_commit = on', current_database()); END $$`); err != nil {
		t.Fatal(err)
	}
	pool.Reset()
	keys := testKeys(t)
	w := audit.NewWriter(pool, keys, quiet())
	var mu sync.Mutex
	lazy, durable := 0, 0
	audit.SetCommitProbe(w, func(rows []*kp.AuditEvent, setting string) {
		mu.Lock()
		defer mu.Unlock()
		views := 0
		for _, r := range rows {
			if r.Action == kp.KeyList || r.Action == kp.AuditView {
				views++
			}
		}
		switch {
		case setting == "off" && views != len(rows):
			t.Errorf("a write of %d events, %d of them views, committed with synchronous_commit off", len(rows), views)
		case setting == "off":
			lazy++
		case setting == "on":
			durable++
		default:
			t.Errorf("synchronous_commit %q", setting)
		}
	})
	ctx := context.Background()
	if err := w.View(ctx, adminEvent(kp.KeyList), audit.Result{Outcome: kp.OutcomeSuccess}); err != nil {
		t.Fatal(err)
	}
	if lazy != 1 {
		t.Fatalf("a lone view was not committed lazily")
	}
	if err := w.View(ctx, adminEvent(kp.KeyCreate), audit.Result{Outcome: kp.OutcomeSuccess}); err == nil {
		t.Errorf("View accepted a key.create")
	}
	var wg sync.WaitGroup
	for i := range 12 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 20 {
				if i%2 == 0 {
					if err := w.View(ctx, adminEvent(kp.KeyList), audit.Result{Outcome: kp.OutcomeSuccess}); err != nil {
						t.Error(err)
					}
					continue
				}
				id, err := w.Intent(ctx, adminEvent(kp.KeyCreate))
				if err != nil {
					t.Error(err)
					continue
				}
				w.Outcome(ctx, id, adminEvent(kp.KeyCreate), audit.Result{Outcome: kp.OutcomeSuccess})
			}
		}()
	}
	wg.Wait()
	if durable == 0 {
		t.Errorf("no write was committed durably")
	}
	if rep := mustVerify(t, pool, keys); !rep.OK() {
		t.Fatalf("the chain does not verify: %v", rep)
	}
}

// Four portal instances (four pools, four writers) append concurrently
// through audit_append_many, groups include an event the database refuses
// (an outcome of an intent that does not exist), and still: each refused
// event fails only its caller, the chain is linear (ids gapless, each
// prev_hash the previous hash) and verifies, and the daily rollup counts
// every event once.
func TestAppendManyKeepsTheChainLinearAcrossInstances(t *testing.T) {
	dbURL := pgtest.NewDatabase(t)
	keys := testKeys(t)
	ctx := context.Background()
	const instances, writers, each = 4, 6, 15
	var ws []*audit.Writer
	var mu sync.Mutex
	grouped := 0
	for range instances {
		pool, err := pgxpool.New(ctx, dbURL)
		if err != nil {
			t.Fatal("open pool")
		}
		t.Cleanup(pool.Close)
		w := audit.NewWriter(pool, keys, quiet())
		audit.SetCommitProbe(w, func(rows []*kp.AuditEvent, _ string) {
			if len(rows) > 1 {
				mu.Lock()
				grouped++
				mu.Unlock()
			}
		})
		ws = append(ws, w)
	}
	var wg sync.WaitGroup
	for i := range instances * writers {
		w := ws[i%instances]
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range each {
				if i%writers == 0 && n%3 == 0 {
					w.Outcome(ctx, audit.IntentID(1<<40), adminEvent(kp.KeyDelete), audit.Result{Outcome: kp.OutcomeSuccess})
					continue
				}
				id, err := w.Intent(ctx, adminEvent(kp.KeyCreate))
				if err != nil {
					t.Error(err)
					continue
				}
				w.Outcome(ctx, id, adminEvent(kp.KeyCreate), audit.Result{Outcome: kp.OutcomeSuccess})
			}
		}()
	}
	wg.Wait()
	lost := int64(0)
	for _, w := range ws {
		lost += w.OutcomeFailures()
	}
	if want := int64(instances * ((each + 2) / 3)); lost != want {
		t.Errorf("%d outcomes lost, want the %d refused ones only", lost, want)
	}
	if grouped == 0 {
		t.Errorf("no group was appended: audit_append_many was not exercised")
	}
	p, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		t.Fatal("open pool")
	}
	defer p.Close()
	var n, maxID, broken, counted int64
	if err := p.QueryRow(ctx, `SELECT count(*), max(id), count(*) FILTER (WHERE prev_hash <> coalesce(
		(SELECT hash FROM audit_events p WHERE p.id = e.id - 1), '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea)),
		(SELECT sum(events) FROM audit_daily_counts) FROM audit_events e`).Scan(&n, &maxID, &broken, &counted); err != nil {
		t.Fatal(err)
	}
	okEvents := int64(instances*writers*each) - int64(instances*((each+2)/3))
	if n != 2*okEvents || n != maxID || broken != 0 || counted != n {
		t.Errorf("%d events, max id %d, %d not following their predecessor, rollup counts %d; want %d, gapless, 0, all",
			n, maxID, broken, counted, 2*okEvents)
	}
	if rep := mustVerify(t, p, keys); !rep.OK() {
		t.Fatalf("the chain does not verify: %v", rep)
	}
}
