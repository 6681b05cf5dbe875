package kp

import "time"

// Credential is one row of the credential report: what Keyport last saw of
// a key, with its own notes and names. No secret, token or fingerprint.
type Credential struct {
	Region, TenantID, TenantName     string
	KeyID, OwnerID, OwnerName, Label string
	Active                           *bool
	CreatedAt                        *time.Time // through Keyport; nil: made outside it
	CreatedBy                        string
	LastUsed                         *time.Time
	LastVerified                     *time.Time
	VerifyResult                     string
	SecretLost                       bool
	Stale                            bool
	FirstSeen, LastSeen              time.Time
	GoneAt                           *time.Time
	AsOf                             *time.Time // when Keyport last saw the tenant's whole list
	// Violations are the key policy rules the key breaks (kp.RuleMaxAge,
	// kp.RuleMaxIdle), with each rule's limit in days at the same index,
	// and since when the first one is broken, as Keyport saw it.
	Violations      []string
	ViolationLimits []int32
	ViolatingSince  *time.Time
}

// CredentialFilter narrows the report; zero values match everything but
// keys that are gone (Gone: "yes" only those, "all" both).
type CredentialFilter struct {
	Region, Tenant, Owner, State  string // Tenant and Owner match an id or part of a name
	Stale, Outside, NeverVerified bool
	SecretLost                    bool
	Gone                          string
	StaleBefore                   time.Time // unused or created before this is stale
	Violation                     string    // "any", or a rule (kp.RuleMaxAge…): keys breaking it; "" all
}
