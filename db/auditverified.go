package db

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// AuditVerification records that a verification found the chain sound up
// to a signed checkpoint (migrations/016_audit_partitions.sql).
type AuditVerification struct {
	ID           int64
	VerifiedAt   time.Time
	CheckpointID int64
	LastEventID  int64
	LastHash     []byte
	FullRun      bool
	MAC          []byte
}

// InsertAuditVerification stores v.
func (q *Queries) InsertAuditVerification(ctx context.Context, v *AuditVerification) error {
	err := q.db.QueryRow(ctx, `INSERT INTO audit_verifications (verified_at, checkpoint_id, last_event_id, last_hash, full_run, mac)
		VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`, v.VerifiedAt, v.CheckpointID, v.LastEventID, v.LastHash, v.FullRun, v.MAC).Scan(&v.ID)
	if err != nil {
		return fmt.Errorf("record audit verification: %w", err)
	}
	return nil
}

// RecentAuditVerifications returns the newest limit verifications, newest first.
func (q *Queries) RecentAuditVerifications(ctx context.Context, limit int) ([]AuditVerification, error) {
	rows, err := q.db.Query(ctx, `SELECT id, verified_at, checkpoint_id, last_event_id, last_hash, full_run, mac
		FROM audit_verifications ORDER BY id DESC LIMIT $1`, limit)
	if err != nil {
		return nil, fmt.Errorf("list audit verifications: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (AuditVerification, error) {
		var v AuditVerification
		err := r.Scan(&v.ID, &v.VerifiedAt, &v.CheckpointID, &v.LastEventID, &v.LastHash, &v.FullRun, &v.MAC)
		return v, err
	})
}
