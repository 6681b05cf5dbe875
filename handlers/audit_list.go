package handlers

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/keyport/keyport/internal/kp"
	"github.com/keyport/keyport/web"
)

// auditPageSize is how many events one page of the list shows.
const auditPageSize = 50

// list shows the filtered events, newest first, a page at a time.
func (r *auditUI) list(c echo.Context) error {
	rv, err := current(c)
	if err != nil {
		return err
	}
	q := c.QueryParams()
	f, ferr := parseAuditFilter(q)
	if err := inputError(c); err != nil {
		ferr = err
	}
	before, err := cursor(q, "before")
	if ferr == nil {
		ferr = err
	}
	after, err := cursor(q, "after")
	if ferr == nil {
		ferr = err
	}
	v := web.AuditListView{Filter: filterView(f)}
	if ferr != nil {
		if kp.KindOf(ferr) != kp.Invalid {
			return ferr
		}
		v.Error = kp.MessageOf(ferr)
		v.ExportCSV, v.ExportJSONL = "/audit/export.csv", "/audit/export.jsonl"
		return r.h.render(c, http.StatusUnprocessableEntity, web.AuditList(r.reviewerPage(c, rv, "Audit events"), v))
	}
	recorded := f.record("before", q.Get("before"), "after", q.Get("after"))
	p, err := r.trail.Events(c.Request().Context(), rv.Reviewer, f.AuditFilter, recorded, before, after, auditPageSize)
	if err != nil {
		return err
	}
	for i := range p.Events {
		v.Rows = append(v.Rows, rowView(&p.Events[i]))
	}
	if p.Older > 0 {
		v.OlderURL = f.url("/audit", "before", strconv.FormatInt(p.Older, 10))
	}
	if p.Newer > 0 {
		v.NewerURL = f.url("/audit", "after", strconv.FormatInt(p.Newer, 10))
		v.NewestURL = f.url("/audit")
	}
	v.ExportCSV, v.ExportJSONL = f.url("/audit/export.csv"), f.url("/audit/export.jsonl")
	if f.KeyID != "" {
		v.KeyHistory = keyHistoryURL(f.KeyID)
	}
	return r.h.render(c, http.StatusOK, web.AuditList(r.reviewerPage(c, rv, "Audit events"), v))
}

func keyHistoryURL(id string) string { return "/audit/keys/" + url.PathEscape(id) }

func eventURL(id int64) string { return "/audit/" + strconv.FormatInt(id, 10) }

// listTime is how the pages show times: UTC, to the second.
func listTime(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05") }

func rowView(e *kp.AuditEvent) web.AuditRowView {
	actor := e.ActorName
	if actor == "" {
		actor = e.ActorUserID
	}
	if e.ActorKind != kp.ActorAdmin {
		actor = string(e.ActorKind) + " " + actor
	}
	tenant := e.TenantName
	if tenant == "" {
		tenant = e.TenantID
	}
	v := web.AuditRowView{
		ID: strconv.FormatInt(e.ID, 10), Time: listTime(e.OccurredAt), Actor: strings.TrimSpace(actor), ActorID: e.ActorUserID,
		Tenant: tenant, Area: string(e.Region), Action: string(e.Action), KeyID: e.TargetKeyID, Outcome: string(e.Outcome),
		Message: e.ErrorMessage, RequestID: e.RequestID, DetailURL: eventURL(e.ID),
		Conspicuous: e.Outcome == kp.OutcomeUnknown || e.Outcome == kp.OutcomeDenied,
	}
	if e.TargetKeyID != "" {
		v.KeyURL = keyHistoryURL(e.TargetKeyID)
	}
	return v
}

// filterView turns a filter back into the form's values.
func filterView(f auditFilter) web.AuditFilterView {
	v := web.AuditFilterView{
		Tenant: f.raw["tenant"], Area: f.raw["area"], Actor: f.raw["actor"], Key: f.raw["key"],
		Request: f.raw["request"], Text: f.raw["q"], Active: len(f.raw) > 0,
	}
	// datetime-local inputs want 2006-01-02T15:04 and cannot show others.
	if !f.From.IsZero() {
		v.From = f.From.Format("2006-01-02T15:04")
	}
	if !f.To.IsZero() {
		v.To = f.To.Format("2006-01-02T15:04")
	}
	for _, a := range kp.Actions {
		v.Actions = append(v.Actions, web.AuditOption{Value: string(a), Label: string(a), Selected: a == f.Action})
	}
	for _, o := range kp.Outcomes {
		v.Outcomes = append(v.Outcomes, web.AuditOption{Value: string(o), Label: string(o), Selected: o == f.Outcome})
	}
	return v
}
