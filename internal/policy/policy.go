// Package policy is the key policies security reviewers set (issue 25):
// what a healthy key looks like, globally with per-tenant overrides. It
// refuses creates that would break "label required" or "max active keys
// per user", tells which keys break the age and idle limits, and records
// each violation's start and end in the trail once, whichever instance
// sees it first.
package policy

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/keyport/keyport/db"
	"github.com/keyport/keyport/internal/audit"
	"github.com/keyport/keyport/internal/input"
	"github.com/keyport/keyport/internal/kp"
)

// Bounds of a rule's value: a day limit up to ten years, a cap up to 1000.
const (
	maxDays   = 3650
	maxActive = 1000
)

// Service reads and sets policies and syncs violations.
type Service struct {
	pool *pgxpool.Pool
	w    *audit.Writer
	log  *slog.Logger
	now  func() time.Time
}

// New returns a Service.
func New(pool *pgxpool.Pool, w *audit.Writer, log *slog.Logger, now func() time.Time) *Service {
	return &Service{pool: pool, w: w, log: log, now: now}
}

// Effective returns the policy in force for tenantID.
func (s *Service) Effective(ctx context.Context, tenantID string) (kp.Policy, error) {
	p, err := db.New(s.pool).EffectivePolicy(ctx, tenantID)
	if err != nil {
		return p, kp.StoreError(err, "Keyport cannot read its key policy right now. Try again in a moment.")
	}
	return p, nil
}

// Settings returns every stored row, the global one first (a zero one when
// none was ever set).
func (s *Service) Settings(ctx context.Context) ([]kp.PolicySetting, error) {
	rows, err := db.New(s.pool).Policies(ctx)
	if err != nil {
		return nil, kp.StoreError(err, "Keyport cannot read its key policies right now. Try again in a moment.")
	}
	if len(rows) == 0 || rows[0].TenantID != "" {
		rows = append([]kp.PolicySetting{{}}, rows...)
	}
	return rows, nil
}

// Setting returns the stored row of tenantID ("" the global one).
func (s *Service) Setting(ctx context.Context, tenantID string) (kp.PolicySetting, error) {
	st, err := db.New(s.pool).PolicySettingOf(ctx, tenantID)
	if err != nil {
		return st, kp.StoreError(err, "Keyport cannot read its key policy right now. Try again in a moment.")
	}
	return st, nil
}

// ParseDays reads a rule's value as a form or flag gives it: "" or "0"
// lifts the rule (0), otherwise a whole number up to max. what names the
// rule in the message.
func ParseDays(v, what string, max int) (int, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 || n > max {
		return 0, kp.Errorf(kp.Invalid, "The %s must be a whole number from 0 (no rule) to %d.", what, max)
	}
	return n, nil
}

// ParseBool reads "label required": "" or "false" lifts it.
func ParseBool(v string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "", "false", "no", "off", "0":
		return false, nil
	case "true", "yes", "on", "1":
		return true, nil
	}
	return false, kp.Errorf(kp.Invalid, "\"Label required\" must be true or false.")
}

// Limits are the bounds ParseDays takes, per rule.
const (
	MaxDays   = maxDays
	MaxActive = maxActive
)

// Set stores s (the global row when s.TenantID is "", else that tenant's
// overrides), audited as policy.set by actor, then looks again at every
// tenant's keys as last seen, so a new limit's violations start now.
func (s *Service) Set(ctx context.Context, actor audit.Actor, scope audit.Scope, st kp.PolicySetting) error {
	if p := input.Check(input.CXoneID, st.TenantID); p != "" {
		return kp.Errorf(kp.Invalid, "The tenant %s.", p)
	}
	st.UpdatedAt, st.UpdatedBy = s.now(), actor.UserID
	scope.TenantID = st.TenantID
	ev := audit.Event{Actor: actor, Scope: scope, Action: kp.PolicySet, Details: audit.Details{Policy: Describe(st)}}
	err := s.w.Do(ctx, ev, func(ctx context.Context) (audit.Result, error) {
		if err := db.New(s.pool).SetPolicy(ctx, st); err != nil {
			return audit.Result{}, kp.StoreError(err, "Keyport could not store the policy. Nothing was changed. Try again in a moment.")
		}
		return audit.Result{}, nil
	})
	if err != nil {
		return err
	}
	if err := s.Sweep(context.WithoutCancel(ctx)); err != nil {
		s.log.WarnContext(ctx, "policy: look at every tenant after a change", "err", err)
	}
	return nil
}

// Describe is a setting as the trail records it: each rule set, and
// "inherit" for a tenant's rule left to the global one.
func Describe(st kp.PolicySetting) map[string]string {
	d := map[string]string{"tenant": st.TenantID}
	if st.TenantID == "" {
		d["tenant"] = "(global)"
	}
	num := func(name string, v *int) {
		if v != nil {
			d[name] = strconv.Itoa(*v)
		} else if st.TenantID != "" {
			d[name] = "inherit"
		} else {
			d[name] = "0"
		}
	}
	num("max_age_days", st.MaxAgeDays)
	num("max_idle_days", st.MaxIdleDays)
	num("max_active_per_user", st.MaxActivePerUser)
	switch {
	case st.LabelRequired != nil:
		d["label_required"] = strconv.FormatBool(*st.LabelRequired)
	case st.TenantID != "":
		d["label_required"] = "inherit"
	default:
		d["label_required"] = "false"
	}
	return d
}

// notAllowed ends every refusal: the rule is Keyport's, not CXone's.
const notAllowed = "CXone itself would allow it; Keyport refuses it under the key policy security reviewers set. Ask them if it must change."

// CheckLabel refuses a create without a label when the policy requires one.
func CheckLabel(p kp.Policy, label string) error {
	if p.LabelRequired && strings.TrimSpace(label) == "" {
		return kp.Errorf(kp.Forbidden, "The key policy \"label required\" says every new key needs a label: give it one that says what uses it. %s", notAllowed)
	}
	return nil
}

// CheckActive refuses a create that would give owner more active keys than
// the policy's cap; active is how many owner has now.
func CheckActive(p kp.Policy, owner string, active int) error {
	if p.MaxActivePerUser > 0 && active >= p.MaxActivePerUser {
		return kp.Errorf(kp.Forbidden, "The key policy \"max active keys per user\" allows %d active %s per user, and %s already has %d: deactivate one first. %s",
			p.MaxActivePerUser, plural(p.MaxActivePerUser, "key", "keys"), owner, active, notAllowed)
	}
	return nil
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// Badge is one rule a key breaks, as a person reads it.
type Badge struct {
	Rule      string // kp.RuleMaxAge, kp.RuleMaxIdle
	LimitDays int
	Text      string // "older than the 90-day policy: rotate it"
}

// KeyFacts is what the age and idle rules look at.
type KeyFacts struct {
	Active   bool       // false only when CXone said inactive
	Since    *time.Time // created through Keyport, else first seen by Keyport
	LastUsed *time.Time
}

// Check returns the rules k breaks at now: the same test as the database's
// (db.SyncViolations), for the pages.
func Check(p kp.Policy, k KeyFacts, now time.Time) []Badge {
	if !k.Active || k.Since == nil {
		return nil
	}
	var out []Badge
	if p.MaxAgeDays > 0 && k.Since.Before(now.AddDate(0, 0, -p.MaxAgeDays)) {
		out = append(out, Badge{kp.RuleMaxAge, p.MaxAgeDays, BadgeText(kp.RuleMaxAge, p.MaxAgeDays)})
	}
	idle := k.Since
	if k.LastUsed != nil {
		idle = k.LastUsed
	}
	if p.MaxIdleDays > 0 && idle.Before(now.AddDate(0, 0, -p.MaxIdleDays)) {
		out = append(out, Badge{kp.RuleMaxIdle, p.MaxIdleDays, BadgeText(kp.RuleMaxIdle, p.MaxIdleDays)})
	}
	return out
}

// BadgeText says what a rule broken means and what to do.
func BadgeText(rule string, days int) string {
	if rule == kp.RuleMaxIdle {
		return fmt.Sprintf("unused for longer than the %d-day policy: deactivate it if nothing needs it", days)
	}
	return fmt.Sprintf("older than the %d-day policy: rotate it", days)
}

// RuleName is a rule as the report and messages name it.
func RuleName(rule string) string {
	switch rule {
	case kp.RuleMaxAge:
		return "max key age"
	case kp.RuleMaxIdle:
		return "max idle days"
	}
	return rule
}

// Sync brings one tenant's violations in line with the credential report
// and records each start (policy.violation) and end (policy.resolved) this
// call saw first. Best effort, like the report itself: a failure is
// logged, and the next sighting syncs again.
func (s *Service) Sync(ctx context.Context, region kp.Region, tenantID string) {
	ctx = context.WithoutCancel(ctx)
	s.seenOutside(ctx, region, tenantID)
	changes, err := db.New(s.pool).SyncViolations(ctx, region, tenantID, s.now())
	if err != nil {
		s.log.WarnContext(ctx, "policy: sync violations", "tenant", tenantID, "err", err)
		return
	}
	for _, c := range changes {
		action, msg := kp.PolicyViolation, "started: "+BadgeText(c.Rule, c.LimitDays)
		if c.EndedAt != nil {
			action, msg = kp.PolicyResolved, "ended: the key no longer breaks the "+RuleName(c.Rule)+" policy"
		}
		d := map[string]string{"rule": c.Rule, "limit_days": strconv.Itoa(c.LimitDays)}
		if c.AsOf != nil {
			d["as_of"] = c.AsOf.UTC().Format(time.RFC3339)
		}
		s.w.Note(ctx, audit.Event{Actor: keyport,
			Scope:  audit.Scope{TenantID: tenantID, TenantName: c.TenantName, Region: region},
			Action: action, TargetKeyID: c.KeyID,
			Details: audit.Details{Label: c.Label, OwnerUserID: c.OwnerID, Policy: d}},
			audit.Result{Outcome: kp.OutcomeSuccess, Message: msg})
	}
}

// keyport is the actor of what Keyport itself notices.
var keyport = audit.Actor{Kind: kp.ActorSystem, UserID: "keyport", Name: "Keyport"}

// seenOutside records key.seen_outside for each key made outside Keyport
// that it sees for the first time (once, whichever instance sees it).
func (s *Service) seenOutside(ctx context.Context, region kp.Region, tenantID string) {
	keys, err := db.New(s.pool).RecordOutsideKeys(ctx, region, tenantID, s.now())
	if err != nil {
		s.log.WarnContext(ctx, "policy: record keys made outside Keyport", "tenant", tenantID, "err", err)
		return
	}
	for _, k := range keys {
		s.w.Note(ctx, audit.Event{Actor: keyport, Scope: audit.Scope{TenantID: tenantID, TenantName: k.TenantName, Region: region},
			Action: kp.KeySeenOutside, TargetKeyID: k.KeyID, Details: audit.Details{OwnerUserID: k.OwnerID}},
			audit.Result{Outcome: kp.OutcomeSuccess, Message: "a key made outside Keyport, seen for the first time"})
	}
}

// Sweep syncs every tenant Keyport has seen keys of: after a policy
// change, and periodically, since a key ages without being listed.
func (s *Service) Sweep(ctx context.Context) error {
	tenants, err := db.New(s.pool).ScannedTenants(ctx)
	if err != nil {
		return err
	}
	for _, t := range tenants {
		s.Sync(ctx, kp.Region(t[0]), t[1])
	}
	return nil
}

// Counts is the open violations by tenant and rule, for /metrics.
func (s *Service) Counts(ctx context.Context) (map[[2]string]int64, error) {
	return db.New(s.pool).OpenViolationCounts(ctx)
}
