package db

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/keyport/keyport/internal/kp"
)

// SessionRow is one server-side session.
type SessionRow struct {
	IDHash     []byte
	Kind       string
	Data       []byte // sealed
	CreatedAt  time.Time
	LastSeenAt time.Time
	ExpiresAt  time.Time
}

// LoadSession returns the live session of kind with id hash h: not past its
// absolute expiry and seen within idle. Anything else is kp.NotFound.
func (q *Queries) LoadSession(ctx context.Context, h []byte, kind string, now time.Time, idle time.Duration) (*SessionRow, error) {
	const sql = `SELECT id_hash, kind, data, created_at, last_seen_at, expires_at FROM sessions
		WHERE id_hash = $1 AND kind = $2 AND expires_at > $3 AND last_seen_at > $4`
	var s SessionRow
	err := q.db.QueryRow(ctx, sql, h, kind, now, now.Add(-idle)).Scan(&s.IDHash, &s.Kind, &s.Data, &s.CreatedAt, &s.LastSeenAt, &s.ExpiresAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, kp.Errorf(kp.NotFound, "session expired")
	}
	if err != nil {
		return nil, fmt.Errorf("load session: %w", err)
	}
	return &s, nil
}

// InsertSession stores a new session.
func (q *Queries) InsertSession(ctx context.Context, s *SessionRow) error {
	const sql = `INSERT INTO sessions (id_hash, kind, data, created_at, last_seen_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)`
	if _, err := q.db.Exec(ctx, sql, s.IDHash, s.Kind, s.Data, s.CreatedAt, s.LastSeenAt, s.ExpiresAt); err != nil {
		return fmt.Errorf("insert session: %w", err)
	}
	return nil
}

// UpdateSession replaces a session's data and marks it seen.
func (q *Queries) UpdateSession(ctx context.Context, h []byte, data []byte, seen time.Time) error {
	const sql = `UPDATE sessions SET data = $2, last_seen_at = $3 WHERE id_hash = $1`
	tag, err := q.db.Exec(ctx, sql, h, data, seen)
	if err != nil {
		return fmt.Errorf("update session: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return kp.Errorf(kp.NotFound, "session expired")
	}
	return nil
}

// RekeySession gives a session a new id hash (and re-sealed data, which is
// bound to the id); its connections follow through ON UPDATE CASCADE.
func (q *Queries) RekeySession(ctx context.Context, old, new, data []byte, seen time.Time) error {
	const sql = `UPDATE sessions SET id_hash = $2, data = $3, last_seen_at = $4 WHERE id_hash = $1`
	tag, err := q.db.Exec(ctx, sql, old, new, data, seen)
	if err != nil {
		return fmt.Errorf("rotate session id: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return kp.Errorf(kp.NotFound, "session expired")
	}
	return nil
}

// DeleteSession removes a session (logout): a replayed cookie is then dead.
func (q *Queries) DeleteSession(ctx context.Context, h []byte) error {
	if _, err := q.db.Exec(ctx, `DELETE FROM sessions WHERE id_hash = $1`, h); err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}

// DeleteExpiredSessions removes sessions past their absolute expiry or idle
// longer than the longest idle timeout, and returns how many.
func (q *Queries) DeleteExpiredSessions(ctx context.Context, kind string, now time.Time, maxIdle time.Duration) (int64, error) {
	tag, err := q.db.Exec(ctx, `DELETE FROM sessions WHERE kind = $1 AND (expires_at <= $2 OR last_seen_at <= $3)`,
		kind, now, now.Add(-maxIdle))
	if err != nil {
		return 0, fmt.Errorf("delete expired sessions: %w", err)
	}
	return tag.RowsAffected(), nil
}
