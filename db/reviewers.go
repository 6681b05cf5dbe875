package db

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/keyport/keyport/internal/kp"
)

// Reviewer is one security reviewer's account.
type Reviewer struct {
	Username     string
	PasswordHash string // encoded argon2id
	TOTPSealed   []byte // nil: no second factor
	TOTPLastStep int64
	Disabled     bool
	CreatedAt    time.Time
	UpdatedAt    time.Time
	LastLoginAt  *time.Time
}

const reviewerColumns = `username, password_hash, totp_sealed, totp_last_step, disabled, created_at, updated_at, last_login_at`

func reviewerTargets(a *Reviewer) []any {
	return []any{&a.Username, &a.PasswordHash, &a.TOTPSealed, &a.TOTPLastStep, &a.Disabled, &a.CreatedAt, &a.UpdatedAt, &a.LastLoginAt}
}

// InsertReviewer creates an account; an existing username is kp.Conflict.
func (q *Queries) InsertReviewer(ctx context.Context, a *Reviewer) error {
	const sql = `INSERT INTO reviewers (` + reviewerColumns + `) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`
	_, err := q.db.Exec(ctx, sql, a.Username, a.PasswordHash, a.TOTPSealed, a.TOTPLastStep, a.Disabled, a.CreatedAt, a.UpdatedAt, a.LastLoginAt)
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23505" {
		return kp.Errorf(kp.Conflict, "A reviewer named %q already exists.", a.Username)
	}
	if err != nil {
		return fmt.Errorf("insert reviewer %s: %w", a.Username, err)
	}
	return nil
}

// ReviewerByUsername returns one account, or kp.NotFound.
func (q *Queries) ReviewerByUsername(ctx context.Context, username string) (*Reviewer, error) {
	const sql = `SELECT ` + reviewerColumns + ` FROM reviewers WHERE username = $1`
	var a Reviewer
	err := q.db.QueryRow(ctx, sql, username).Scan(reviewerTargets(&a)...)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, kp.Errorf(kp.NotFound, "There is no reviewer named %q.", username)
	}
	if err != nil {
		return nil, fmt.Errorf("read reviewer %s: %w", username, err)
	}
	return &a, nil
}

// ListReviewers returns every account by name. There are few: security staff.
func (q *Queries) ListReviewers(ctx context.Context) ([]Reviewer, error) {
	const sql = `SELECT ` + reviewerColumns + ` FROM reviewers ORDER BY username`
	rows, err := q.db.Query(ctx, sql)
	if err != nil {
		return nil, fmt.Errorf("list reviewers: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Reviewer, error) {
		var a Reviewer
		err := r.Scan(reviewerTargets(&a)...)
		return a, err
	})
}

// SetReviewerDisabled disables or enables an account; unknown is kp.NotFound.
func (q *Queries) SetReviewerDisabled(ctx context.Context, username string, disabled bool, now time.Time) error {
	const sql = `UPDATE reviewers SET disabled = $2, updated_at = $3 WHERE username = $1`
	return q.execOne(ctx, "set reviewer disabled", username, sql, username, disabled, now)
}

// SetReviewerPassword replaces an account's password hash and, when
// replaceTOTP is set, its TOTP secret (nil removes it).
func (q *Queries) SetReviewerPassword(ctx context.Context, username, hash string, replaceTOTP bool, totpSealed []byte, now time.Time) error {
	const sql = `UPDATE reviewers SET password_hash = $2, updated_at = $3,
		totp_sealed = CASE WHEN $4 THEN $5 ELSE totp_sealed END,
		totp_last_step = CASE WHEN $4 THEN 0 ELSE totp_last_step END
		WHERE username = $1`
	return q.execOne(ctx, "set reviewer password", username, sql, username, hash, now, replaceTOTP, totpSealed)
}

// RecordReviewerLogin notes a successful sign-in and the TOTP step it used.
// The step only moves forward: the UPDATE matches nothing (kp.Conflict) when
// another sign-in already used this step or a later one, so a code is
// accepted once.
func (q *Queries) RecordReviewerLogin(ctx context.Context, username string, totpStep int64, now time.Time) error {
	const sql = `UPDATE reviewers SET last_login_at = $2, totp_last_step = greatest(totp_last_step, $3)
		WHERE username = $1 AND ($3 = 0 OR totp_last_step < $3)`
	tag, err := q.db.Exec(ctx, sql, username, now, totpStep)
	if err != nil {
		return fmt.Errorf("record reviewer login %s: %w", username, err)
	}
	if tag.RowsAffected() == 0 {
		return kp.Errorf(kp.Conflict, "This code was already used.")
	}
	return nil
}

func (q *Queries) execOne(ctx context.Context, what, username, sql string, args ...any) error {
	tag, err := q.db.Exec(ctx, sql, args...)
	if err != nil {
		return fmt.Errorf("%s %s: %w", what, username, err)
	}
	if tag.RowsAffected() == 0 {
		return kp.Errorf(kp.NotFound, "There is no reviewer named %q.", username)
	}
	return nil
}

// ThrottleState is one throttle key's failures.
type ThrottleState struct {
	Failures    int
	LockedUntil *time.Time
}

// ReviewerThrottle returns a key's state (zero when it has none).
func (q *Queries) ReviewerThrottle(ctx context.Context, key string) (ThrottleState, error) {
	const sql = `SELECT failures, locked_until FROM reviewer_throttle WHERE key = $1`
	var s ThrottleState
	err := q.db.QueryRow(ctx, sql, key).Scan(&s.Failures, &s.LockedUntil)
	if errors.Is(err, pgx.ErrNoRows) {
		return ThrottleState{}, nil
	}
	if err != nil {
		return s, fmt.Errorf("read sign-in throttle: %w", err)
	}
	return s, nil
}

// AddReviewerFailure counts one failed sign-in against key in one statement
// (safe under concurrent attempts): a count older than window starts over,
// and reaching max failures within it locks the key until now+lockout
// (further failures in the same window lock it again). It returns the new
// state.
func (q *Queries) AddReviewerFailure(ctx context.Context, key string, now time.Time, window, lockout time.Duration, max int) (ThrottleState, error) {
	const sql = `WITH p AS (SELECT $2::timestamptz AS now, make_interval(secs => $3::float8) AS win,
			make_interval(secs => $4::float8) AS lock, $5::int AS max)
		INSERT INTO reviewer_throttle AS t (key, failures, window_start, locked_until)
		SELECT $1, 1, p.now, CASE WHEN 1 >= p.max THEN p.now + p.lock END FROM p
		ON CONFLICT (key) DO UPDATE SET
			failures = CASE WHEN t.window_start <= EXCLUDED.window_start - (SELECT win FROM p) THEN 1 ELSE t.failures + 1 END,
			window_start = CASE WHEN t.window_start <= EXCLUDED.window_start - (SELECT win FROM p) THEN EXCLUDED.window_start ELSE t.window_start END,
			locked_until = CASE
				WHEN (CASE WHEN t.window_start <= EXCLUDED.window_start - (SELECT win FROM p) THEN 1 ELSE t.failures + 1 END) >= (SELECT max FROM p)
				THEN EXCLUDED.window_start + (SELECT lock FROM p)
				ELSE t.locked_until END
		RETURNING failures, locked_until`
	var s ThrottleState
	err := q.db.QueryRow(ctx, sql, key, now, window.Seconds(), lockout.Seconds(), max).Scan(&s.Failures, &s.LockedUntil)
	if err != nil {
		return s, fmt.Errorf("count failed sign-in: %w", err)
	}
	if s.LockedUntil != nil && !s.LockedUntil.After(now) {
		s.LockedUntil = nil
	}
	return s, nil
}

// ClearReviewerThrottles forgets every count about one account name: the
// name's own and the name's from each address (the address-wide counts stay).
func (q *Queries) ClearReviewerThrottles(ctx context.Context, name string) error {
	const sql = `DELETE FROM reviewer_throttle WHERE key = 'user:' || $1 OR starts_with(key, 'user@ip:' || $1 || '|')`
	if _, err := q.db.Exec(ctx, sql, name); err != nil {
		return fmt.Errorf("clear sign-in throttles: %w", err)
	}
	return nil
}

// ClearAddressThrottles forgets every count about one client address: the
// address's own and each name's from that address (the names' counts from
// anywhere stay). addrs are the spellings of one address to match (the
// portal records it as its proxy wrote it). It returns how many counts it
// removed.
func (q *Queries) ClearAddressThrottles(ctx context.Context, addrs []string) (int64, error) {
	// A tried name may hold '|', so the address is matched at the key's end.
	const sql = `DELETE FROM reviewer_throttle t USING unnest($1::text[]) AS a(addr)
		WHERE t.key = 'ip:' || a.addr
		OR (starts_with(t.key, 'user@ip:') AND right(t.key, length(a.addr) + 1) = '|' || a.addr)`
	tag, err := q.db.Exec(ctx, sql, addrs)
	if err != nil {
		return 0, fmt.Errorf("clear sign-in throttles of an address: %w", err)
	}
	return tag.RowsAffected(), nil
}

// LockedAddressesOf returns the client addresses that are locked out now
// and from which name failed to sign in within the window: what an
// operator resetting or unlocking that name may want to lift too.
func (q *Queries) LockedAddressesOf(ctx context.Context, name string, now time.Time) ([]string, error) {
	const sql = `SELECT substr(p.key, length('user@ip:' || $1 || '|') + 1) AS addr
		FROM reviewer_throttle p
		JOIN reviewer_throttle a ON a.key = 'ip:' || substr(p.key, length('user@ip:' || $1 || '|') + 1)
		WHERE starts_with(p.key, 'user@ip:' || $1 || '|') AND a.locked_until > $2
		ORDER BY 1`
	rows, err := q.db.Query(ctx, sql, name, now)
	if err != nil {
		return nil, fmt.Errorf("read locked addresses of %s: %w", name, err)
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// ClearReviewerThrottle forgets a key's failures (after a successful sign-in
// to that account).
func (q *Queries) ClearReviewerThrottle(ctx context.Context, key string) error {
	if _, err := q.db.Exec(ctx, `DELETE FROM reviewer_throttle WHERE key = $1`, key); err != nil {
		return fmt.Errorf("clear sign-in throttle: %w", err)
	}
	return nil
}
