// Package ratelimit bounds how often one client may try something costly
// (connect, create, look up, rotate), with the state in PostgreSQL so that
// every portal instance shares it: N instances allow what one allows.
package ratelimit

import (
	"context"
	"crypto/sha256"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/keyport/keyport/db"
	"github.com/keyport/keyport/internal/kp"
)

// DefaultPerMinute is attempts per minute per client IP and per session:
// plenty for a person, little for a script guessing tokens.
const DefaultPerMinute = 20

// DefaultExportsPerMinute is a reviewer's exports per minute (each reads up
// to the whole trail): bursts of 3, then one every 10 s.
const DefaultExportsPerMinute = 6

// Limiter takes tokens from shared buckets.
type Limiter struct {
	pool     *pgxpool.Pool
	interval time.Duration
	burst    int
}

// New returns a limiter allowing perMinute attempts a minute per key, in
// bursts of up to half that (0: DefaultPerMinute).
func New(pool *pgxpool.Pool, perMinute int) *Limiter {
	if perMinute <= 0 {
		perMinute = DefaultPerMinute
	}
	return &Limiter{pool: pool, interval: time.Minute / time.Duration(perMinute), burst: max(perMinute/2, 1)}
}

var errLimited = kp.Errorf(kp.RateLimited, "Too many attempts. Wait a minute and try again.")

// Allow takes one attempt from each key's bucket (for example "ip:…" and
// "session:…"). It returns a kp.RateLimited error when any is empty, and a
// kp.Unavailable one when the buckets cannot be read: without its limit a
// costly action is refused, not waved through.
func (l *Limiter) Allow(ctx context.Context, keys ...string) error {
	buckets := make([][]byte, len(keys))
	for i, k := range keys {
		sum := sha256.Sum256([]byte(k))
		buckets[i] = sum[:]
	}
	ok, err := db.New(l.pool).TakeRateTokens(ctx, buckets, l.interval, l.burst)
	if err != nil {
		return kp.StoreError(err, "Keyport cannot check its rate limits right now, so it refused this attempt. Try again in a moment.")
	}
	if !ok {
		return errLimited
	}
	return nil
}

// Cleanup forgets buckets idle for an hour (they are full again by then).
func (l *Limiter) Cleanup(ctx context.Context) (int64, error) {
	return db.New(l.pool).DeleteIdleRateLimits(ctx, time.Hour)
}
