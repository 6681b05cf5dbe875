package kp

import "time"

// AuditAction is one action as the grouped lists show it: its latest event
// (the outcome, a single event that has no intent, or an intent still
// waiting for its outcome) and, for an outcome, when its intent was written.
type AuditAction struct {
	Event     AuditEvent
	StartedAt time.Time // the intent's time; the event's own for a single event or a waiting intent
}

// Pending says the action has no outcome yet: it is running, or its outcome
// was lost (keyport reconcile closes it).
func (a *AuditAction) Pending() bool { return a.Event.Outcome == OutcomeIntent }

// AuditActionPage is one page of actions, newest first, paged like
// AuditPage by the id of each action's latest event.
type AuditActionPage struct {
	Actions      []AuditAction
	Older, Newer int64
}
