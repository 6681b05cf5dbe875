package db

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/keyport/keyport/internal/kp"
)

// ScanAuditMonth calls fn for every event of one monthly partition in id
// order, batchSize rows per query. fn must not keep e: it is reused.
func (q *Queries) ScanAuditMonth(ctx context.Context, p AuditPartition, batchSize int, fn func(e *kp.AuditEvent) error) error {
	sql := `SELECT ` + auditColumns + ` FROM ` + pgx.Identifier{p.Name}.Sanitize() + ` WHERE id > $1 ORDER BY id LIMIT $2`
	var e kp.AuditEvent
	targets := auditScanTargets(&e)
	after := int64(0)
	for {
		rows, err := q.db.Query(ctx, sql, after, batchSize)
		if err != nil {
			return fmt.Errorf("read %s after %d: %w", p.Name, after, err)
		}
		n := 0
		for rows.Next() {
			if err := rows.Scan(targets...); err != nil {
				rows.Close()
				return fmt.Errorf("read %s after %d: %w", p.Name, after, err)
			}
			n++
			after = e.ID
			if err := fn(&e); err != nil {
				rows.Close()
				return err
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("read %s: %w", p.Name, err)
		}
		if n < batchSize {
			return nil
		}
	}
}

// AuditArchive is one month moved out of the database by `keyport audit archive`.
type AuditArchive struct {
	Partition    string
	ArchivedAt   time.Time
	FirstID      int64
	LastID       int64
	FirstPrev    []byte
	LastHash     []byte
	Count        int64
	FileSHA256   []byte
	CheckpointID int64
	EventID      int64 // the audit.archive event
}

// AuditArchives lists the archived months, oldest first.
func (q *Queries) AuditArchives(ctx context.Context) ([]AuditArchive, error) {
	rows, err := q.db.Query(ctx, `SELECT partition, archived_at, first_id, last_id, first_prev, last_hash, event_count,
		file_sha256, checkpoint_id, event_id FROM audit_archives ORDER BY first_id`)
	if err != nil {
		return nil, fmt.Errorf("list audit archives: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (AuditArchive, error) {
		var a AuditArchive
		err := r.Scan(&a.Partition, &a.ArchivedAt, &a.FirstID, &a.LastID, &a.FirstPrev, &a.LastHash, &a.Count,
			&a.FileSHA256, &a.CheckpointID, &a.EventID)
		return a, err
	})
}

// ArchiveAuditMonth hands a month that was written to a file and checked
// to audit_archive_month, which checks it again, records it, appends the
// audit.archive event and detaches and drops the partition, in one
// transaction. It returns the audit.archive event's id.
func (q *Queries) ArchiveAuditMonth(ctx context.Context, a AuditArchive, details any) (int64, error) {
	d, err := json.Marshal(details)
	if err != nil {
		return 0, fmt.Errorf("archive %s: %w", a.Partition, err)
	}
	var id int64
	err = q.db.QueryRow(ctx, `SELECT audit_archive_month($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb)`,
		a.Partition, a.FirstID, a.LastID, a.FirstPrev, a.LastHash, a.Count, a.FileSHA256, a.CheckpointID, string(d)).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("archive %s: %w", a.Partition, err)
	}
	return id, nil
}
