package auditsink

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/keyport/keyport/db"
	"github.com/keyport/keyport/internal/audit"
	"github.com/keyport/keyport/internal/kp"
)

// NoteFailing records audit.sink_failing for each sink (or notification
// target) failing for longer than after, once per outage whichever
// instance sees it first: the trail then says so, and the notification
// targets that still work tell people (issue 25). It returns how many.
func NoteFailing(ctx context.Context, pool *pgxpool.Pool, w *audit.Writer, after time.Duration, now time.Time) (int64, error) {
	failing, err := db.New(pool).ClaimFailingSinks(ctx, now.Add(-after))
	if err != nil {
		return 0, err
	}
	for _, f := range failing {
		mins := int(now.Sub(f.Since).Minutes())
		w.Note(ctx, audit.Event{Actor: audit.Actor{Kind: kp.ActorSystem, UserID: "keyport", Name: "Keyport"},
			Action: kp.AuditSinkFailing, Details: audit.Details{Result: f.Name, Count: f.Failures}},
			audit.Result{Outcome: kp.OutcomeFailure, Message: fmt.Sprintf("%s (%s) has been failing for %d minutes: %s", f.Name, f.Target, mins, f.LastError)})
	}
	return int64(len(failing)), nil
}
