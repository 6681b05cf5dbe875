package handlers

import (
	"encoding/hex"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/keyport/keyport/internal/audit"
	"github.com/keyport/keyport/internal/kp"
	"github.com/keyport/keyport/web"
)

// detail shows one event: every field, its hashes and whether its link in
// the chain verifies, and its intent or outcome.
func (r *auditUI) detail(c echo.Context) error {
	rv, err := current(c)
	if err != nil {
		return err
	}
	id, err := strconv.ParseInt(c.Param("event"), 10, 64) // the boundary checked its shape
	if err != nil {
		return kp.Wrap(kp.NotFound, err, "There is no audit event at this address.")
	}
	d, err := r.trail.Event(c.Request().Context(), rv.Reviewer, id)
	if err != nil {
		return err
	}
	e := &d.Event
	upstream, intent := "", ""
	if e.UpstreamStatus != nil {
		upstream = strconv.Itoa(int(*e.UpstreamStatus))
	}
	if e.IntentID != nil {
		intent = strconv.FormatInt(*e.IntentID, 10)
	}
	v := web.AuditDetailView{
		ID: strconv.FormatInt(e.ID, 10), Outcome: string(e.Outcome),
		Conspicuous: e.Outcome == kp.OutcomeUnknown || e.Outcome == kp.OutcomeDenied,
		PrevHash:    hex.EncodeToString(e.PrevHash), Hash: hex.EncodeToString(e.Hash),
		HashOK: d.Link.HashMatches, LinkOK: d.Link.PrevMatches,
		Fields: []web.AuditField{
			{Name: "id", Label: "Event id", Value: strconv.FormatInt(e.ID, 10)},
			{Name: "occurred_at", Label: "Time (UTC)", Value: e.OccurredAt.UTC().Format("2006-01-02 15:04:05.000000")},
			{Name: "actor_kind", Label: "Actor kind", Value: string(e.ActorKind)},
			{Name: "actor_user_id", Label: "Actor user id", Value: e.ActorUserID, Mono: true},
			{Name: "actor_name", Label: "Actor name", Value: e.ActorName},
			{Name: "tenant_id", Label: "Tenant id", Value: e.TenantID, Mono: true},
			{Name: "tenant_name", Label: "Tenant name", Value: e.TenantName},
			{Name: "region", Label: "Area", Value: string(e.Region)},
			{Name: "session_hash", Label: "Session (keyed hash)", Value: e.SessionHash, Mono: true},
			{Name: "client_ip", Label: "Client address", Value: e.ClientIP},
			{Name: "user_agent", Label: "User agent", Value: e.UserAgent},
			{Name: "action", Label: "Action", Value: string(e.Action)},
			{Name: "target_key_id", Label: "Access key id", Value: e.TargetKeyID, Mono: true},
			{Name: "outcome", Label: "Outcome", Value: string(e.Outcome)},
			{Name: "upstream_status", Label: "CXone status", Value: upstream},
			{Name: "error_message", Label: "Message", Value: e.ErrorMessage},
			{Name: "request_id", Label: "Request id", Value: e.RequestID, Mono: true},
			{Name: "intent_id", Label: "Intent id", Value: intent},
			{Name: "details", Label: "Details", Value: e.Details, Mono: true},
			{Name: "hash_version", Label: "Hash version", Value: strconv.Itoa(int(e.HashVersion))},
		},
	}
	if d.Link.PredecessorID > 0 {
		v.PrevURL = eventURL(d.Link.PredecessorID)
	}
	if e.IntentID != nil {
		v.IntentURL, v.IntentID = eventURL(*e.IntentID), intent
	}
	if e.Outcome == kp.OutcomeIntent {
		for _, o := range d.Outcomes {
			v.OutcomeURLs = append(v.OutcomeURLs, web.AuditOption{Value: eventURL(o.ID), Label: "#" + strconv.FormatInt(o.ID, 10) + " " + string(o.Outcome)})
		}
	}
	v.OpenIntent = e.Outcome == kp.OutcomeIntent && len(d.Outcomes) == 0
	v.ActionEvents = actionEvents(d)
	if e.TargetKeyID != "" {
		v.KeyURL = keyHistoryURL(e.TargetKeyID)
	}
	return r.h.render(c, http.StatusOK, web.AuditDetail(r.reviewerPage(c, rv, "Audit event "+v.ID), v))
}

// actionEvents are the events of the action an event belongs to (its intent
// and the intent's outcomes), oldest first, each with its id and hashes:
// the grouped list shows an action as one row, and this is where its
// stored events are seen one by one.
func actionEvents(d *audit.EventDetail) []web.AuditActionEvent {
	var evs []*kp.AuditEvent
	switch {
	case d.Intent != nil:
		evs = append(evs, d.Intent)
	case d.Event.Outcome == kp.OutcomeIntent:
		evs = append(evs, &d.Event)
	default:
		return nil // a single event: the page above is the whole action
	}
	for i := range d.Outcomes {
		evs = append(evs, &d.Outcomes[i])
	}
	out := make([]web.AuditActionEvent, len(evs))
	for i, e := range evs {
		out[i] = web.AuditActionEvent{ID: strconv.FormatInt(e.ID, 10), URL: eventURL(e.ID), Outcome: string(e.Outcome),
			Time: e.OccurredAt.UTC().Format("2006-01-02 15:04:05.000000"), PrevHash: hex.EncodeToString(e.PrevHash),
			Hash: hex.EncodeToString(e.Hash), Current: e.ID == d.Event.ID}
	}
	return out
}
