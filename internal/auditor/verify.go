package auditor

import (
	"context"
	"time"

	"github.com/keyport/keyport/internal/kp"

	"github.com/keyport/keyport/db"
	"github.com/keyport/keyport/internal/audit"
)

// verifyStale is how long a running verification may go without reporting
// progress before the next start treats it as abandoned (its instance died).
// Verify reports every audit.VerifyBatch events, many times a second.
const verifyStale = 2 * time.Minute

// verifyTimeout bounds one background verification.
const verifyTimeout = 2 * time.Hour

// StartVerify starts checking the whole chain in the background, recording
// an audit.verify intent now and its outcome when done, and returns the
// run to poll. If a run is already going, it returns that one instead.
func (s *Service) StartVerify(ctx context.Context, v Viewer) (*kp.VerifyRun, error) {
	actor, scope := v.actor(), v.Scope
	q := db.New(s.pool)
	total, err := q.AuditHeadID(ctx)
	if err != nil {
		return nil, err
	}
	run, started, err := q.StartVerifyRun(ctx, actor.UserID, total, s.o.Now(), verifyStale)
	if err != nil || !started {
		return run, err
	}
	ev := audit.Event{Actor: actor, Scope: scope, Action: kp.AuditVerify, Details: audit.Details{Count: total}}
	intent, err := s.w.Intent(ctx, ev)
	if err != nil {
		_ = q.FinishVerifyRun(context.WithoutCancel(ctx), run.ID, "error", 0, "could not record the audit.verify intent", s.o.Now())
		return nil, err
	}
	bg, cancel := context.WithTimeout(context.WithoutCancel(ctx), verifyTimeout)
	s.runs.Add(1)
	go func() {
		defer s.runs.Done()
		defer cancel()
		s.verify(bg, run.ID, intent, ev)
	}()
	return run, nil
}

func (s *Service) verify(ctx context.Context, runID int64, intent audit.IntentID, ev audit.Event) {
	q := db.New(s.pool)
	rep, err := audit.Verify(ctx, s.pool, s.w.Keys(), func(n int64) {
		if err := q.VerifyRunProgress(ctx, runID, n, s.o.Now()); err != nil {
			s.o.Log.WarnContext(ctx, "record verify progress", "err", err)
		}
	})
	status, result := "verified", rep.String()
	r := audit.Result{Outcome: kp.OutcomeSuccess, Details: &audit.Details{Count: rep.Events, Result: shorten(result)}}
	switch {
	case err != nil:
		status, result = "error", "verification could not finish: "+err.Error()
		r = audit.Result{Outcome: kp.OutcomeFailure, Message: "verification could not finish", Details: &audit.Details{Count: rep.Events}}
		s.o.Log.ErrorContext(ctx, "background audit verify failed", "err", err)
	case !rep.OK():
		status = "broken"
		r = audit.Result{Outcome: kp.OutcomeFailure, Message: shorten(rep.Problem.String()), Details: &audit.Details{Count: rep.Events, Result: "broken"}}
	}
	s.w.Outcome(ctx, intent, ev, r)
	if err := q.FinishVerifyRun(ctx, runID, status, rep.Events, result, s.o.Now()); err != nil {
		s.o.Log.ErrorContext(ctx, "finish verify run", "run", runID, "err", err)
	}
}

func shorten(s string) string {
	if len(s) > 190 {
		return s[:190]
	}
	return s
}

// Wait blocks until background verifications started by this Service end
// (shutdown and tests).
func (s *Service) Wait() { s.runs.Wait() }

// VerifyRun returns one run's state.
func (s *Service) VerifyRun(ctx context.Context, id int64) (*kp.VerifyRun, error) {
	return db.New(s.pool).VerifyRunByID(ctx, id)
}

// LatestVerifyRun returns the newest run, or nil.
func (s *Service) LatestVerifyRun(ctx context.Context) (*kp.VerifyRun, error) {
	return db.New(s.pool).LatestVerifyRun(ctx)
}

// Percent is a run's progress, 0–100.
func Percent(r *kp.VerifyRun) int {
	if r.Total <= 0 || r.Status != "running" {
		return 100
	}
	return int(min(100, r.Events*100/r.Total))
}
