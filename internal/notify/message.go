package notify

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/keyport/keyport/internal/audit"
)

// The events notified, as their "event" field names them.
const (
	KeyCreated        = "key.created"
	KeyDeactivated    = "key.deactivated"
	KeyDeleted        = "key.deleted"
	KeySecretLost     = "key.secret_lost"
	KeyOutsideSeen    = "key.outside_seen"
	PolicyViolation   = "policy.violation"
	TrailVerifyFailed = "trail.verify_failed"
	SinkFailing       = "sink.failing"
)

// Notification is one message, whatever carries it. The webhook sends it
// as JSON, as is (docs/auditing.md).
type Notification struct {
	ID           string `json:"id"` // unique per message: "keyport-<audit event id>"
	Event        string `json:"event"`
	Summary      string `json:"summary"`
	OccurredAt   string `json:"occurred_at"`
	AuditEventID int64  `json:"audit_event_id"`
	TenantID     string `json:"tenant_id,omitempty"`
	TenantName   string `json:"tenant_name,omitempty"`
	Area         string `json:"area,omitempty"`
	Actor        string `json:"actor,omitempty"`
	KeyID        string `json:"key_id_short,omitempty"` // the short form only
	Label        string `json:"label,omitempty"`
	OwnerUserID  string `json:"owner_user_id,omitempty"`
	Rule         string `json:"rule,omitempty"`
	LimitDays    int    `json:"limit_days,omitempty"`
	AsOf         string `json:"as_of,omitempty"` // when Keyport last saw the tenant's keys
	Link         string `json:"link,omitempty"`  // the key's page for reviewers, or the integrity page
	// keyID is the full id, kept for the link and the owner's address only.
	keyID string
}

// details are the parts of an event's details a message uses.
type details struct {
	Label       string            `json:"label"`
	OwnerUserID string            `json:"owner_user_id"`
	Result      string            `json:"result"`
	Policy      map[string]string `json:"policy"`
}

// Of returns the message for r, when r is an event people asked to hear of.
func Of(r *audit.ExportRecord) (*Notification, bool) {
	var d details
	_ = json.Unmarshal([]byte(r.Details), &d) // absent fields stay empty
	n := &Notification{ID: "keyport-" + strconv.FormatInt(r.ID, 10), OccurredAt: r.OccurredAt, AuditEventID: r.ID,
		TenantID: r.TenantID, TenantName: r.TenantName, Area: r.Region, Actor: r.ActorName, KeyID: ShortID(r.TargetKeyID),
		Label: d.Label, OwnerUserID: d.OwnerUserID, keyID: r.TargetKeyID}
	if n.Actor == "" {
		n.Actor = r.ActorUserID
	}
	success := r.Outcome == "success"
	switch {
	case r.Action == "key.create" && success:
		n.Event, n.Summary = KeyCreated, "A key was created"
	case r.Action == "key.deactivate" && success:
		n.Event, n.Summary = KeyDeactivated, "A key was deactivated"
	case r.Action == "key.delete" && success:
		n.Event, n.Summary = KeyDeleted, "A key was deleted"
	case r.Action == "key.reconcile" && success && d.Result == "created, secret lost":
		n.Event, n.Summary = KeySecretLost, "A key was created but its secret was lost: deactivate and delete it"
	case r.Action == "key.seen_outside":
		n.Event, n.Summary = KeyOutsideSeen, "A key made outside Keyport was seen"
	case r.Action == "policy.violation":
		n.Event, n.Rule, n.AsOf = PolicyViolation, d.Policy["rule"], d.Policy["as_of"]
		n.LimitDays, _ = strconv.Atoi(d.Policy["limit_days"])
		n.Summary = "A key breaks the key policy: " + strings.TrimPrefix(r.ErrorMessage, "started: ")
	case r.Action == "audit.verify" && r.Outcome == "failure" && d.Result == "broken":
		n.Event, n.Summary = TrailVerifyFailed, "The audit trail failed verification: "+r.ErrorMessage
		n.Actor = r.ActorUserID
	case r.Action == "audit.sink_failing":
		n.Event, n.Summary = SinkFailing, "An audit sink or notification target keeps failing: "+r.ErrorMessage
	default:
		return nil, false
	}
	return n, true
}

// withLink sets the message's link under base (the portal's address).
func (n *Notification) withLink(base string) *Notification {
	if base == "" {
		return n
	}
	c := *n
	switch {
	case n.Event == TrailVerifyFailed || n.Event == SinkFailing:
		c.Link = base + "/audit/integrity"
	case n.keyID != "":
		c.Link = base + "/audit/keys/" + url.PathEscape(n.keyID)
	}
	return &c
}

// ShortID is a key id's short form: its first eight characters and last
// four before any base32 padding (as the pages show it).
func ShortID(id string) string {
	body := strings.TrimRight(id, "=")
	if len(id) <= 14 || len(body) <= 12 {
		return id
	}
	return id[:8] + "…" + body[len(body)-4:]
}

// Title is a message's one-line subject.
func (n *Notification) Title() string {
	t := "[Keyport] " + n.Summary
	if n.TenantName != "" || n.TenantID != "" {
		t += " (" + firstOf(n.TenantName, n.TenantID) + ")"
	}
	return t
}

// Facts are a message's fields as name and value, for Slack, Teams and e-mail.
func (n *Notification) Facts() [][2]string {
	var out [][2]string
	add := func(k, v string) {
		if v != "" {
			out = append(out, [2]string{k, v})
		}
	}
	add("Key", n.KeyID)
	add("Label", n.Label)
	add("Tenant", firstOf(n.TenantName, n.TenantID))
	add("Area", n.Area)
	add("Owner", n.OwnerUserID)
	add("Who", n.Actor)
	add("When", n.OccurredAt)
	if n.Rule != "" {
		add("Rule", fmt.Sprintf("%s (%d days)", n.Rule, n.LimitDays))
	}
	add("As of", n.AsOf)
	add("Link", n.Link)
	add("Id", n.ID)
	return out
}

func firstOf(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
