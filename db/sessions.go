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
	IDHash []byte
	Kind   string
	Data   []byte // sealed
	// CookieKeyID is the id of the session key that signed the cookie last
	// sent for this session ("" for sessions from before key rings).
	CookieKeyID string
	// Owner is whose session it is, in the clear ("" when nobody's): see
	// migrations/020_session_owner.sql.
	Owner      string
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
	const sql = `INSERT INTO sessions (id_hash, kind, data, cookie_key_id, owner, created_at, last_seen_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`
	if _, err := q.db.Exec(ctx, sql, s.IDHash, s.Kind, s.Data, s.CookieKeyID, s.Owner, s.CreatedAt, s.LastSeenAt, s.ExpiresAt); err != nil {
		return fmt.Errorf("insert session: %w", err)
	}
	return nil
}

// UpdateSession replaces a session's data and owner, records which session
// key signs its cookie, and marks it seen.
func (q *Queries) UpdateSession(ctx context.Context, h []byte, data []byte, cookieKeyID, owner string, seen time.Time) error {
	const sql = `UPDATE sessions SET data = $2, cookie_key_id = $3, last_seen_at = $4, owner = $5 WHERE id_hash = $1`
	tag, err := q.db.Exec(ctx, sql, h, data, cookieKeyID, seen, owner)
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
func (q *Queries) RekeySession(ctx context.Context, old, new, data []byte, cookieKeyID, owner string, seen time.Time) error {
	const sql = `UPDATE sessions SET id_hash = $2, data = $3, cookie_key_id = $4, last_seen_at = $5, owner = $6 WHERE id_hash = $1`
	tag, err := q.db.Exec(ctx, sql, old, new, data, cookieKeyID, seen, owner)
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

// SessionPreload, put in a request's context by WithSessionPreload, asks the
// session store to read the session's connections in the statement that
// loads the session: an admin page needs both, and every statement saved
// is a round trip saved on every view (issue 14).
type SessionPreload struct {
	Done  bool            // the store loaded the session this way (a new session has no connections)
	Conns []ConnectionRow // the session's connections, oldest first
}

type sessionPreloadKey struct{}

// WithSessionPreload returns ctx carrying an empty SessionPreload.
func WithSessionPreload(ctx context.Context) (context.Context, *SessionPreload) {
	p := &SessionPreload{}
	return context.WithValue(ctx, sessionPreloadKey{}, p), p
}

// SessionPreloadFrom is ctx's SessionPreload, or nil.
func SessionPreloadFrom(ctx context.Context) *SessionPreload {
	p, _ := ctx.Value(sessionPreloadKey{}).(*SessionPreload)
	return p
}

// LoadSessionWithConnections is LoadSession that also returns the session's
// connections, in one statement.
func (q *Queries) LoadSessionWithConnections(ctx context.Context, h []byte, kind string, now time.Time, idle time.Duration) (*SessionRow, []ConnectionRow, error) {
	const sql = `SELECT s.id_hash, s.kind, s.data, s.created_at, s.last_seen_at, s.expires_at,
			c.id::text, c.session_id_hash, c.region, c.tenant_id, c.tenant_name, c.user_id, c.user_name, c.business_unit,
			c.identity_verified, c.tokens, c.access_expires_at, c.refresh_expires_at, c.state, c.can_manage_others, c.created_at
		FROM sessions s LEFT JOIN connections c ON c.session_id_hash = s.id_hash
		WHERE s.id_hash = $1 AND s.kind = $2 AND s.expires_at > $3 AND s.last_seen_at > $4
		ORDER BY c.created_at, c.id`
	rows, err := q.db.Query(ctx, sql, h, kind, now, now.Add(-idle))
	if err != nil {
		return nil, nil, fmt.Errorf("load session: %w", err)
	}
	defer rows.Close()
	var s *SessionRow
	var conns []ConnectionRow
	for rows.Next() {
		var row SessionRow
		var id, region, tenantID, tenantName, userID, userName, bu, state *string
		var verified, manage *bool
		var sessHash, tokens []byte
		var access, refresh, created *time.Time
		if err := rows.Scan(&row.IDHash, &row.Kind, &row.Data, &row.CreatedAt, &row.LastSeenAt, &row.ExpiresAt,
			&id, &sessHash, &region, &tenantID, &tenantName, &userID, &userName, &bu, &verified, &tokens, &access,
			&refresh, &state, &manage, &created); err != nil {
			return nil, nil, fmt.Errorf("read session: %w", err)
		}
		if s == nil {
			s = &row
		}
		if id == nil {
			continue // a session without connections
		}
		conns = append(conns, ConnectionRow{ID: *id, SessionIDHash: sessHash, Region: kp.Region(*region), TenantID: *tenantID,
			TenantName: *tenantName, UserID: *userID, UserName: *userName, BusinessUnit: *bu, IdentityVerified: *verified,
			Tokens: tokens, AccessExpiresAt: *access, RefreshExpiresAt: refresh, State: *state, CanManageOthers: manage,
			CreatedAt: *created})
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("load session: %w", err)
	}
	if s == nil {
		return nil, nil, kp.Errorf(kp.NotFound, "session expired")
	}
	return s, conns, nil
}

// SessionsOf returns owner's live sessions of kind, newest first.
func (q *Queries) SessionsOf(ctx context.Context, kind, owner string, now time.Time, idle time.Duration) ([]SessionRow, error) {
	const sql = `SELECT id_hash, kind, data, owner, created_at, last_seen_at, expires_at FROM sessions
		WHERE kind = $1 AND owner = $2 AND owner <> '' AND expires_at > $3 AND last_seen_at > $4
		ORDER BY created_at DESC, id_hash`
	rows, err := q.db.Query(ctx, sql, kind, owner, now, now.Add(-idle))
	if err != nil {
		return nil, fmt.Errorf("list sessions: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (SessionRow, error) {
		var s SessionRow
		err := r.Scan(&s.IDHash, &s.Kind, &s.Data, &s.Owner, &s.CreatedAt, &s.LastSeenAt, &s.ExpiresAt)
		return s, err
	})
}

// DeleteSessionsOf deletes owner's sessions of kind: the one whose id hash
// is h, or every one when h is nil. It returns how many.
func (q *Queries) DeleteSessionsOf(ctx context.Context, kind, owner string, h []byte) (int64, error) {
	const sql = `DELETE FROM sessions WHERE kind = $1 AND owner = $2 AND owner <> '' AND ($3::bytea IS NULL OR id_hash = $3)`
	tag, err := q.db.Exec(ctx, sql, kind, owner, h)
	if err != nil {
		return 0, fmt.Errorf("end sessions: %w", err)
	}
	return tag.RowsAffected(), nil
}
