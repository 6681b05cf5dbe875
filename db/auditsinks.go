package db

import (
	"context"
	"fmt"
	"time"

	"github.com/keyport/keyport/internal/kp"
)

// SinkCursor is one audit sink's delivery state.
type SinkCursor struct {
	Name        string
	Target      string
	LastID      int64
	DeliveredAt *time.Time
	Failures    int64
	LastError   string
	LastErrorAt *time.Time
}

// EnsureSinkCursor creates name's cursor at 0 (everything still to deliver)
// unless it exists, and records the sink's current target for people.
func (q *Queries) EnsureSinkCursor(ctx context.Context, name, target string) error {
	const sql = `INSERT INTO audit_sink_cursors (name, target) VALUES ($1, $2)
		ON CONFLICT (name) DO UPDATE SET target = EXCLUDED.target WHERE audit_sink_cursors.target <> EXCLUDED.target`
	if _, err := q.db.Exec(ctx, sql, name, target); err != nil {
		return fmt.Errorf("create audit sink cursor %s: %w", name, err)
	}
	return nil
}

// SinkCursors lists every sink's cursor by name.
func (q *Queries) SinkCursors(ctx context.Context) ([]SinkCursor, error) {
	rows, err := q.db.Query(ctx, `SELECT name, target, last_id, delivered_at, failures, last_error, last_error_at
		FROM audit_sink_cursors ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list audit sink cursors: %w", err)
	}
	defer rows.Close()
	var out []SinkCursor
	for rows.Next() {
		var c SinkCursor
		if err := rows.Scan(&c.Name, &c.Target, &c.LastID, &c.DeliveredAt, &c.Failures, &c.LastError, &c.LastErrorAt); err != nil {
			return nil, fmt.Errorf("read audit sink cursor: %w", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list audit sink cursors: %w", err)
	}
	return out, nil
}

// SinkCursorID reads name's last acknowledged id.
func (q *Queries) SinkCursorID(ctx context.Context, name string) (int64, error) {
	var id int64
	if err := q.db.QueryRow(ctx, `SELECT last_id FROM audit_sink_cursors WHERE name = $1`, name).Scan(&id); err != nil {
		return 0, fmt.Errorf("read audit sink cursor %s: %w", name, err)
	}
	return id, nil
}

// AdvanceSinkCursor moves name's cursor forward to id and clears its
// failure count. It never moves a cursor back, so a slow instance that lost
// the sink's lock cannot undo another's progress.
func (q *Queries) AdvanceSinkCursor(ctx context.Context, name string, id int64, at time.Time) error {
	const sql = `UPDATE audit_sink_cursors SET last_id = GREATEST(last_id, $2), delivered_at = $3, failures = 0
		WHERE name = $1`
	if _, err := q.db.Exec(ctx, sql, name, id, at); err != nil {
		return fmt.Errorf("advance audit sink cursor %s to %d: %w", name, id, err)
	}
	return nil
}

// RecordSinkFailure counts a failed delivery attempt and keeps its message.
func (q *Queries) RecordSinkFailure(ctx context.Context, name, msg string, at time.Time) error {
	if len(msg) > 1024 {
		msg = msg[:1024]
	}
	const sql = `UPDATE audit_sink_cursors SET failures = failures + 1, last_error = $2, last_error_at = $3 WHERE name = $1`
	if _, err := q.db.Exec(ctx, sql, name, msg, at); err != nil {
		return fmt.Errorf("record audit sink failure %s: %w", name, err)
	}
	return nil
}

// AuditEventsAfter reads up to limit events with id > after, in id order.
func (q *Queries) AuditEventsAfter(ctx context.Context, after int64, limit int) ([]kp.AuditEvent, error) {
	return q.collectAudit(ctx, "audit events to stream",
		`SELECT `+auditColumns+` FROM audit_events WHERE id > $1 ORDER BY id LIMIT $2`, after, limit)
}

// AuditEventTime is when event id happened (zero when there is no such event).
func (q *Queries) AuditEventTime(ctx context.Context, id int64) (time.Time, error) {
	var t time.Time
	err := q.db.QueryRow(ctx, `SELECT COALESCE((SELECT occurred_at FROM audit_events WHERE id = $1), 'epoch'::timestamptz)`, id).Scan(&t)
	if err != nil {
		return t, fmt.Errorf("read audit event %d time: %w", id, err)
	}
	if t.Unix() == 0 {
		return time.Time{}, nil
	}
	return t, nil
}
