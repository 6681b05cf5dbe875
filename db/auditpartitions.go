package db

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnsureAuditPartitions creates every missing monthly partition of
// audit_events from from's month to to's (migrations/016_audit_partitions.sql).
func (q *Queries) EnsureAuditPartitions(ctx context.Context, from, to time.Time) error {
	if _, err := q.db.Exec(ctx, `SELECT audit_ensure_partitions($1, $2)`, from, to); err != nil {
		return fmt.Errorf("create audit partitions: %w", err)
	}
	return nil
}

// AuditPartition is one month of audit_events.
type AuditPartition struct {
	Name  string    // audit_events_YYYY_MM
	Month time.Time // its first instant, UTC
}

// AuditPartitions lists the live months, oldest first.
func (q *Queries) AuditPartitions(ctx context.Context) ([]AuditPartition, error) {
	const sql = `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
		WHERE i.inhparent = 'audit_events'::regclass ORDER BY c.relname`
	rows, err := q.db.Query(ctx, sql)
	if err != nil {
		return nil, fmt.Errorf("list audit partitions: %w", err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("list audit partitions: %w", err)
	}
	out := make([]AuditPartition, 0, len(names))
	for _, n := range names {
		m, err := time.Parse("2006_01", n[len("audit_events_"):])
		if err != nil {
			return nil, fmt.Errorf("audit partition %q: unexpected name", n)
		}
		out = append(out, AuditPartition{Name: n, Month: m})
	}
	return out, nil
}
