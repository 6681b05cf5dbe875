package db

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/keyport/keyport/internal/kp"
)

// An action is an intent and its outcome (outcome rows point at their
// intent), or a single event that has no intent. The grouped lists show
// each action once, as its latest event: an outcome that no later outcome
// of its intent follows, a single event, or an intent no outcome points at
// yet. That event carries everything the filters ask about (actor, tenant,
// area, action and request id are copied from the intent; the key, which a
// create learns only on success; the result and its message), so the
// filters and the (column, id) indexes of the event list apply to it
// unchanged, and "is it the latest" is one probe of audit_events_intent.
const sqlActionHead = `NOT EXISTS (SELECT 1 FROM audit_events s
	WHERE s.intent_id = coalesce(audit_events.intent_id, audit_events.id) AND s.id > audit_events.id)`

// actionsSQL is the grouped list query: listSQL's page of latest events,
// without the actions in hide, each joined to its intent's time.
func actionsSQL(a *auditQuery, hide []kp.Action, before, after int64, limit int) (string, []any) {
	b := *a
	b.conds = append(append([]string(nil), a.conds...), sqlActionHead)
	b.args = append([]any(nil), a.args...)
	if len(hide) > 0 {
		names := make([]string, len(hide))
		for i, h := range hide {
			names[i] = string(h)
		}
		b.add("action <> ALL($?)", names)
	}
	inner, args := listSQL(&b, before, after, limit)
	order := "DESC"
	if after > 0 {
		order = "ASC"
	}
	return `SELECT e.*, coalesce(i.occurred_at, e.occurred_at) FROM (` + inner + `) e
		LEFT JOIN audit_events i ON i.id = e.intent_id ORDER BY e.id ` + order, args
}

// ListAuditActions returns one page of actions matching f, newest first by
// their latest event, leaving out the actions in hide; before and after are
// cursors as for ListAuditEvents. An outcome filter matches an action by
// its result ("intent": no outcome yet).
func (q *Queries) ListAuditActions(ctx context.Context, f kp.AuditFilter, hide []kp.Action, before, after int64, limit int) (kp.AuditActionPage, error) {
	var p kp.AuditActionPage
	a, err := q.build(ctx, f)
	if err != nil || a.empty {
		return p, err
	}
	sql, args := actionsSQL(a, hide, before, after, limit)
	rows, err := q.db.Query(ctx, sql, args...)
	if err != nil {
		return p, fmt.Errorf("list audit actions: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var x kp.AuditAction
		if err := rows.Scan(append(auditScanTargets(&x.Event), &x.StartedAt)...); err != nil {
			return p, fmt.Errorf("read audit action: %w", err)
		}
		p.Actions = append(p.Actions, x)
	}
	if err := rows.Err(); err != nil {
		return p, fmt.Errorf("list audit actions: %w", err)
	}
	ids := make([]int64, len(p.Actions))
	for i := range p.Actions {
		ids[i] = p.Actions[i].Event.ID
	}
	n, older, newer := pageBounds(ids, before, after, limit)
	p.Actions, p.Older, p.Newer = p.Actions[:n], older, newer
	if after > 0 {
		slices.Reverse(p.Actions)
	}
	return p, nil
}

// pageBounds reads a page query's result (ids in query order, at most
// limit+1: newest first, or oldest first for an "after" page): how many rows
// to keep and the cursors of the pages on either side.
func pageBounds(ids []int64, before, after int64, limit int) (keep int, older, newer int64) {
	more := len(ids) > limit
	keep = min(len(ids), limit)
	if keep == 0 {
		return 0, 0, 0
	}
	first, last := ids[0], ids[keep-1]
	if after > 0 {
		// read ascending: first is the oldest kept, last the newest
		older = first
		if more {
			newer = last
		}
		return keep, older, newer
	}
	if more {
		older = last
	}
	if before > 0 {
		newer = first
	}
	return keep, older, newer
}

// ExplainAuditActions returns the plan of the grouped list's first page for
// f, for the tests that check no filter reads the whole table.
func (q *Queries) ExplainAuditActions(ctx context.Context, f kp.AuditFilter, hide []kp.Action, limit int) (string, error) {
	a, err := q.build(ctx, f)
	if err != nil {
		return "", err
	}
	sql, args := actionsSQL(a, hide, 0, 0, limit)
	rows, err := q.db.Query(ctx, "EXPLAIN "+sql, args...)
	if err != nil {
		return "", fmt.Errorf("explain audit actions: %w", err)
	}
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return "", fmt.Errorf("explain audit actions: %w", err)
	}
	return strings.Join(lines, "\n"), nil
}
