// Package audit is Keyport's audit trail: the writer every flow records
// through (intent before any upstream call, outcome after), the hash chain's
// canonical encoding and the export format built on it, signed checkpoints
// and the verifier, and the read side reviewers use (Reader: the event
// list, an event, a key's history, exports, activity, the integrity panel's
// background verifications). It accepts only typed fields, scrubs anything
// that looks like a credential, and stores fingerprints of secrets, never
// secrets. SQL lives in package db; audit imports db and the leaves, never
// handlers or web.
package audit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/keyport/keyport/db"
	"github.com/keyport/keyport/internal/kp"
	"github.com/keyport/keyport/internal/logging"
	"github.com/keyport/keyport/internal/secret"
)

// Actor is who acted: a CXone user (admin), a Keyport security reviewer
// (kp.ActorReviewer) or Keyport itself (system).
type Actor struct {
	Kind   kp.ActorKind
	UserID string // CXone user id, or the reviewer's username
	Name   string
}

// Scope is where an action happened and through which session.
type Scope struct {
	TenantID   string
	TenantName string
	Region     kp.Region
	// Session is the Keyport session id; only its keyed hash is stored.
	Session   secret.Secret
	ClientIP  string
	UserAgent string
	RequestID string // defaults to the request id in the context
}

// Details are the small, typed facts an event may carry. There is no free
// form map: every field is named here, and every string is scrubbed.
type Details struct {
	Label             string            `json:"label,omitempty"`
	OwnerUserID       string            `json:"owner_user_id,omitempty"`
	SecretFingerprint string            `json:"secret_fingerprint,omitempty"`
	SecretLast4       string            `json:"secret_last4,omitempty"`
	KeyIDs            []string          `json:"key_ids,omitempty"`
	Filters           map[string]string `json:"filters,omitempty"`
	Count             int64             `json:"count,omitempty"`
	Format            string            `json:"format,omitempty"`
	Result            string            `json:"result,omitempty"`
	Warning           string            `json:"warning,omitempty"`
	CorrelationID     string            `json:"correlation_id,omitempty"`
	Step              string            `json:"step,omitempty"`
	PreviousKeyID     string            `json:"previous_key_id,omitempty"`
	// Counts and SigningKeyID are `keyport rekey`'s: values re-sealed,
	// changed meanwhile or unreadable, per column, under which key id.
	Counts       map[string]int64 `json:"counts,omitempty"`
	SigningKeyID string           `json:"signing_key_id,omitempty"`
	Identity     *Identity        `json:"identity,omitempty"` // an OIDC reviewer's (identity.go)
	// Policy is a key policy as set (policy.set: tenant and each rule) or
	// the rule a violation breaks (policy.violation, policy.resolved: rule,
	// limit_days, as_of).
	Policy map[string]string `json:"policy,omitempty"`
}

// Event is one thing to record.
type Event struct {
	Actor       Actor
	Scope       Scope
	Action      kp.Action
	TargetKeyID string
	Details     Details
}

// Result is an outcome's facts.
type Result struct {
	Outcome        kp.Outcome
	UpstreamStatus int    // 0 = none
	Message        string // a human message; scrubbed and truncated
	Details        *Details
	// TargetKeyID, when set, names the key the action turned out to concern
	// (a create learns its key id only on success).
	TargetKeyID string
}

// IntentID identifies a recorded intent.
type IntentID int64

// ErrUnavailable is returned (wrapped in a *kp.Error of kind Unavailable)
// when an intent cannot be recorded: the action must not happen.
var ErrUnavailable = errors.New("audit trail unavailable")

// Writer appends events. It is safe for concurrent use.
type Writer struct {
	pool         *pgxpool.Pool
	keys         Keys
	log          *slog.Logger
	outcomesLost atomic.Int64 // best-effort outcomes that could not be written
	notesLost    atomic.Int64 // best-effort notes that could not be written
	group        *groupAppender
}

// NewWriter returns a Writer appending to pool.
func NewWriter(pool *pgxpool.Pool, keys Keys, log *slog.Logger) *Writer {
	return &Writer{pool: pool, keys: keys, log: log, group: &groupAppender{pool: pool}}
}

// OnChange makes w call fn with the tenant of every event it commits that
// is not a page view, before the event's caller returns: what Keyport keeps
// about a tenant changes only with an audited action, so this is how the
// notes cache hears this instance's own changes at once. Call it before
// the writer is used.
func (w *Writer) OnChange(fn func(region kp.Region, tenantID string)) { w.group.changed = fn }

// Keys returns the writer's derived keys.
func (w *Writer) Keys() Keys { return w.keys }

// OutcomeFailures counts outcome writes that failed (exported to /metrics).
func (w *Writer) OutcomeFailures() int64 { return w.outcomesLost.Load() }

// NoteFailures counts best-effort notes that failed (exported to /metrics).
func (w *Writer) NoteFailures() int64 { return w.notesLost.Load() }

// storeKind is the kind of a failed append: a value the database refused
// is the request's fault (Invalid); anything else means the trail cannot be
// written (Unavailable), and the action is refused either way.
func storeKind(err error) kp.Kind {
	if kp.StoreKind(err) == kp.Invalid {
		return kp.Invalid
	}
	return kp.Unavailable
}

// The writer's error policy, in its signatures:
//
//   - Fail closed: Intent and Record return an error, and the caller must
//     then refuse the action (nothing reaches CXone, nothing is shown).
//   - Best effort: Outcome and Note return nothing. They record what already
//     happened (an action's result, a refusal of a request that is refused
//     anyway); if the write fails it is logged at ERROR and counted in
//     /metrics (keyport_audit_outcome_failures_total,
//     keyport_audit_note_failures_total), and an unrecorded outcome leaves
//     its intent open for `keyport reconcile`.

// Intent records that an action is about to happen, in its own committed
// transaction, before any upstream call. Fail closed: if it cannot be
// recorded the caller must refuse the action; the error is a *kp.Error that
// says so.
func (w *Writer) Intent(ctx context.Context, e Event) (IntentID, error) {
	row, err := w.row(ctx, e, Result{Outcome: kp.OutcomeIntent})
	if err != nil {
		return 0, err
	}
	if err := w.group.append(ctx, row, false); err != nil {
		w.log.ErrorContext(ctx, "audit intent refused: action blocked", "action", e.Action, "err", err)
		return 0, &kp.Error{Kind: storeKind(err), Err: fmt.Errorf("%w: %w", ErrUnavailable, err),
			Message: "Keyport could not write this action to its audit trail, so it did not perform it. Nothing was changed. Try again in a moment."}
	}
	return IntentID(row.ID), nil
}

// Outcome records what became of an intent. Best effort: it survives a
// cancelled request context (a closed browser tab must not lose it), and if
// it fails the intent stays open for reconciliation; the failure is logged
// and counted.
func (w *Writer) Outcome(ctx context.Context, intent IntentID, e Event, r Result) {
	ctx = context.WithoutCancel(ctx)
	if err := w.appendOutcome(ctx, intent, e, r); err != nil {
		w.outcomesLost.Add(1)
		w.log.ErrorContext(ctx, "AUDIT OUTCOME LOST: intent stays open for reconciliation",
			"intent_id", intent, "action", e.Action, "outcome", r.Outcome, "err", err)
	}
}

func (w *Writer) appendOutcome(ctx context.Context, intent IntentID, e Event, r Result) error {
	row, err := w.row(ctx, e, r)
	if err != nil {
		return err
	}
	id := int64(intent)
	row.IntentID = &id
	return w.group.append(ctx, row, false)
}

// Record writes a single event that has no intent: a read (audit.view), a
// sign-in, an export. Fail closed, like Intent.
func (w *Writer) Record(ctx context.Context, e Event, r Result) error {
	row, err := w.row(ctx, e, r)
	if err != nil {
		return err
	}
	if err := w.group.append(ctx, row, false); err != nil {
		w.log.ErrorContext(ctx, "audit record failed", "action", e.Action, "outcome", r.Outcome, "err", err)
		return &kp.Error{Kind: storeKind(err), Err: fmt.Errorf("%w: %w", ErrUnavailable, err),
			Message: "Keyport could not write to its audit trail, so it refused the request. Try again in a moment."}
	}
	return nil
}

// Note writes a single event about something that happens whatever the
// trail says: a denied or failed request that is refused anyway, a step
// already taken, a logout. Best effort: a failure is logged and counted.
func (w *Writer) Note(ctx context.Context, e Event, r Result) {
	ctx = context.WithoutCancel(ctx)
	row, err := w.row(ctx, e, r)
	if err == nil {
		err = w.group.append(ctx, row, false)
	}
	if err != nil {
		w.notesLost.Add(1)
		w.log.ErrorContext(ctx, "AUDIT NOTE LOST", "action", e.Action, "outcome", r.Outcome, "err", err)
	}
}

// View records a page view (key.list, audit.view): like Record, fail
// closed, but committed without waiting for its WAL flush, so the page does
// not wait for the disk. It stays in the chain in order; a crash can lose
// the views of the last fraction of a second, never an intent or an outcome
// (docs/security.md).
func (w *Writer) View(ctx context.Context, e Event, r Result) error {
	if e.Action != kp.KeyList && e.Action != kp.AuditView {
		return fmt.Errorf("audit: View with action %q", e.Action)
	}
	if r.Outcome != kp.OutcomeSuccess {
		return w.Record(ctx, e, r)
	}
	row, err := w.row(ctx, e, r)
	if err != nil {
		return err
	}
	if err := w.group.append(ctx, row, true); err != nil {
		w.log.ErrorContext(ctx, "audit view failed", "action", e.Action, "err", err)
		return &kp.Error{Kind: storeKind(err), Err: fmt.Errorf("%w: %w", ErrUnavailable, err),
			Message: "Keyport could not write to its audit trail, so it refused the request. Try again in a moment."}
	}
	return nil
}

// Viewed records that a reviewer viewed (audit.view) or exported
// (audit.export) audit data with the given filters.
func (w *Writer) Viewed(ctx context.Context, actor Actor, scope Scope, action kp.Action, filters map[string]string, format string) error {
	if action != kp.AuditView && action != kp.AuditExport && action != kp.AuditVerify {
		return fmt.Errorf("audit: Viewed with action %q", action)
	}
	e := Event{Actor: actor, Scope: scope, Action: action, Details: Details{Filters: filters, Format: format}}
	if action == kp.AuditView {
		return w.View(ctx, e, Result{Outcome: kp.OutcomeSuccess})
	}
	return w.Record(ctx, e, Result{Outcome: kp.OutcomeSuccess})
}

// Do runs an audited action: intent, then fn, then the outcome fn reports.
// If the intent cannot be written, fn never runs.
func (w *Writer) Do(ctx context.Context, e Event, fn func(ctx context.Context) (Result, error)) error {
	id, err := w.Intent(ctx, e)
	if err != nil {
		return err
	}
	r, ferr := fn(ctx)
	if r.Outcome == "" {
		r.Outcome = kp.OutcomeSuccess
		if ferr != nil {
			r.Outcome = kp.OutcomeFailure
		}
	}
	if r.Message == "" && ferr != nil {
		r.Message = kp.MessageOf(ferr)
	}
	w.Outcome(ctx, id, e, r)
	return ferr
}

const (
	maxUserAgent = 256
	maxMessage   = 300
	maxField     = 200
)

// row turns a typed event into a row, scrubbing every string.
func (w *Writer) row(ctx context.Context, e Event, r Result) (*kp.AuditEvent, error) {
	if !validAction(e.Action) || !validOutcome(r.Outcome) {
		return nil, fmt.Errorf("audit: invalid action %q or outcome %q", e.Action, r.Outcome)
	}
	switch e.Actor.Kind {
	case kp.ActorAdmin, kp.ActorReviewer, kp.ActorSystem:
	default:
		return nil, fmt.Errorf("audit: invalid actor kind %q", e.Actor.Kind)
	}
	d := e.Details
	if r.Details != nil {
		d = *r.Details
	}
	details, err := json.Marshal(scrubDetails(d))
	if err != nil {
		return nil, fmt.Errorf("audit: encode details: %w", err)
	}
	target := e.TargetKeyID
	if r.TargetKeyID != "" {
		target = r.TargetKeyID
	}
	reqID := e.Scope.RequestID
	if reqID == "" {
		reqID = logging.RequestID(ctx)
	}
	row := &kp.AuditEvent{
		ActorKind:    e.Actor.Kind,
		ActorUserID:  field(e.Actor.UserID, maxField),
		ActorName:    field(e.Actor.Name, maxField),
		TenantID:     field(e.Scope.TenantID, maxField),
		TenantName:   field(e.Scope.TenantName, maxField),
		Region:       kp.Region(field(string(e.Scope.Region), 16)),
		SessionHash:  w.keys.SessionHash(e.Scope.Session),
		ClientIP:     cleanIP(e.Scope.ClientIP),
		UserAgent:    field(e.Scope.UserAgent, maxUserAgent),
		Action:       e.Action,
		TargetKeyID:  keyID(target),
		Outcome:      r.Outcome,
		ErrorMessage: field(r.Message, maxMessage),
		RequestID:    field(reqID, 64),
		Details:      string(details),
	}
	if r.UpstreamStatus != 0 {
		s := int32(r.UpstreamStatus)
		row.UpstreamStatus = &s
	}
	return row, nil
}

func validAction(a kp.Action) bool {
	for _, x := range kp.Actions {
		if x == a {
			return true
		}
	}
	return false
}

func validOutcome(o kp.Outcome) bool {
	for _, x := range kp.Outcomes {
		if x == o {
			return true
		}
	}
	return false
}

// field scrubs s and truncates it to n bytes on a rune boundary.
func field(s string, n int) string {
	s = Scrub(s)
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}

// keyID keeps a key id as given (ids share the secrets' alphabet, so the
// scrubber would eat them) but only if it is short and printable.
func keyID(s string) string {
	if len(s) > 256 {
		return ""
	}
	for _, r := range s {
		if r < 0x21 || r > 0x7e {
			return ""
		}
	}
	return s
}

func cleanIP(s string) string {
	a, err := netip.ParseAddr(strings.TrimSpace(s))
	if err != nil {
		return ""
	}
	return a.Unmap().String()
}

func scrubDetails(d Details) Details {
	d.Label = field(d.Label, maxField)
	d.OwnerUserID = field(d.OwnerUserID, maxField)
	d.SecretFingerprint = hexOnly(d.SecretFingerprint)
	d.SecretLast4 = field(d.SecretLast4, 4)
	ids := make([]string, 0, len(d.KeyIDs))
	for _, id := range d.KeyIDs {
		if id = keyID(id); id != "" && len(ids) < 20 {
			ids = append(ids, id)
		}
	}
	d.KeyIDs = ids
	if len(d.KeyIDs) == 0 {
		d.KeyIDs = nil
	}
	if d.Filters != nil {
		f := make(map[string]string, len(d.Filters))
		for k, v := range d.Filters {
			if v != "" && len(f) < 20 {
				f[field(k, 40)] = field(v, maxField)
			}
		}
		d.Filters = f
	}
	d.Format = field(d.Format, 16)
	d.Result = field(d.Result, maxField)
	d.Warning = field(d.Warning, maxMessage)
	d.CorrelationID = field(d.CorrelationID, 100)
	d.Step = field(d.Step, 40)
	d.PreviousKeyID = keyID(d.PreviousKeyID)
	d.Identity = scrubIdentity(d.Identity)
	if d.Policy != nil {
		p := make(map[string]string, len(d.Policy))
		for k, v := range d.Policy {
			if len(p) < 20 {
				p[field(k, 40)] = field(v, maxField)
			}
		}
		d.Policy = p
	}
	return d
}

func hexOnly(s string) string {
	for _, r := range s {
		if !strings.ContainsRune("0123456789abcdef", r) {
			return ""
		}
	}
	if len(s) > 64 {
		return s[:64]
	}
	return s
}

// CloseOpenIntents records an outcome for every intent older than before
// that has none (its outcome write was lost), so that no action stays open
// forever: what check says when it can tell (it asks CXone), "unknown"
// otherwise. check may be nil. It returns how many it closed.
func (w *Writer) CloseOpenIntents(ctx context.Context, before time.Time, check func(context.Context, kp.AuditEvent) (Result, bool)) (int, error) {
	q := db.New(w.pool)
	closed := 0
	for {
		open, err := q.OpenAuditIntents(ctx, before, 500)
		if err != nil {
			return closed, err
		}
		if len(open) == 0 {
			return closed, nil
		}
		for _, in := range open {
			ev := Event{Actor: Actor{Kind: in.ActorKind, UserID: in.ActorUserID, Name: in.ActorName},
				Scope:  Scope{TenantID: in.TenantID, TenantName: in.TenantName, Region: in.Region},
				Action: in.Action, TargetKeyID: in.TargetKeyID}
			r := Result{Outcome: kp.OutcomeUnknown, Message: "the outcome was never recorded; closed by keyport reconcile"}
			if check != nil {
				if checked, ok := check(ctx, in); ok {
					r = checked
				}
			}
			if err := w.appendOutcome(ctx, IntentID(in.ID), ev, r); err != nil {
				return closed, err
			}
			closed++
		}
	}
}
