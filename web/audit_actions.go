package web

// ActionRowView is one action (an intent and its outcome, or a single
// event) as the grouped lists show it, on the reviewers' trail and on the
// admins' key history alike.
type ActionRowView struct {
	EventID   string // the action's latest event (the cursor, and data-event-id)
	IntentID  string // its intent, "" for a single event
	Time      string // when the action started (its intent), UTC
	Actor     string
	ActorID   string
	Tenant    string // "" on the admins' page: it is one tenant's
	Area      string
	Action    string
	KeyID     string
	KeyURL    string // the key's history (reviewers only)
	Outcome   string // success, failure, denied, unknown, or "pending" (no outcome yet)
	Status    string // "HTTP 409" when CXone answered
	Message   string
	DetailURL string // the event page (reviewers only)
}

// Pending says the action has no outcome yet.
func (r ActionRowView) Pending() bool { return r.Outcome == "pending" }

// Conspicuous actions must stand out: unknown, denied, or no outcome yet.
func (r ActionRowView) Conspicuous() bool {
	return r.Outcome == "unknown" || r.Outcome == "denied" || r.Pending()
}

// ActionToggle is a link that switches a list's view, with the words that
// say what it will show.
type ActionToggle struct {
	URL, Label, TestID string
}
