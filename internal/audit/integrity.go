package audit

import (
	"context"
	"fmt"
	"time"

	"github.com/keyport/keyport/db"
	"github.com/keyport/keyport/internal/kp"
)

// Integrity is what the integrity panel shows.
type Integrity struct {
	Checkpoint *db.AuditCheckpoint
	HeadID     int64
	Run        *kp.VerifyRun
	Witness    *db.WitnessCheck // the last `keyport audit verify --witness`, nil if none ran
}

// Integrity records the view, then returns the latest checkpoint, the
// chain's length, the last verify run and the last witness check.
func (r *Reader) Integrity(ctx context.Context, who Reviewer) (Integrity, error) {
	var in Integrity
	if err := r.w.Viewed(ctx, who.actor(), who.Scope, kp.AuditView, map[string]string{"page": "integrity"}, "html"); err != nil {
		return in, err
	}
	q := db.New(r.pool)
	var err error
	if in.Checkpoint, err = q.LatestAuditCheckpoint(ctx); err != nil {
		return in, err
	}
	if in.HeadID, err = q.AuditHeadID(ctx); err != nil {
		return in, err
	}
	if in.Run, err = q.LatestVerifyRun(ctx); err != nil {
		return in, err
	}
	in.Witness, err = q.LatestWitnessCheck(ctx)
	return in, err
}

// verifyStale is how long a running verification may go without reporting
// progress before the next start treats it as abandoned (its instance died).
// Verify reports every VerifyBatch events, many times a second.
const verifyStale = 2 * time.Minute

// verifyTimeout bounds one background verification.
const verifyTimeout = 2 * time.Hour

// StartVerify starts checking the whole chain in the background, recording
// an audit.verify intent now and its outcome when done, and returns the
// run to poll. If a run is already going, it returns that one instead.
func (r *Reader) StartVerify(ctx context.Context, who Reviewer) (*kp.VerifyRun, error) {
	actor, scope := who.actor(), who.Scope
	q := db.New(r.pool)
	total, err := q.AuditHeadID(ctx)
	if err != nil {
		return nil, err
	}
	run, started, err := q.StartVerifyRun(ctx, actor.UserID, total, r.now(), verifyStale)
	if err != nil || !started {
		return run, err
	}
	ev := Event{Actor: actor, Scope: scope, Action: kp.AuditVerify, Details: Details{Count: total}}
	intent, err := r.w.Intent(ctx, ev)
	if err != nil {
		_ = q.FinishVerifyRun(context.WithoutCancel(ctx), run.ID, "error", 0, "could not record the audit.verify intent", r.now())
		return nil, err
	}
	bg, cancel := context.WithTimeout(context.WithoutCancel(ctx), verifyTimeout)
	r.runs.Add(1)
	go func() {
		defer r.runs.Done()
		defer cancel()
		r.verify(bg, run.ID, intent, ev)
	}()
	return run, nil
}

func (r *Reader) verify(ctx context.Context, runID int64, intent IntentID, ev Event) {
	q := db.New(r.pool)
	rep, err := VerifyLatest(ctx, r.pool, r.w.Keys(), false, func(n int64) {
		if err := q.VerifyRunProgress(ctx, runID, n, r.now()); err != nil {
			r.log.WarnContext(ctx, "record verify progress", "err", err)
		}
	})
	status, result := "verified", rep.String()
	if n := len(rep.Unchecked); n > 0 {
		result += fmt.Sprintf("; %d checkpoint(s) signed with audit keys no longer in KEYPORT_AUDIT_KEY, not checked", n)
	}
	res := Result{Outcome: kp.OutcomeSuccess, Details: &Details{Count: rep.Events, Result: shorten(result)}}
	switch {
	case err != nil:
		status, result = "error", "verification could not finish: "+err.Error()
		res = Result{Outcome: kp.OutcomeFailure, Message: "verification could not finish", Details: &Details{Count: rep.Events}}
		r.log.ErrorContext(ctx, "background audit verify failed", "err", err)
	case !rep.OK():
		status = "broken"
		res = Result{Outcome: kp.OutcomeFailure, Message: shorten(rep.Problem.String()), Details: &Details{Count: rep.Events, Result: "broken"}}
	}
	r.w.Outcome(ctx, intent, ev, res)
	if err := q.FinishVerifyRun(ctx, runID, status, rep.Events, result, r.now()); err != nil {
		r.log.ErrorContext(ctx, "finish verify run", "run", runID, "err", err)
	}
}

func shorten(s string) string {
	if len(s) > 190 {
		return s[:190]
	}
	return s
}

// Wait blocks until background verifications started by this Reader end
// (shutdown and tests).
func (r *Reader) Wait() { r.runs.Wait() }

// VerifyRun returns one run's state.
func (r *Reader) VerifyRun(ctx context.Context, id int64) (*kp.VerifyRun, error) {
	return db.New(r.pool).VerifyRunByID(ctx, id)
}

// RunPercent is a run's progress, 0–100.
func RunPercent(run *kp.VerifyRun) int {
	if run.Total <= 0 || run.Status != "running" {
		return 100
	}
	return int(min(100, run.Events*100/run.Total))
}
