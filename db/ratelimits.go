package db

import (
	"context"
	"fmt"
	"time"
)

// TakeRateTokens takes one token from each bucket under the generic cell
// rate algorithm: a bucket refills one token per interval and holds at most
// burst of them. It reports whether every bucket had one. The database's
// clock decides, so instances with skewed clocks agree. Buckets that refuse
// are left unchanged; ones that allow are charged even when another refuses
// (as two limiters in a row would).
func (q *Queries) TakeRateTokens(ctx context.Context, buckets [][]byte, interval time.Duration, burst int) (bool, error) {
	const sql = `INSERT INTO rate_limits AS r (bucket, tat)
		SELECT b, clock_timestamp() + $2 * interval '1 microsecond' FROM unnest($1::bytea[]) AS b
		ON CONFLICT (bucket) DO UPDATE SET tat = greatest(r.tat, clock_timestamp()) + $2 * interval '1 microsecond'
		WHERE greatest(r.tat, clock_timestamp()) + $2 * interval '1 microsecond' <= clock_timestamp() + $3 * interval '1 microsecond'
		RETURNING 1`
	step := interval.Microseconds()
	rows, err := q.db.Query(ctx, sql, buckets, step, step*int64(burst))
	if err != nil {
		return false, fmt.Errorf("take rate tokens: %w", err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		n++
	}
	if err := rows.Err(); err != nil {
		return false, fmt.Errorf("take rate tokens: %w", err)
	}
	return n == len(buckets), nil
}

// DeleteIdleRateLimits forgets buckets that have been full for a while.
func (q *Queries) DeleteIdleRateLimits(ctx context.Context, idle time.Duration) (int64, error) {
	tag, err := q.db.Exec(ctx, `DELETE FROM rate_limits WHERE tat < clock_timestamp() - $1 * interval '1 microsecond'`, idle.Microseconds())
	if err != nil {
		return 0, fmt.Errorf("delete idle rate limits: %w", err)
	}
	return tag.RowsAffected(), nil
}
