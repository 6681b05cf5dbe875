package handlers

import (
	"net/http"
	"net/url"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/keyport/keyport/internal/audit"
	"github.com/keyport/keyport/internal/kp"
	"github.com/keyport/keyport/web"
)

// keyHistory shows one access key's whole recorded life: who created it,
// when it was verified, deactivated, deleted and looked up.
func (r *auditUI) keyHistory(c echo.Context) error {
	rv, err := current(c)
	if err != nil {
		return err
	}
	id := c.Param("key") // checked and unescaped once by the input boundary
	h, err := r.trail.KeyHistory(c.Request().Context(), rv.Reviewer, id)
	if err != nil {
		return err
	}
	v := web.AuditKeyView{KeyID: id, Truncated: h.Truncated, ListURL: "/audit?" + url.Values{"key": {id}}.Encode()}
	for i := range h.Events {
		v.Rows = append(v.Rows, rowView(&h.Events[i]))
	}
	v.Facts = keyFactViews(h)
	return r.h.render(c, http.StatusOK, web.AuditKeyHistory(r.reviewerPage(c, rv, "Key history"), v))
}

// keyFactViews shows what the trail says about a key, each fact linking to
// the event it comes from.
func keyFactViews(h audit.KeyHistory) []web.AuditKeyFact {
	var facts []web.AuditKeyFact
	fact := func(name, label string, e *kp.AuditEvent) {
		if e == nil {
			return
		}
		who := e.ActorName
		if who == "" {
			who = e.ActorUserID
		}
		facts = append(facts, web.AuditKeyFact{Name: name, Label: label, Value: who + " on " + listTime(e.OccurredAt), URL: eventURL(e.ID)})
	}
	f := h.Facts
	if f.Created == nil {
		facts = append(facts, web.AuditKeyFact{Name: "created", Label: "Created by", Value: "not recorded (created outside Keyport, or before its trail)"})
	}
	fact("created", "Created by", f.Created)
	fact("verified", "Last verified", f.Verified)
	fact("deactivated", "Last deactivated", f.Deactivated)
	fact("activated", "Last reactivated", f.Activated)
	fact("deleted", "Deleted by", f.Deleted)
	n := strconv.Itoa(len(h.Events))
	if h.Truncated {
		n = "more than " + strconv.Itoa(audit.KeyHistoryLimit)
	}
	return append(facts,
		web.AuditKeyFact{Name: "lookups", Label: "Lookups", Value: strconv.Itoa(f.Lookups)},
		web.AuditKeyFact{Name: "problems", Label: "Failed, denied or unknown", Value: strconv.Itoa(f.Problems)},
		web.AuditKeyFact{Name: "events", Label: "Events", Value: n})
}
