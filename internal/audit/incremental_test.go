package audit_test

import (
	"context"
	"testing"

	"github.com/keyport/keyport/internal/audit"
	"github.com/keyport/keyport/internal/pgtest"
)

func TestVerifyLatestStartsFromTheNewestTrustedCheckpoint(t *testing.T) {
	pool := pgtest.NewPool(t)
	ctx := context.Background()
	keys := testKeys(t)
	w := audit.NewWriter(pool, keys, quiet())
	latest := func(full bool) audit.Report {
		t.Helper()
		rep, err := audit.VerifyLatest(ctx, pool, keys, full, nil)
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}
	checkpoint := func() int64 {
		t.Helper()
		c, err := w.Checkpoint(ctx)
		if err != nil || c == nil {
			t.Fatalf("checkpoint %v, %v", c, err)
		}
		return c.ID
	}
	appendN(t, w, 5) // events 1-10
	cp1 := checkpoint()
	// Nothing verified before: a full run, which records checkpoint 1.
	if rep := latest(false); !rep.OK() || rep.Events != 10 || rep.SinceCheckpoint != 0 {
		t.Fatalf("first run: %v", rep)
	}
	appendN(t, w, 3) // 11-16
	cp2 := checkpoint()
	if rep := latest(false); !rep.OK() || rep.Events != 6 || rep.SinceCheckpoint != cp1 || rep.SinceEvent != 10 {
		t.Fatalf("second run: %v (since %d)", rep, rep.SinceCheckpoint)
	}
	appendN(t, w, 1) // 17-18
	if rep := latest(false); !rep.OK() || rep.Events != 2 || rep.SinceCheckpoint != cp2 {
		t.Fatalf("third run: %v", rep)
	}
	// A change after the trusted point is found; one before it only by --full.
	superuserExec(t, pool, `UPDATE audit_events SET actor_name = 'Mallory' WHERE id = 4`)
	if rep := latest(false); !rep.OK() {
		t.Fatalf("a change before the trusted point is not reread: %v", rep)
	}
	if rep := latest(true); rep.OK() || rep.Problem.EventID != 4 {
		t.Fatalf("--full: %v", rep)
	}
	superuserExec(t, pool, `UPDATE audit_events SET actor_name = 'Ada' WHERE id = 4`, `UPDATE audit_events SET actor_name = 'Mallory' WHERE id = 17`)
	if rep := latest(false); rep.OK() || rep.Problem.EventID != 17 {
		t.Fatalf("a change after the trusted point: %v", rep)
	}
	superuserExec(t, pool, `UPDATE audit_events SET actor_name = 'Ada Admin' WHERE id = 17`)
	// The event at the trusted checkpoint changed: that point is not trusted,
	// the run starts further back and finds it.
	superuserExec(t, pool, `UPDATE audit_events SET actor_name = 'Mallory' WHERE id = 16`)
	if rep := latest(false); rep.OK() || rep.Problem.EventID != 16 || rep.SinceCheckpoint != 0 && rep.SinceCheckpoint != cp1 {
		t.Fatalf("changed trusted point: %v", rep)
	}
	superuserExec(t, pool, `UPDATE audit_events SET actor_name = 'Ada Admin' WHERE id = 16`)
	// A verification row written without the audit key is not trusted.
	if _, err := pool.Exec(ctx, `INSERT INTO audit_verifications (verified_at, checkpoint_id, last_event_id, last_hash, full_run, mac)
		SELECT now(), id, last_event_id, last_hash, true, sha256('forged'::bytea) FROM audit_checkpoints WHERE id = $1`, cp2); err != nil {
		t.Fatal(err)
	}
	appendN(t, w, 1)
	checkpoint()
	if rep := latest(false); !rep.OK() || rep.SinceCheckpoint != cp2 {
		t.Fatalf("after a forged row: %v", rep)
	}
	// Another audit key trusts no earlier run: it reads from the start (and
	// finds the event changed before the trusted point above), naming every
	// checkpoint as signed with a key it does not hold.
	if rep, err := audit.VerifyLatest(ctx, pool, testKeys(t), false, nil); err != nil || rep.OK() || rep.SinceCheckpoint != 0 ||
		len(rep.Unchecked) != rep.Checkpoints {
		t.Fatalf("another key: %v, %v", rep, err)
	}
}
