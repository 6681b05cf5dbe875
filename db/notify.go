package db

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnsureSinkCursorAtHead is EnsureSinkCursor for a cursor that starts at
// the trail's newest event (a notification target: what happens next, not
// the whole past).
func (q *Queries) EnsureSinkCursorAtHead(ctx context.Context, name, target string) error {
	const sql = `INSERT INTO audit_sink_cursors (name, target, last_id)
		VALUES ($1, $2, (SELECT coalesce(max(id), 0) FROM audit_events))
		ON CONFLICT (name) DO UPDATE SET target = EXCLUDED.target WHERE audit_sink_cursors.target <> EXCLUDED.target`
	if _, err := q.db.Exec(ctx, sql, name, target); err != nil {
		return fmt.Errorf("create notification cursor %s: %w", name, err)
	}
	return nil
}

// OwnerAddress returns the name Keyport last saw for a key's owner when it
// is an e-mail address (CXone tokens often name a user by address), else "".
func (q *Queries) OwnerAddress(ctx context.Context, region, tenantID, keyID string) (string, error) {
	const sql = `SELECT u.name FROM credential_report r
		JOIN cxone_users u ON u.region = r.region AND u.tenant_id = r.tenant_id AND u.user_key = lower(r.owner_user_id)
		WHERE r.region = $1 AND r.tenant_id = $2 AND r.access_key_id = $3 AND u.name LIKE '%_@_%'`
	var name string
	err := q.db.QueryRow(ctx, sql, region, tenantID, keyID).Scan(&name)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read a key owner's address: %w", err)
	}
	return name, nil
}

// FailingSink is a sink failing since Since, its last error.
type FailingSink struct {
	Name, Target, LastError string
	Since                   time.Time
	Failures                int64
}

// ClaimFailingSinks marks the sinks failing since before cutoff that were
// not yet recorded as such and returns them: each outage once, whichever
// instance claims it (the row lock of the UPDATE).
func (q *Queries) ClaimFailingSinks(ctx context.Context, cutoff time.Time) ([]FailingSink, error) {
	const sql = `UPDATE audit_sink_cursors SET failing_noted = true
		WHERE failures > 0 AND NOT failing_noted AND failing_since < $1
		RETURNING name, target, last_error, failing_since, failures`
	rows, err := q.db.Query(ctx, sql, cutoff)
	if err != nil {
		return nil, fmt.Errorf("claim failing sinks: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (FailingSink, error) {
		var f FailingSink
		err := r.Scan(&f.Name, &f.Target, &f.LastError, &f.Since, &f.Failures)
		return f, err
	})
	if err != nil {
		return nil, fmt.Errorf("claim failing sinks: %w", err)
	}
	return out, nil
}

// Delivery is one notification a target accepted.
type Delivery struct {
	Target, NotificationID, Event string
	AuditEventID                  int64
	DeliveredAt                   time.Time
}

// RecordDelivery adds a delivery to the log and drops entries older than
// 30 days.
func (q *Queries) RecordDelivery(ctx context.Context, d Delivery) error {
	const sql = `WITH old AS (DELETE FROM notify_deliveries WHERE delivered_at < $5::timestamptz - interval '30 days')
		INSERT INTO notify_deliveries (target, notification_id, event, audit_event_id, delivered_at) VALUES ($1, $2, $3, $4, $5)`
	if _, err := q.db.Exec(ctx, sql, d.Target, d.NotificationID, d.Event, d.AuditEventID, d.DeliveredAt); err != nil {
		return fmt.Errorf("record a notification delivery: %w", err)
	}
	return nil
}

// RecentDeliveries returns the latest n deliveries, newest first.
func (q *Queries) RecentDeliveries(ctx context.Context, n int) ([]Delivery, error) {
	rows, err := q.db.Query(ctx, `SELECT target, notification_id, event, audit_event_id, delivered_at FROM notify_deliveries
		ORDER BY delivered_at DESC, id DESC LIMIT $1`, n)
	if err != nil {
		return nil, fmt.Errorf("read the notification log: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Delivery, error) {
		var d Delivery
		err := r.Scan(&d.Target, &d.NotificationID, &d.Event, &d.AuditEventID, &d.DeliveredAt)
		return d, err
	})
	if err != nil {
		return nil, fmt.Errorf("read the notification log: %w", err)
	}
	return out, nil
}
