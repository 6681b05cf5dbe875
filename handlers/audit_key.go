package handlers

import (
	"net/http"
	"net/url"
	"strconv"

	"github.com/keyport/keyport/internal/kp"

	"github.com/labstack/echo/v4"

	"github.com/keyport/keyport/internal/auditor"
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
	evs, truncated, err := r.svc.KeyHistory(c.Request().Context(), rv.viewer, id)
	if err != nil {
		return err
	}
	v := web.AuditKeyView{KeyID: id, Truncated: truncated, ListURL: "/audit?" + url.Values{"key": {id}}.Encode()}
	for i := range evs {
		v.Rows = append(v.Rows, rowView(&evs[i]))
	}
	v.Facts = keyFacts(evs, truncated)
	return r.h.render(c, http.StatusOK, web.AuditKeyHistory(r.reviewerPage(c, rv, "Key history"), v))
}

// keyFacts summarises a key's life from its events: the first successful
// create, the last successful verify, activation changes, delete, and how
// many lookups and failures there were.
func keyFacts(evs []kp.AuditEvent, truncated bool) []web.AuditKeyFact {
	var facts []web.AuditKeyFact
	fact := func(name, label string, e *kp.AuditEvent, what string) {
		facts = append(facts, web.AuditKeyFact{Name: name, Label: label, Value: what, URL: eventURL(e.ID)})
	}
	who := func(e *kp.AuditEvent) string {
		n := e.ActorName
		if n == "" {
			n = e.ActorUserID
		}
		return n + " on " + listTime(e.OccurredAt)
	}
	var created, verified, deactivated, activated, deleted *kp.AuditEvent
	lookups, problems := 0, 0
	for i := range evs {
		e := &evs[i]
		if e.Outcome == kp.OutcomeFailure || e.Outcome == kp.OutcomeUnknown || e.Outcome == kp.OutcomeDenied {
			problems++
		}
		if e.Action == kp.KeyLookup && e.Outcome != kp.OutcomeIntent {
			lookups++
		}
		if e.Outcome != kp.OutcomeSuccess {
			continue
		}
		switch kp.Action(e.Action) {
		case kp.KeyCreate:
			if created == nil {
				created = e
			}
		case kp.KeyVerify:
			verified = e
		case kp.KeyDeactivate:
			deactivated = e
		case kp.KeyActivate:
			activated = e
		case kp.KeyDelete:
			deleted = e
		}
	}
	if created != nil {
		fact("created", "Created by", created, who(created))
	} else {
		facts = append(facts, web.AuditKeyFact{Name: "created", Label: "Created by", Value: "not recorded (created outside Keyport, or before its trail)"})
	}
	if verified != nil {
		fact("verified", "Last verified", verified, who(verified))
	}
	if deactivated != nil {
		fact("deactivated", "Last deactivated", deactivated, who(deactivated))
	}
	if activated != nil {
		fact("activated", "Last reactivated", activated, who(activated))
	}
	if deleted != nil {
		fact("deleted", "Deleted by", deleted, who(deleted))
	}
	n := strconv.Itoa(len(evs))
	if truncated {
		n = "more than " + strconv.Itoa(auditor.KeyHistoryLimit)
	}
	facts = append(facts,
		web.AuditKeyFact{Name: "lookups", Label: "Lookups", Value: strconv.Itoa(lookups)},
		web.AuditKeyFact{Name: "problems", Label: "Failed, denied or unknown", Value: strconv.Itoa(problems)},
		web.AuditKeyFact{Name: "events", Label: "Events", Value: n})
	return facts
}
