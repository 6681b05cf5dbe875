package db

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/keyport/keyport/internal/kp"
)

// auditQuery is a filter turned into SQL: conditions over positional
// arguments. It is built only from the fixed fragments below and the
// filter's values as arguments, never from request text.
type auditQuery struct {
	conds []string
	args  []any
	empty bool // the time range holds no event: skip the query
}

func (a *auditQuery) add(cond string, v any) {
	a.args = append(a.args, v)
	a.conds = append(a.conds, strings.ReplaceAll(cond, "$?", "$"+strconv.Itoa(len(a.args))))
}

func (a *auditQuery) where() string {
	if len(a.conds) == 0 {
		return "TRUE"
	}
	return strings.Join(a.conds, " AND ")
}

// Time bounds become id bounds: the chain's ids grow with time (events are
// appended under one lock with the database clock), so the id range of a
// time range is found with two probes of audit_events_time, and every other
// filter can then walk its own (column, id) index in id order. The time
// conditions stay too, so the result is exact even across a clock step.
const (
	sqlAuditFirstIDFrom  = `SELECT id FROM audit_events WHERE occurred_at >= $1 ORDER BY occurred_at, id LIMIT 1`
	sqlAuditLastIDBefore = `SELECT id FROM audit_events WHERE occurred_at < $1 ORDER BY occurred_at DESC, id DESC LIMIT 1`
)

// build turns f into conditions, probing the time index for id bounds.
func (q *Queries) build(ctx context.Context, f kp.AuditFilter) (*auditQuery, error) {
	a := &auditQuery{}
	if !f.From.IsZero() {
		var lo int64
		err := q.db.QueryRow(ctx, sqlAuditFirstIDFrom, f.From).Scan(&lo)
		if errors.Is(err, pgx.ErrNoRows) {
			a.empty = true
		} else if err != nil {
			return nil, fmt.Errorf("find first audit event from %s: %w", f.From, err)
		}
		a.add("id >= $?", lo)
		a.add("occurred_at >= $?", f.From)
	}
	if !f.To.IsZero() {
		var hi int64
		err := q.db.QueryRow(ctx, sqlAuditLastIDBefore, f.To).Scan(&hi)
		if errors.Is(err, pgx.ErrNoRows) {
			a.empty = true
		} else if err != nil {
			return nil, fmt.Errorf("find last audit event before %s: %w", f.To, err)
		}
		a.add("id <= $?", hi)
		a.add("occurred_at < $?", f.To)
	}
	for _, c := range []struct {
		v, cond string
	}{
		{f.TenantID, "tenant_id = $?"},
		{string(f.Region), "region = $?"},
		{f.ActorUserID, "actor_user_id = $?"},
		{string(f.Action), "action = $?"},
		{string(f.Outcome), "outcome = $?"},
		{f.RequestID, "request_id = $?"},
	} {
		if c.v != "" {
			a.add(c.cond, c.v)
		}
	}
	if f.KeyID != "" {
		// target_key_id <> '' lets the planner use the partial key index.
		a.add("target_key_id = $? AND target_key_id <> ''", f.KeyID)
	}
	if f.Text != "" {
		a.add(`error_message ILIKE '%' || $? || '%'`, likeEscape(f.Text))
	}
	return a, nil
}

// likeEscape makes s match literally inside ILIKE (backslash is the default
// escape character).
func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// listSQL is the event list query for a built filter: newest first (or
// oldest first after a cursor, for the "newer" page), one row more than the
// page to know whether another page follows.
func listSQL(a *auditQuery, before, after int64, limit int) (string, []any) {
	b := *a
	b.conds = append([]string(nil), a.conds...)
	b.args = append([]any(nil), a.args...)
	order := "DESC"
	if after > 0 {
		b.add("id > $?", after)
		order = "ASC"
	} else if before > 0 {
		b.add("id < $?", before)
	}
	b.args = append(b.args, limit+1)
	sql := `SELECT ` + auditColumns + ` FROM audit_events WHERE ` + b.where() +
		` ORDER BY id ` + order + ` LIMIT $` + strconv.Itoa(len(b.args))
	return sql, b.args
}

// ListAuditEvents returns one page of events matching f, newest first:
// those older than before (when before > 0), or the page just newer than
// after (when after > 0). Each filter has an index ending in id, so a page
// is an index walk whatever the trail's size.
func (q *Queries) ListAuditEvents(ctx context.Context, f kp.AuditFilter, before, after int64, limit int) (kp.AuditPage, error) {
	var p kp.AuditPage
	a, err := q.build(ctx, f)
	if err != nil || a.empty {
		return p, err
	}
	sql, args := listSQL(a, before, after, limit)
	rows, err := q.db.Query(ctx, sql, args...)
	if err != nil {
		return p, fmt.Errorf("list audit events: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var e kp.AuditEvent
		if err := rows.Scan(auditScanTargets(&e)...); err != nil {
			return p, fmt.Errorf("read audit event: %w", err)
		}
		p.Events = append(p.Events, e)
	}
	if err := rows.Err(); err != nil {
		return p, fmt.Errorf("list audit events: %w", err)
	}
	more := len(p.Events) > limit
	if more {
		p.Events = p.Events[:limit]
	}
	if after > 0 {
		for i, j := 0, len(p.Events)-1; i < j; i, j = i+1, j-1 {
			p.Events[i], p.Events[j] = p.Events[j], p.Events[i]
		}
	}
	if len(p.Events) > 0 {
		first, last := p.Events[0].ID, p.Events[len(p.Events)-1].ID
		if after > 0 {
			p.Older = last
			if more {
				p.Newer = first
			}
		} else {
			if more {
				p.Older = last
			}
			if before > 0 {
				p.Newer = first
			}
		}
	}
	return p, nil
}

// ExplainAuditEvents returns the plan of the first page's query for f (the
// id bounds of a time range already resolved), for tests and benchmarks
// that check no filter reads the whole table.
func (q *Queries) ExplainAuditEvents(ctx context.Context, f kp.AuditFilter, limit int) (string, error) {
	a, err := q.build(ctx, f)
	if err != nil {
		return "", err
	}
	sql, args := listSQL(a, 0, 0, limit)
	rows, err := q.db.Query(ctx, "EXPLAIN "+sql, args...)
	if err != nil {
		return "", fmt.Errorf("explain audit list: %w", err)
	}
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return "", fmt.Errorf("explain audit list: %w", err)
	}
	return strings.Join(lines, "\n"), nil
}

// AuditHeadID is the newest event's id (0 for an empty trail): an export
// pins it first, so it lists exactly the events that existed when it began.
func (q *Queries) AuditHeadID(ctx context.Context) (int64, error) {
	const sql = `SELECT coalesce(max(id), 0) FROM audit_events`
	var id int64
	if err := q.db.QueryRow(ctx, sql).Scan(&id); err != nil {
		return 0, fmt.Errorf("read audit head id: %w", err)
	}
	return id, nil
}

// ScanAuditEvents calls fn for every event matching f with id <= upTo,
// newest first, reading batch rows per query (keyset on id), so memory stays
// constant however many events match. fn must not keep e: it is reused.
func (q *Queries) ScanAuditEvents(ctx context.Context, f kp.AuditFilter, upTo int64, batch int, fn func(e *kp.AuditEvent) error) error {
	a, err := q.build(ctx, f)
	if err != nil || a.empty {
		return err
	}
	var e kp.AuditEvent
	targets := auditScanTargets(&e)
	before := upTo + 1
	for {
		sql, args := listSQL(a, before, 0, batch-1) // listSQL asks for limit+1
		rows, err := q.db.Query(ctx, sql, args...)
		if err != nil {
			return fmt.Errorf("scan audit events: %w", err)
		}
		n := 0
		for rows.Next() {
			if err := rows.Scan(targets...); err != nil {
				rows.Close()
				return fmt.Errorf("read audit event: %w", err)
			}
			n++
			before = e.ID
			if err := fn(&e); err != nil {
				rows.Close()
				return err
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("scan audit events: %w", err)
		}
		if n < batch {
			return nil
		}
	}
}

// AuditEventByID returns one event, or kp.NotFound.
func (q *Queries) AuditEventByID(ctx context.Context, id int64) (*kp.AuditEvent, error) {
	const sql = `SELECT ` + auditColumns + ` FROM audit_events WHERE id = $1`
	var e kp.AuditEvent
	err := q.db.QueryRow(ctx, sql, id).Scan(auditScanTargets(&e)...)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, kp.Errorf(kp.NotFound, "There is no audit event %d.", id)
	}
	if err != nil {
		return nil, fmt.Errorf("read audit event %d: %w", id, err)
	}
	return &e, nil
}

// AuditOutcomesOf returns the outcomes recorded for an intent, oldest first
// (normally one; none while the action is open or if its outcome was lost).
func (q *Queries) AuditOutcomesOf(ctx context.Context, intentID int64) ([]kp.AuditEvent, error) {
	const sql = `SELECT ` + auditColumns + ` FROM audit_events WHERE intent_id = $1 ORDER BY id LIMIT 10`
	return q.collectAudit(ctx, "list outcomes of intent", sql, intentID)
}

// AuditEventLink recomputes event id's hash with the database's canonical
// encoding (audit_canonical_v1, the one audit_append hashes with) and
// compares its prev_hash with its predecessor's hash. This checks one link;
// `keyport audit verify` checks the whole chain independently, in Go.
func (q *Queries) AuditEventLink(ctx context.Context, id int64) (kp.AuditLink, error) {
	const sql = `SELECT
		e.hash = sha256(e.prev_hash || audit_canonical_v1(e.id, e.occurred_at, e.actor_kind, e.actor_user_id,
			e.actor_name, e.tenant_id, e.tenant_name, e.region, e.session_hash, e.client_ip, e.user_agent,
			e.action, e.target_key_id, e.outcome, e.upstream_status, e.error_message, e.request_id,
			e.intent_id, e.details)),
		e.prev_hash = coalesce(p.hash, '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea)
			AND (p.id IS NOT NULL OR e.id = 1),
		coalesce(p.id, 0)
		FROM audit_events e LEFT JOIN audit_events p ON p.id = e.id - 1
		WHERE e.id = $1`
	var l kp.AuditLink
	err := q.db.QueryRow(ctx, sql, id).Scan(&l.HashMatches, &l.PrevMatches, &l.PredecessorID)
	if errors.Is(err, pgx.ErrNoRows) {
		return l, kp.Errorf(kp.NotFound, "There is no audit event %d.", id)
	}
	if err != nil {
		return l, fmt.Errorf("check audit event %d: %w", id, err)
	}
	return l, nil
}

// AuditKeyHistory returns up to limit events about one access key, oldest
// first: its whole recorded life (create, verify, deactivate, delete,
// lookups). It walks audit_events_key.
func (q *Queries) AuditKeyHistory(ctx context.Context, keyID string, limit int) ([]kp.AuditEvent, error) {
	const sql = `SELECT ` + auditColumns + ` FROM audit_events
		WHERE target_key_id = $1 AND target_key_id <> '' ORDER BY id LIMIT $2`
	return q.collectAudit(ctx, "list key history", sql, keyID, limit)
}

func (q *Queries) collectAudit(ctx context.Context, what, sql string, args ...any) ([]kp.AuditEvent, error) {
	rows, err := q.db.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	defer rows.Close()
	var out []kp.AuditEvent
	for rows.Next() {
		var e kp.AuditEvent
		if err := rows.Scan(auditScanTargets(&e)...); err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return out, nil
}

// AuditDailyCounts returns the per-day, per-outcome counts from since (a
// UTC date) on, from the rollup the append trigger maintains (migration
// 004), so the activity chart reads at most a few hundred rows.
func (q *Queries) AuditDailyCounts(ctx context.Context, since time.Time) ([]kp.AuditDayCount, error) {
	const sql = `SELECT day::timestamp AT TIME ZONE 'UTC', outcome, events FROM audit_daily_counts
		WHERE day >= $1::date ORDER BY day, outcome`
	rows, err := q.db.Query(ctx, sql, since.UTC().Format(time.DateOnly))
	if err != nil {
		return nil, fmt.Errorf("read audit daily counts: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (kp.AuditDayCount, error) {
		var c kp.AuditDayCount
		err := r.Scan(&c.Day, &c.Outcome, &c.Events)
		c.Day = c.Day.UTC()
		return c, err
	})
}
