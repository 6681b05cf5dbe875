// Package keys is the heart of Keyport: listing, creating, deactivating,
// reactivating, deleting, verifying, looking up and rotating a tenant's
// CXone access keys through a connection. Every mutation is audited intent
// → upstream → outcome, checks the key belongs to the connection's tenant
// first (another tenant's key id is "not found" and a denied event), and
// never stores a secret: only a keyed fingerprint and the last four
// characters. Create is sent once; an unknown outcome is reconciled by
// diffing the owner's key list before and after.
package keys

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/keyport/keyport/cxone"
	"github.com/keyport/keyport/db"
	"github.com/keyport/keyport/internal/audit"
	"github.com/keyport/keyport/internal/connection"
	"github.com/keyport/keyport/internal/kp"
	"github.com/keyport/keyport/internal/notescache"
	"github.com/keyport/keyport/internal/policy"
)

// Service runs key actions.
type Service struct {
	pool       *pgxpool.Pool
	conns      *connection.Service
	audit      *audit.Writer
	log        *slog.Logger
	now        func() time.Time
	staleAfter time.Duration
	// instance is this process's instance lock key (db.Instance): a
	// create in flight is marked with it, so a crash can be told apart.
	instance int32
	// seen is what this process last recorded in the credential report.
	seen sightings
	// policy refuses creates that break the key policy and records
	// violations as the report changes (issue 25).
	policy *policy.Service
	// cache, when set, serves the keys page's notes between views.
	cache *notescache.Cache
}

// CacheNotes makes the keys page read its notes through c (see
// internal/notescache); the audit writer's changes invalidate it.
func (s *Service) CacheNotes(c *notescache.Cache) {
	s.cache = c
	s.audit.OnChange(c.Invalidate)
}

// New returns a Service. Keys unused (or never used and older) than
// staleAfter are flagged stale.
func New(pool *pgxpool.Pool, conns *connection.Service, w *audit.Writer, log *slog.Logger, now func() time.Time, staleAfter time.Duration, instance int32) *Service {
	return &Service{pool: pool, conns: conns, audit: w, log: log, now: now, staleAfter: staleAfter, instance: instance,
		policy: policy.New(pool, w, log, now)}
}

// Policies is the key policy service the key actions consult.
func (s *Service) Policies() *policy.Service { return s.policy }

// StaleAfter is the age past which an unused key is flagged stale.
func (s *Service) StaleAfter() time.Duration {
	return s.staleAfter
}

// Key is one access key as Keyport shows it: CXone's state merged with
// Keyport's notes.
type Key struct {
	ID               string
	OwnerUserID      string
	Active           bool
	StateUnknown     bool
	LastUsed         *time.Time
	LastUsedRaw      string
	Label            string
	CreatedByName    string
	CreatedAt        *time.Time
	CreatedInKeyport bool
	SecretLast4      string
	SecretLost       bool
	LastVerifiedAt   *time.Time
	LastVerifyResult string
	Stale            bool
	StaleReason      string
	// Violations are the key policy rules the key breaks, as of AsOf: when
	// Keyport last saw the tenant's whole list (nil: never).
	Violations []policy.Badge
	AsOf       *time.Time
}

// validKeyID accepts what the client accepts: printable ASCII, no spaces,
// at most 256 characters.
func validKeyID(id string) error {
	if id == "" || len(id) > 256 {
		return kp.Errorf(kp.Invalid, "That is not an access key id.")
	}
	for _, r := range id {
		if r <= 0x20 || r >= 0x7f {
			return kp.Errorf(kp.Invalid, "That is not an access key id.")
		}
	}
	return nil
}

func (s *Service) merge(k cxone.AccessKey, m kp.KeyMeta) Key {
	out := Key{ID: k.ID, OwnerUserID: k.UserID, Active: k.Active, StateUnknown: k.ActiveUnknown, LastUsed: k.LastUsed,
		LastUsedRaw: k.LastUsedRaw, Label: m.Label, CreatedByName: m.CreatedByName, CreatedAt: m.CreatedAt,
		CreatedInKeyport: m.CreatedAt != nil, SecretLast4: m.SecretLast4, SecretLost: m.SecretLost,
		LastVerifiedAt: m.LastVerifiedAt, LastVerifyResult: m.LastVerifyResult}
	now := s.now()
	switch {
	case k.LastUsed != nil && now.Sub(*k.LastUsed) > s.staleAfter:
		out.Stale, out.StaleReason = true, fmt.Sprintf("not used for %d days", int(now.Sub(*k.LastUsed).Hours()/24))
	case k.LastUsed == nil && k.LastUsedRaw == "" && m.CreatedAt != nil && now.Sub(*m.CreatedAt) > s.staleAfter:
		out.Stale, out.StaleReason = true, "never used"
	case m.CreatedAt != nil && now.Sub(*m.CreatedAt) > s.staleAfter:
		out.Stale, out.StaleReason = true, fmt.Sprintf("older than %d days", int(s.staleAfter.Hours()/24))
	}
	return out
}

// target returns the key an action through as is aimed at, after find and
// checkOwner allowed it.
func (s *Service) target(ctx context.Context, as connection.Caller, action kp.Action, keyID string) (*cxone.AccessKey, error) {
	k, err := s.find(ctx, as, action, keyID)
	if err != nil {
		return nil, err
	}
	if err := s.checkOwner(ctx, as, action, k); err != nil {
		return nil, err
	}
	return k, nil
}

// errGone is find's answer for a key Keyport knew in this tenant and CXone
// no longer has.
var errGone = kp.Errorf(kp.NotFound, "That key no longer exists in CXone: it was deleted meanwhile.")

// knewHere reports whether Keyport has notes on keyID in the caller's tenant.
func (s *Service) knewHere(ctx context.Context, as connection.Caller, keyID string) bool {
	m, err := db.New(s.pool).KeyMeta(ctx, as.Conn.Region, as.Conn.TenantID, keyID)
	return err == nil && m.AccessKeyID != ""
}

// find returns the key if it belongs to the connection's tenant. Anything
// else (another tenant's id, a made-up id) is recorded as a denied attempt
// and reported as not found, without any mutating call.
func (s *Service) find(ctx context.Context, as connection.Caller, action kp.Action, keyID string) (*cxone.AccessKey, error) {
	if err := validKeyID(keyID); err != nil {
		return nil, err
	}
	k, err := s.conns.GetKey(ctx, as, keyID)
	deny := func(msg string, status int) error {
		kind := kp.NotFound
		if status == 403 {
			kind = kp.Forbidden
		}
		s.audit.Note(ctx, as.Event(action, keyID), audit.Result{Outcome: kp.OutcomeDenied, UpstreamStatus: status, Message: msg})
		return kp.Errorf(kind, "%s", msg)
	}
	conn := as.Conn
	switch {
	case err == nil && k.TenantID != "" && !strings.EqualFold(k.TenantID, conn.TenantID):
		return nil, deny(fmt.Sprintf("There is no key %s in %s (%s).", keyID, conn.TenantName, conn.Region), 0)
	case err == nil:
		return k, nil
	case cxone.KindOf(err) == cxone.NotFound && s.knewHere(ctx, as, keyID):
		// Keyport knew this key in this tenant: it was deleted meanwhile
		// (a racing delete, another console), not probed from elsewhere.
		if action != kp.KeyDelete { // a delete records its own "already gone"
			s.audit.Note(ctx, as.Event(action, keyID), audit.Result{Outcome: kp.OutcomeFailure, UpstreamStatus: 404, Message: "the key no longer exists in CXone"})
		}
		return nil, errGone
	case cxone.KindOf(err) == cxone.NotFound:
		return nil, deny(fmt.Sprintf("There is no key %s in %s (%s).", keyID, conn.TenantName, conn.Region), 404)
	case cxone.KindOf(err) == cxone.Forbidden:
		// CXone hides keys of other users from a user without "Access Key".
		return nil, deny("CXone refused access to this key: it belongs to another user, and your CXone role lacks the \"Access Key\" privilege needed to act on it.", 403)
	default:
		return nil, connection.UpstreamError(err, "look up the key")
	}
}

// checkOwner refuses acting on another user's key without "Access Key".
func (s *Service) checkOwner(ctx context.Context, as connection.Caller, action kp.Action, k *cxone.AccessKey) error {
	conn := as.Conn
	if k.UserID == "" || strings.EqualFold(k.UserID, conn.UserID) || conn.CanManageOthers == nil || *conn.CanManageOthers {
		return nil
	}
	msg := "This key belongs to another user, and your CXone role lacks the \"Access Key\" privilege needed to act on it."
	s.audit.Note(ctx, as.Event(action, k.ID), audit.Result{Outcome: kp.OutcomeDenied, Message: msg})
	return kp.Errorf(kp.Forbidden, "%s", msg)
}

// Get returns one key of the tenant, merged with Keyport's notes, for the
// page that confirms action on it.
func (s *Service) Get(ctx context.Context, as connection.Caller, action kp.Action, keyID string) (*Key, error) {
	k, err := s.target(ctx, as, action, keyID)
	if err != nil {
		return nil, err
	}
	f, err := db.New(s.pool).KeyMetaWithPolicy(ctx, as.Conn.Region, as.Conn.TenantID, k.ID)
	if err != nil {
		return nil, kp.StoreError(err, "Keyport cannot read its notes on this key right now.")
	}
	out := s.merge(*k, f.Meta)
	s.judge(&out, f.Policy, f.FirstSeen, f.AsOf)
	return &out, nil
}

// judge sets the policy rules k breaks: its age runs from its creation
// through Keyport, else from Keyport's first sighting (db.SyncViolations).
func (s *Service) judge(k *Key, p kp.Policy, firstSeen, asOf *time.Time) {
	since := k.CreatedAt
	if since == nil {
		since = firstSeen
	}
	k.AsOf = asOf
	k.Violations = policy.Check(p, policy.KeyFacts{Active: k.Active || k.StateUnknown, Since: since, LastUsed: k.LastUsed}, s.now())
}
