package db

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// ScanAuditHashes calls fn with the id and hash of every event with
// afterID < id <= upTo, in id order, batchSize rows per query: what a
// witness comparison needs, without the rest of each row.
func (q *Queries) ScanAuditHashes(ctx context.Context, afterID, upTo int64, batchSize int, fn func(id int64, hash []byte) error) error {
	const sql = `SELECT id, hash FROM audit_events WHERE id > $1 AND id <= $2 ORDER BY id LIMIT $3`
	var (
		id   int64
		hash []byte
	)
	for {
		rows, err := q.db.Query(ctx, sql, afterID, upTo, batchSize)
		if err != nil {
			return fmt.Errorf("read audit hashes after %d: %w", afterID, err)
		}
		n := 0
		for rows.Next() {
			if err := rows.Scan(&id, &hash); err != nil {
				rows.Close()
				return fmt.Errorf("read audit hash after %d: %w", afterID, err)
			}
			n++
			afterID = id
			if err := fn(id, hash); err != nil {
				rows.Close()
				return err
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("read audit hashes: %w", err)
		}
		if n < batchSize {
			return nil
		}
	}
}

// WitnessCheck is one recorded `keyport audit verify --witness`.
type WitnessCheck struct {
	ID            int64
	CheckedAt     time.Time
	CheckedBy     string
	Source        string
	Status        string // agrees, missing, differs, behind, broken
	WitnessEvents int64
	WitnessFirst  int64
	WitnessLast   int64
	DBHead        int64
	Missing       int64
	MissingIDs    string // ranges, capped
	Differs       int64
	DiffersIDs    string
	Behind        int64
	Chain         string // the plain verification's line
}

const witnessCheckColumns = `checked_at, checked_by, source, status, witness_events, witness_first, witness_last,
	db_head, missing, missing_ids, differs, differs_ids, behind, chain`

func witnessCheckValues(c *WitnessCheck) []any {
	return []any{&c.CheckedAt, &c.CheckedBy, &c.Source, &c.Status, &c.WitnessEvents, &c.WitnessFirst, &c.WitnessLast,
		&c.DBHead, &c.Missing, &c.MissingIDs, &c.Differs, &c.DiffersIDs, &c.Behind, &c.Chain}
}

// InsertWitnessCheck records a witness check and sets its id.
func (q *Queries) InsertWitnessCheck(ctx context.Context, c *WitnessCheck) error {
	const sql = `INSERT INTO audit_witness_checks (` + witnessCheckColumns + `)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) RETURNING id`
	c.MissingIDs, c.DiffersIDs, c.Chain = cap2000(c.MissingIDs), cap2000(c.DiffersIDs), cap2000(c.Chain)
	c.Source = capBytes(c.Source, 1000)
	c.CheckedBy = capBytes(c.CheckedBy, 200)
	if err := q.db.QueryRow(ctx, sql, witnessCheckValues(c)...).Scan(&c.ID); err != nil {
		return fmt.Errorf("record witness check: %w", err)
	}
	return nil
}

// LatestWitnessCheck returns the newest witness check, or nil when none ran.
func (q *Queries) LatestWitnessCheck(ctx context.Context) (*WitnessCheck, error) {
	const sql = `SELECT id, ` + witnessCheckColumns + ` FROM audit_witness_checks ORDER BY id DESC LIMIT 1`
	var c WitnessCheck
	err := q.db.QueryRow(ctx, sql).Scan(append([]any{&c.ID}, witnessCheckValues(&c)...)...)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read latest witness check: %w", err)
	}
	return &c, nil
}

func cap2000(s string) string { return capBytes(s, 2000) }

// capBytes cuts s to at most n bytes, on a rune boundary, marking the cut.
func capBytes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n - len("…")
	for cut > 0 && s[cut]&0xC0 == 0x80 {
		cut--
	}
	return s[:cut] + "…"
}
