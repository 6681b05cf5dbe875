package audit_test

import (
	"context"
	"sync"
	"testing"

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
