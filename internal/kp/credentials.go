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
}

// CredentialFilter narrows the report; zero values match everything but
// keys that are gone (Gone: "yes" only those, "all" both).
type CredentialFilter struct {
	Region, Tenant, Owner, State  string // Tenant and Owner match an id or part of a name
	Stale, Outside, NeverVerified bool
	SecretLost                    bool
	Gone                          string
	StaleBefore                   time.Time // unused or created before this is stale
}
