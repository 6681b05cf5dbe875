package kp

import "time"

// KeyMeta is Keyport's note on one access key.
type KeyMeta struct {
	Region            Region
	TenantID          string
	AccessKeyID       string
	OwnerUserID       string
	Label             string
	CreatedByUserID   string
	CreatedByName     string
	CreatedAt         *time.Time // nil: created outside Keyport
	SecretFingerprint string
	FingerprintKeyID  string // the audit key that made SecretFingerprint; "" before key ids
	SecretLast4       string
	SecretLost        bool
	LastVerifiedAt    *time.Time
	LastVerifyResult  string
}

// CreateAttempt is one create-form submission: what settling a create
// whose answer was lost needs.
type CreateAttempt struct {
	FormToken     string
	Region        Region
	TenantID      string
	OwnerUserID   string
	ConnectionID  string
	ActorUserID   string
	ActorName     string
	Label         string
	State         string
	AuditIntentID *int64
	AccessKeyID   string
	BeforeIDs     []string
	CandidateIDs  []string
	Message       string
	CreatedAt     time.Time
	UpdatedAt     time.Time
	// InstanceKey names the portal process sending the create (state
	// 'sending'); db.Instance tells whether it is still alive.
	InstanceKey *int32
}

// Rotation is the rotation wizard's progress for one key.
type Rotation struct {
	ID              string
	Region          Region
	TenantID        string
	OldKeyID        string
	NewKeyID        string
	Step            string
	CreatedByUserID string
	CreatedAt       time.Time
	UpdatedAt       time.Time
}
