package kp

import "time"

// Policy is the key policy in force for one tenant (issue 25): the global
// policy with the tenant's overrides applied. A zero field is no rule.
type Policy struct {
	MaxAgeDays       int
	MaxIdleDays      int
	MaxActivePerUser int
	LabelRequired    bool
}

// PolicySetting is one stored policy row: the global one (TenantID "") or
// a tenant's overrides. A nil field is "not set": no rule globally, the
// global value for a tenant; 0 (false) in a tenant's row lifts the rule.
type PolicySetting struct {
	TenantID         string
	MaxAgeDays       *int
	MaxIdleDays      *int
	MaxActivePerUser *int
	LabelRequired    *bool
	UpdatedAt        time.Time
	UpdatedBy        string
}

// Apply returns p with s's set fields in place of p's.
func (p Policy) Apply(s PolicySetting) Policy {
	if s.MaxAgeDays != nil {
		p.MaxAgeDays = *s.MaxAgeDays
	}
	if s.MaxIdleDays != nil {
		p.MaxIdleDays = *s.MaxIdleDays
	}
	if s.MaxActivePerUser != nil {
		p.MaxActivePerUser = *s.MaxActivePerUser
	}
	if s.LabelRequired != nil {
		p.LabelRequired = *s.LabelRequired
	}
	return p
}

// Violation rules: the age and idle limits are the ones a key can come to
// break while it exists.
const (
	RuleMaxAge  = "max_age"
	RuleMaxIdle = "max_idle"
)

// Violation is one key breaking one rule, as Keyport last saw it.
type Violation struct {
	Region, TenantID, KeyID string
	Rule                    string
	LimitDays               int
	StartedAt               time.Time
	EndedAt                 *time.Time
}
