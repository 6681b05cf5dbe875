package handlers

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/keyport/keyport/internal/audit"
	"github.com/keyport/keyport/internal/kp"
	"github.com/keyport/keyport/web"
)

// auditPageSize is how many events one page of the list shows.
const auditPageSize = 50

// list shows the trail, newest first, a page at a time: one row per action
// (intent and outcome together) with reads hidden unless reads=1, or every
// stored event one by one with events=1.
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
	var lq listQuery
	if ferr == nil {
		lq, ferr = parseListQuery(q)
	}
	v := web.AuditListView{Filter: filterView(f), Events: lq.events}
	v.Filter.Events, v.Filter.Reads = lq.events, lq.reads
	if ferr != nil {
		if kp.KindOf(ferr) != kp.Invalid {
			return ferr
		}
		v.Error = kp.MessageOf(ferr)
		v.ExportCSV, v.ExportJSONL = "/audit/export.csv", "/audit/export.jsonl"
		return r.h.render(c, http.StatusUnprocessableEntity, web.AuditList(r.reviewerPage(c, rv, auditListTitle), v))
	}
	recorded := f.record(append(lq.mode(), "before", q.Get("before"), "after", q.Get("after"))...)
	ctx := c.Request().Context()
	var older, newer int64
	if lq.events {
		p, err := r.trail.Events(ctx, rv.Reviewer, f.AuditFilter, recorded, lq.before, lq.after, auditPageSize)
		if err != nil {
			return err
		}
		for i := range p.Events {
			v.Rows = append(v.Rows, rowView(&p.Events[i]))
		}
		older, newer = p.Older, p.Newer
	} else {
		p, err := r.trail.Actions(ctx, rv.Reviewer, audit.ActionQuery{Filter: f.AuditFilter, Reads: lq.reads,
			Before: lq.before, After: lq.after, Limit: auditPageSize}, recorded)
		if err != nil {
			return err
		}
		for i := range p.Actions {
			v.Actions = append(v.Actions, actionView(&p.Actions[i], true))
		}
		older, newer = p.Older, p.Newer
	}
	mode := lq.mode()
	if older > 0 {
		v.OlderURL = f.url("/audit", append(mode, "before", strconv.FormatInt(older, 10))...)
	}
	if newer > 0 {
		v.NewerURL = f.url("/audit", append(mode, "after", strconv.FormatInt(newer, 10))...)
		v.NewestURL = f.url("/audit", mode...)
	}
	v.Toggles = lq.toggles(f)
	v.ExportCSV, v.ExportJSONL = f.url("/audit/export.csv"), f.url("/audit/export.jsonl")
	if f.KeyID != "" {
		v.KeyHistory = keyHistoryURL(f.KeyID)
	}
	return r.h.render(c, http.StatusOK, web.AuditList(r.reviewerPage(c, rv, auditListTitle), v))
}

const auditListTitle = "Audit trail"

// listQuery is the list's view switches and page cursors.
type listQuery struct {
	events, reads bool
	before, after int64
}

func parseListQuery(q url.Values) (listQuery, error) {
	var l listQuery
	var err error
	if l.events, err = onOff(q, "events"); err != nil {
		return l, err
	}
	if l.reads, err = onOff(q, "reads"); err != nil {
		return l, err
	}
	if l.before, err = cursor(q, "before"); err != nil {
		return l, err
	}
	l.after, err = cursor(q, "after")
	return l, err
}

// mode is the switches as URL parameters, for page links.
func (l listQuery) mode() []string {
	var m []string
	if l.events {
		m = append(m, "events", "1")
	}
	if l.reads {
		m = append(m, "reads", "1")
	}
	return m
}

// toggles are the links that switch the view, keeping the filters.
func (l listQuery) toggles(f auditFilter) []web.ActionToggle {
	if l.events {
		return []web.ActionToggle{{URL: f.url("/audit"), Label: "One row per action", TestID: "show-actions"}}
	}
	t := []web.ActionToggle{{URL: f.url("/audit", "reads", "1"), Label: "Show page views and exports", TestID: "show-reads"}}
	if l.reads {
		t[0] = web.ActionToggle{URL: f.url("/audit"), Label: "Hide page views and exports", TestID: "hide-reads"}
	}
	return append(t, web.ActionToggle{URL: f.url("/audit", "events", "1"), Label: "Show every stored event", TestID: "show-events"})
}

// onOff reads a view switch: absent, "" or "0" is off, "1" is on.
func onOff(q url.Values, name string) (bool, error) {
	switch q.Get(name) {
	case "", "0":
		return false, nil
	case "1":
		return true, nil
	}
	return false, kp.Errorf(kp.Invalid, "The %s switch is 1 (on) or 0 (off).", name)
}

func keyHistoryURL(id string) string { return "/audit/keys/" + url.PathEscape(id) }

func eventURL(id int64) string { return "/audit/" + strconv.FormatInt(id, 10) }

// listTime is how the pages show times: UTC, to the second.
func listTime(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05") }

// actorName is who acted, as the lists show it: the name, else the id, with
// the kind for anyone but an admin.
func actorName(e *kp.AuditEvent) string {
	actor := e.ActorName
	if actor == "" {
		actor = e.ActorUserID
	}
	if e.ActorKind != kp.ActorAdmin {
		actor = string(e.ActorKind) + " " + actor
	}
	return strings.TrimSpace(actor)
}

func tenantName(e *kp.AuditEvent) string {
	if e.TenantName != "" {
		return e.TenantName
	}
	return e.TenantID
}

// actionView is one action as a grouped list shows it; where it happened and
// links (to the event and the key's history) on the reviewers' pages only:
// the admins' page is one tenant's and area's, and they cannot open /audit.
func actionView(a *kp.AuditAction, links bool) web.ActionRowView {
	e := &a.Event
	v := web.ActionRowView{EventID: strconv.FormatInt(e.ID, 10), Time: listTime(a.StartedAt), Actor: actorName(e),
		ActorID: e.ActorUserID, Action: string(e.Action), KeyID: e.TargetKeyID,
		Outcome: string(e.Outcome), Message: e.ErrorMessage}
	switch {
	case a.Pending():
		v.Outcome, v.IntentID = "pending", v.EventID
	case e.IntentID != nil:
		v.IntentID = strconv.FormatInt(*e.IntentID, 10)
	}
	if e.UpstreamStatus != nil {
		v.Status = "HTTP " + strconv.Itoa(int(*e.UpstreamStatus))
	}
	if links {
		v.Tenant, v.Area, v.DetailURL = tenantName(e), string(e.Region), eventURL(e.ID)
		if e.TargetKeyID != "" {
			v.KeyURL = keyHistoryURL(e.TargetKeyID)
		}
	}
	return v
}

func rowView(e *kp.AuditEvent) web.AuditRowView {
	actor, tenant := actorName(e), tenantName(e)
	v := web.AuditRowView{
		ID: strconv.FormatInt(e.ID, 10), Time: listTime(e.OccurredAt), Actor: actor, ActorID: e.ActorUserID,
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
