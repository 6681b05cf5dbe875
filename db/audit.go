package db

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/keyport/keyport/internal/kp"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// AppendAuditEvent appends e through audit_append, which assigns the id,
// time and hash under the chain lock, and returns the stored id, hash and time.
// Outside a transaction it commits at once, which is what an intent needs.
func (q *Queries) AppendAuditEvent(ctx context.Context, e *kp.AuditEvent) error {
	err := q.db.QueryRow(ctx, appendSQL, appendArgs(e)...).Scan(&e.ID, &e.Hash, &e.OccurredAt)
	if err != nil {
		return fmt.Errorf("append audit event %s/%s: %w", e.Action, e.Outcome, err)
	}
	return nil
}

const appendSQL = `SELECT event_id, event_hash, event_time FROM audit_append(
	$1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17::jsonb)`

// appendLazySQL is appendSQL that also sets synchronous_commit off for its
// transaction (read only at commit, so where in the statement it is set
// does not matter): one statement, so a page view still costs one.
const appendLazySQL = `SELECT a.event_id, a.event_hash, a.event_time FROM audit_append(
	$1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17::jsonb) a,
	set_config('synchronous_commit', 'off', true) s`

func appendArgs(e *kp.AuditEvent) []any {
	details := e.Details
	if details == "" {
		details = "{}"
	}
	return []any{e.ActorKind, e.ActorUserID, e.ActorName, e.TenantID, e.TenantName,
		e.Region, e.SessionHash, e.ClientIP, e.UserAgent, e.Action, e.TargetKeyID, e.Outcome,
		e.UpstreamStatus, e.ErrorMessage, e.RequestID, e.IntentID, details}
}

// AppendOptions tune AppendAuditEvents.
type AppendOptions struct {
	// Lazy commits without waiting for the WAL flush (synchronous_commit
	// off for this transaction only). Only for page views (Writer.View):
	// a crash may lose the last fraction of a second of them, never an
	// intent or outcome (docs/security.md).
	Lazy bool
	// Probe, when set, receives synchronous_commit as the transaction saw
	// it (tests: no intent or outcome is ever committed lazily).
	Probe *string
}

// AppendAuditEvents appends es in order in one statement: a single event
// through audit_append, a group through audit_append_many, which takes the
// chain lock and reads the head once, hashes each event in order and
// inserts them all at once (so the daily rollup's trigger fires once).
// Either all are appended or none. This is what lets concurrent writers
// share a commit (internal/audit's group append).
func AppendAuditEvents(ctx context.Context, pool *pgxpool.Pool, es []*kp.AuditEvent, o AppendOptions) error {
	b := &pgx.Batch{}
	switch {
	case len(es) == 1 && o.Lazy:
		b.Queue(appendLazySQL, appendArgs(es[0])...)
	case len(es) == 1:
		b.Queue(appendSQL, appendArgs(es[0])...)
	case o.Lazy:
		b.Queue(appendManyLazySQL, appendManyArgs(es)...)
	default:
		b.Queue(appendManySQL, appendManyArgs(es)...)
	}
	if o.Probe != nil {
		b.Queue(`SELECT current_setting('synchronous_commit')`)
	}
	res := pool.SendBatch(ctx, b)
	if err := scanAppended(res, es); err != nil {
		res.Close()
		return fmt.Errorf("append %d audit events (%s/%s first): %w", len(es), es[0].Action, es[0].Outcome, err)
	}
	if o.Probe != nil {
		if err := res.QueryRow().Scan(o.Probe); err != nil {
			res.Close()
			return fmt.Errorf("append audit events: read synchronous_commit: %w", err)
		}
	}
	if err := res.Close(); err != nil {
		return fmt.Errorf("append audit events: %w", err)
	}
	return nil
}

// scanAppended reads the ids, hashes and times of es, in order.
func scanAppended(res pgx.BatchResults, es []*kp.AuditEvent) error {
	rows, err := res.Query()
	if err != nil {
		return err
	}
	defer rows.Close()
	i := 0
	for rows.Next() {
		if i == len(es) {
			return errors.New("more rows than events")
		}
		if err := rows.Scan(&es[i].ID, &es[i].Hash, &es[i].OccurredAt); err != nil {
			return err
		}
		i++
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if i != len(es) {
		return fmt.Errorf("%d rows for %d events", i, len(es))
	}
	return nil
}

const appendManyArgsSQL = `$1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
	$8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::int4[], $14::text[], $15::text[], $16::int8[],
	$17::text[]::jsonb[]`

const (
	appendManySQL     = `SELECT event_id, event_hash, event_time FROM audit_append_many(` + appendManyArgsSQL + `)`
	appendManyLazySQL = `SELECT a.event_id, a.event_hash, a.event_time FROM audit_append_many(` + appendManyArgsSQL + `) a,
	set_config('synchronous_commit', 'off', true) s`
)

// appendManyArgs is appendArgs by column: one array per parameter.
func appendManyArgs(es []*kp.AuditEvent) []any {
	cols := make([][]any, 17)
	for i := range cols {
		cols[i] = make([]any, len(es))
	}
	for j, e := range es {
		for i, v := range appendArgs(e) {
			cols[i][j] = v
		}
	}
	out := make([]any, 17)
	for i, c := range cols {
		out[i] = c
	}
	return out
}

// auditColumns is every column, details as text, in the order scanAuditEvent reads.
const auditColumns = `id, occurred_at, actor_kind, actor_user_id, actor_name, tenant_id, tenant_name,
	region, session_hash, client_ip, user_agent, action, target_key_id, outcome, upstream_status,
	error_message, request_id, intent_id, details::text, hash_version, prev_hash, hash`

func auditScanTargets(e *kp.AuditEvent) []any {
	return []any{&e.ID, &e.OccurredAt, &e.ActorKind, &e.ActorUserID, &e.ActorName, &e.TenantID, &e.TenantName,
		&e.Region, &e.SessionHash, &e.ClientIP, &e.UserAgent, &e.Action, &e.TargetKeyID, &e.Outcome,
		&e.UpstreamStatus, &e.ErrorMessage, &e.RequestID, &e.IntentID, &e.Details, &e.HashVersion,
		&e.PrevHash, &e.Hash}
}

// ScanAuditChain calls fn for every event with id > afterID in id order,
// reading batchSize rows per query (keyset), so memory stays constant
// however long the chain. fn must not keep e: it is reused.
func (q *Queries) ScanAuditChain(ctx context.Context, afterID int64, batchSize int, fn func(e *kp.AuditEvent) error) error {
	const sql = `SELECT ` + auditColumns + ` FROM audit_events WHERE id > $1 ORDER BY id LIMIT $2`
	var e kp.AuditEvent
	targets := auditScanTargets(&e)
	for {
		rows, err := q.db.Query(ctx, sql, afterID, batchSize)
		if err != nil {
			return fmt.Errorf("read audit chain after %d: %w", afterID, err)
		}
		n := 0
		for rows.Next() {
			if err := rows.Scan(targets...); err != nil {
				rows.Close()
				return fmt.Errorf("read audit event after %d: %w", afterID, err)
			}
			n++
			afterID = e.ID
			if err := fn(&e); err != nil {
				rows.Close()
				return err
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("read audit chain: %w", err)
		}
		if n < batchSize {
			return nil
		}
	}
}

// AuditHead is the newest event's id and hash and the number of events.
type AuditHead struct {
	LastID   int64
	LastHash []byte
	Count    int64
}

// AuditChainHead reads the chain head under the append lock, so it is a
// consistent moment even while others append. Call it inside a transaction:
// the lock is held until that transaction ends.
func (q *Queries) AuditChainHead(ctx context.Context) (AuditHead, error) {
	var h AuditHead
	if _, err := q.db.Exec(ctx, `SELECT pg_advisory_xact_lock(7201540863219452001)`); err != nil {
		return h, fmt.Errorf("lock audit chain: %w", err)
	}
	err := q.db.QueryRow(ctx, `SELECT id, hash FROM audit_events ORDER BY id DESC LIMIT 1`).Scan(&h.LastID, &h.LastHash)
	if errors.Is(err, pgx.ErrNoRows) {
		return AuditHead{LastHash: make([]byte, 32)}, nil
	}
	if err != nil {
		return h, fmt.Errorf("read audit chain head: %w", err)
	}
	// audit_append assigns gapless ids, so the count is the last id; verify
	// counts the events it actually finds and compares.
	h.Count = h.LastID
	return h, nil
}

// AuditCheckpoint is one signed checkpoint.
type AuditCheckpoint struct {
	ID          int64
	CreatedAt   time.Time
	LastEventID int64
	LastHash    []byte
	EventCount  int64
	MAC         []byte
	// KeyID is the id of the audit key that signed it; "" for checkpoints
	// from before key rings (migration 014 could not know the key).
	KeyID string
}

// InsertAuditCheckpoint stores c and sets its id.
func (q *Queries) InsertAuditCheckpoint(ctx context.Context, c *AuditCheckpoint) error {
	const sql = `INSERT INTO audit_checkpoints (created_at, last_event_id, last_hash, event_count, mac, key_id)
		VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`
	if err := q.db.QueryRow(ctx, sql, c.CreatedAt, c.LastEventID, c.LastHash, c.EventCount, c.MAC, c.KeyID).Scan(&c.ID); err != nil {
		return fmt.Errorf("insert audit checkpoint: %w", err)
	}
	return nil
}

// StampAuditCheckpointKey records the id of the audit key that signed a
// checkpoint made before key ids: the one update the table accepts.
func (q *Queries) StampAuditCheckpointKey(ctx context.Context, id int64, keyID string) error {
	const sql = `UPDATE audit_checkpoints SET key_id = $2 WHERE id = $1 AND key_id = ''`
	if _, err := q.db.Exec(ctx, sql, id, keyID); err != nil {
		return fmt.Errorf("record checkpoint %d's key: %w", id, err)
	}
	return nil
}

// AuditCheckpoints returns every checkpoint, oldest first. They are few: one
// per interval.
func (q *Queries) AuditCheckpoints(ctx context.Context) ([]AuditCheckpoint, error) {
	const sql = `SELECT id, created_at, last_event_id, last_hash, event_count, mac, coalesce(key_id, '') FROM audit_checkpoints ORDER BY id`
	rows, err := q.db.Query(ctx, sql)
	if err != nil {
		return nil, fmt.Errorf("list audit checkpoints: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (AuditCheckpoint, error) {
		var c AuditCheckpoint
		err := r.Scan(&c.ID, &c.CreatedAt, &c.LastEventID, &c.LastHash, &c.EventCount, &c.MAC, &c.KeyID)
		return c, err
	})
}

// LatestAuditCheckpoint returns the newest checkpoint, or nil when none exists.
func (q *Queries) LatestAuditCheckpoint(ctx context.Context) (*AuditCheckpoint, error) {
	const sql = `SELECT id, created_at, last_event_id, last_hash, event_count, mac, coalesce(key_id, '') FROM audit_checkpoints ORDER BY id DESC LIMIT 1`
	var c AuditCheckpoint
	err := q.db.QueryRow(ctx, sql).Scan(&c.ID, &c.CreatedAt, &c.LastEventID, &c.LastHash, &c.EventCount, &c.MAC, &c.KeyID)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read latest audit checkpoint: %w", err)
	}
	return &c, nil
}

// OpenAuditIntents returns intents older than before that no outcome points
// at: actions whose outcome write was lost, for reconciliation.
func (q *Queries) OpenAuditIntents(ctx context.Context, before time.Time, limit int) ([]kp.AuditEvent, error) {
	const sql = `SELECT ` + auditColumns + ` FROM audit_events i
		WHERE i.outcome = 'intent' AND i.occurred_at < $1
		  AND NOT EXISTS (SELECT 1 FROM audit_events o WHERE o.intent_id = i.id)
		ORDER BY i.id LIMIT $2`
	rows, err := q.db.Query(ctx, sql, before, limit)
	if err != nil {
		return nil, fmt.Errorf("list open audit intents: %w", err)
	}
	defer rows.Close()
	var out []kp.AuditEvent
	for rows.Next() {
		var e kp.AuditEvent
		if err := rows.Scan(auditScanTargets(&e)...); err != nil {
			return nil, fmt.Errorf("read open audit intent: %w", err)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// CopyAuditEvents appends rows that are already chained (ids, times and
// hashes computed by the caller) with COPY: in one transaction it takes the
// chain lock, reads the head, asks build for the rows that follow it, and
// loads them. Only audit.Seed uses it (development data, benchmarks); the
// live path is audit_append, which chains each row itself.
func CopyAuditEvents(ctx context.Context, pool *pgxpool.Pool, build func(head AuditHead) []kp.AuditEvent) error {
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		head, err := New(tx).AuditChainHead(ctx)
		if err != nil {
			return err
		}
		rows := build(head)
		if len(rows) == 0 {
			return nil
		}
		// Rows may fall in months no one has appended in yet.
		lo, hi := rows[0].OccurredAt, rows[0].OccurredAt
		for i := range rows {
			lo, hi = minTime(lo, rows[i].OccurredAt), maxTime(hi, rows[i].OccurredAt)
		}
		if _, err := tx.Exec(ctx, `SELECT audit_ensure_partitions($1, $2)`, lo, hi); err != nil {
			return fmt.Errorf("create audit partitions: %w", err)
		}
		_, err = tx.CopyFrom(ctx, pgx.Identifier{"audit_events"}, auditCopyColumns, pgx.CopyFromSlice(len(rows), func(i int) ([]any, error) {
			return auditCopyValues(&rows[i]), nil
		}))
		if err != nil {
			return fmt.Errorf("copy %d audit events: %w", len(rows), err)
		}
		return nil
	})
}

// auditCopyColumns are the columns COPY loads, in auditCopyValues' order.
var auditCopyColumns = []string{"id", "occurred_at", "actor_kind", "actor_user_id", "actor_name", "tenant_id",
	"tenant_name", "region", "session_hash", "client_ip", "user_agent", "action", "target_key_id", "outcome",
	"upstream_status", "error_message", "request_id", "intent_id", "details", "hash_version", "prev_hash", "hash"}

// auditCopyValues returns e's values in auditCopyColumns order.
func auditCopyValues(e *kp.AuditEvent) []any {
	return []any{e.ID, e.OccurredAt, e.ActorKind, e.ActorUserID, e.ActorName, e.TenantID, e.TenantName,
		e.Region, e.SessionHash, e.ClientIP, e.UserAgent, e.Action, e.TargetKeyID, e.Outcome,
		e.UpstreamStatus, e.ErrorMessage, e.RequestID, e.IntentID, e.Details, e.HashVersion, e.PrevHash, e.Hash}
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
