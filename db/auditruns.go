package db

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/keyport/keyport/internal/kp"
)

// The integrity panel's "verify now" runs (audit_verify_runs): at most one
// runs at a time, and a run whose heartbeat stopped is abandoned.

const verifyRunColumns = `id, started_at, started_by, heartbeat_at, finished_at, status, events, total, result`

func verifyRunTargets(r *kp.VerifyRun) []any {
	return []any{&r.ID, &r.StartedAt, &r.StartedBy, &r.HeartbeatAt, &r.FinishedAt, &r.Status, &r.Events, &r.Total, &r.Result}
}

// StartVerifyRun records a new running verification, first marking as
// abandoned a running one whose heartbeat is older than stale. If another
// run is still live it returns that run and started = false.
func (q *Queries) StartVerifyRun(ctx context.Context, by string, total int64, now time.Time, stale time.Duration) (run *kp.VerifyRun, started bool, err error) {
	const abandon = `UPDATE audit_verify_runs SET status = 'abandoned', finished_at = $1,
		result = 'the instance running it stopped reporting progress' WHERE status = 'running' AND heartbeat_at < $2`
	const insert = `INSERT INTO audit_verify_runs (started_at, started_by, heartbeat_at, status, total)
		VALUES ($1, $2, $1, 'running', $3) ON CONFLICT DO NOTHING RETURNING ` + verifyRunColumns
	if _, err := q.db.Exec(ctx, abandon, now, now.Add(-stale)); err != nil {
		return nil, false, fmt.Errorf("abandon stale verify runs: %w", err)
	}
	var r kp.VerifyRun
	err = q.db.QueryRow(ctx, insert, now, by, total).Scan(verifyRunTargets(&r)...)
	if errors.Is(err, pgx.ErrNoRows) {
		cur, err := q.LatestVerifyRun(ctx)
		return cur, false, err
	}
	if err != nil {
		return nil, false, fmt.Errorf("start verify run: %w", err)
	}
	return &r, true, nil
}

// VerifyRunProgress records how many events a running verification has
// checked, and that it is alive.
func (q *Queries) VerifyRunProgress(ctx context.Context, id, events int64, now time.Time) error {
	const sql = `UPDATE audit_verify_runs SET events = $2, heartbeat_at = $3 WHERE id = $1 AND status = 'running'`
	if _, err := q.db.Exec(ctx, sql, id, events, now); err != nil {
		return fmt.Errorf("record verify progress: %w", err)
	}
	return nil
}

// FinishVerifyRun records a verification's result.
func (q *Queries) FinishVerifyRun(ctx context.Context, id int64, status string, events int64, result string, now time.Time) error {
	const sql = `UPDATE audit_verify_runs SET status = $2, events = $3, result = $4, finished_at = $5, heartbeat_at = $5
		WHERE id = $1`
	if len(result) > 2000 {
		result = result[:2000]
	}
	if _, err := q.db.Exec(ctx, sql, id, status, events, result, now); err != nil {
		return fmt.Errorf("finish verify run: %w", err)
	}
	return nil
}

// LatestVerifyRun returns the newest run, or nil when none ran yet.
func (q *Queries) LatestVerifyRun(ctx context.Context) (*kp.VerifyRun, error) {
	const sql = `SELECT ` + verifyRunColumns + ` FROM audit_verify_runs ORDER BY id DESC LIMIT 1`
	var r kp.VerifyRun
	err := q.db.QueryRow(ctx, sql).Scan(verifyRunTargets(&r)...)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read latest verify run: %w", err)
	}
	return &r, nil
}

// VerifyRunByID returns one run, or kp.NotFound.
func (q *Queries) VerifyRunByID(ctx context.Context, id int64) (*kp.VerifyRun, error) {
	const sql = `SELECT ` + verifyRunColumns + ` FROM audit_verify_runs WHERE id = $1`
	var r kp.VerifyRun
	err := q.db.QueryRow(ctx, sql, id).Scan(verifyRunTargets(&r)...)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, kp.Errorf(kp.NotFound, "There is no verify run %d.", id)
	}
	if err != nil {
		return nil, fmt.Errorf("read verify run %d: %w", id, err)
	}
	return &r, nil
}
