package audit

import (
	"github.com/jackc/pgx/v5/pgxpool"

	"context"
	"slices"

	"github.com/keyport/keyport/db"
	"github.com/keyport/keyport/internal/kp"
)

// ReadActions are the actions that change nothing: listing keys, looking a
// key up, viewing and exporting the trail. They are recorded like any
// other, but they outnumber everything else (every page view writes one),
// so the grouped lists leave them out unless asked.
var ReadActions = []kp.Action{kp.KeyList, kp.KeyLookup, kp.AuditView, kp.AuditExport}

// IsRead says whether a is one of ReadActions.
func IsRead(a kp.Action) bool { return slices.Contains(ReadActions, a) }

// ActionQuery is what a grouped list asks for: a filter, whether to include
// reads, and a page.
type ActionQuery struct {
	Filter        kp.AuditFilter
	Reads         bool  // include ReadActions
	Before, After int64 // page cursors (ids of latest events)
	Limit         int
}

// hidden is what q leaves out: the reads, unless asked for or named by the
// action filter.
func (q ActionQuery) hidden() []kp.Action {
	if q.Reads || q.Filter.Action != "" {
		return nil
	}
	return ReadActions
}

// Actions records the view, then returns one page of the filtered list with
// one row per action (an intent and its outcome together).
func (r *Reader) Actions(ctx context.Context, who Reviewer, q ActionQuery, filters map[string]string) (kp.AuditActionPage, error) {
	if err := r.w.Viewed(ctx, who.actor(), who.Scope, kp.AuditView, filters, "html"); err != nil {
		return kp.AuditActionPage{}, err
	}
	var page kp.AuditActionPage
	err := r.onReplica(ctx, func(p *pgxpool.Pool) (err error) {
		page, err = db.New(p).ListAuditActions(ctx, q.Filter, q.hidden(), q.Before, q.After, q.Limit)
		return err
	})
	return page, err
}

// TenantActions returns one page of one tenant's actions in one area, one
// row per action: the tenant admins' key history. Unlike a reviewer's
// reads it is not itself recorded (an admin reads their own tenant's
// actions). q.Filter's tenant and area are set from the arguments, so an
// admin sees their tenant only.
func (r *Reader) TenantActions(ctx context.Context, region kp.Region, tenantID string, q ActionQuery) (kp.AuditActionPage, error) {
	q.Filter.TenantID, q.Filter.Region = tenantID, region
	page, err := db.New(r.pool).ListAuditActions(ctx, q.Filter, q.hidden(), q.Before, q.After, q.Limit)
	if err != nil {
		return page, kp.StoreError(err, "Keyport cannot read the key history right now.")
	}
	return page, nil
}
