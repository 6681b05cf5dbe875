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
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/keyport/keyport/cxone"
	"github.com/keyport/keyport/db"
	"github.com/keyport/keyport/internal/audit"
	"github.com/keyport/keyport/internal/connection"
	"github.com/keyport/keyport/internal/input"
	"github.com/keyport/keyport/internal/kp"
	"github.com/keyport/keyport/internal/secret"
)

// Service runs key actions.
type Service struct {
	pool       *pgxpool.Pool
	conns      *connection.Service
	cx         *cxone.Client
	audit      *audit.Writer
	vault      *Vault
	log        *slog.Logger
	now        func() time.Time
	staleAfter time.Duration
}

// New returns a Service. Keys unused (or never used and older) than
// staleAfter are flagged stale.
func New(pool *pgxpool.Pool, conns *connection.Service, w *audit.Writer, log *slog.Logger, now func() time.Time, staleAfter time.Duration) *Service {
	return &Service{pool: pool, conns: conns, cx: conns.CXone(), audit: w, vault: NewVault(now), log: log, now: now, staleAfter: staleAfter}
}

// Vault is the in-memory holder of new keys' secrets.
func (s *Service) Vault() *Vault { return s.vault }

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
}

// Pending is a create whose outcome Keyport does not know yet, or could not
// pin to one key.
type Pending struct {
	FormToken    string
	OwnerUserID  string
	Label        string
	State        string // unknown, ambiguous
	CandidateIDs []string
	CreatedAt    time.Time
}

// Listing is the keys page's content.
type Listing struct {
	Keys               []Key
	Pending            []Pending
	Owners             []string // users seen in the list, for the filter
	OwnOnly            bool     // the user lacks "Access Key": own keys only
	PossiblyIncomplete bool
	Reconciled         []string // messages about creates reconciled just now
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

// List lists the connection's keys (or userFilter's), merging Keyport's
// notes, and reconciles creates whose outcome was unknown.
func (s *Service) List(ctx context.Context, req connection.Request, conn *connection.Connection, userFilter string) (*Listing, error) {
	userFilter = strings.TrimSpace(userFilter)
	ev := audit.Event{Actor: conn.Actor(), Scope: conn.Scope(req), Action: kp.KeyList}
	list, ownOnly, err := s.list(ctx, req, conn, userFilter)
	if err != nil {
		s.audit.Note(ctx, ev, connection.Failure(err))
		return nil, connection.UpstreamError(err, "list keys")
	}
	out := &Listing{OwnOnly: ownOnly, PossiblyIncomplete: list.PossiblyIncomplete}
	q := db.New(s.pool)
	msgs, err := s.reconcile(ctx, req, conn, list)
	if err != nil {
		s.log.WarnContext(ctx, "reconcile on list", "err", err)
	}
	out.Reconciled = msgs
	meta, err := q.TenantKeyMeta(ctx, conn.Region, conn.TenantID)
	if err != nil {
		return nil, kp.StoreError(err, "Keyport cannot read its notes on these keys right now. Try again in a moment.")
	}
	owners := map[string]bool{}
	for _, k := range list.Keys {
		owners[k.UserID] = true
		out.Keys = append(out.Keys, s.merge(k, meta[k.ID]))
	}
	sort.SliceStable(out.Keys, func(i, j int) bool {
		a, b := out.Keys[i], out.Keys[j]
		if (a.CreatedAt == nil) != (b.CreatedAt == nil) {
			return a.CreatedAt != nil
		}
		if a.CreatedAt != nil && !a.CreatedAt.Equal(*b.CreatedAt) {
			return a.CreatedAt.After(*b.CreatedAt)
		}
		return a.ID < b.ID
	})
	for o := range owners {
		out.Owners = append(out.Owners, o)
	}
	sort.Strings(out.Owners)
	if pending, err := s.Pending(ctx, conn); err == nil {
		for _, p := range pending {
			if userFilter == "" || p.OwnerUserID == userFilter {
				out.Pending = append(out.Pending, p)
			}
		}
	}
	if err := s.audit.Record(ctx, ev, audit.Result{Outcome: kp.OutcomeSuccess,
		Details: &audit.Details{Count: int64(len(out.Keys)), Filters: map[string]string{"user": userFilter}}}); err != nil {
		return nil, err
	}
	return out, nil
}

// Pending returns the tenant's creates whose outcome is not known yet. It
// needs no upstream call, so the keys page can show them even when CXone
// cannot be reached.
func (s *Service) Pending(ctx context.Context, conn *connection.Connection) ([]Pending, error) {
	rows, err := db.New(s.pool).PendingKeyCreates(ctx, conn.Region, conn.TenantID)
	if err != nil {
		return nil, err
	}
	out := make([]Pending, 0, len(rows))
	for _, p := range rows {
		out = append(out, Pending{FormToken: p.FormToken, OwnerUserID: p.OwnerUserID, Label: p.Label, State: p.State, CreatedAt: p.CreatedAt})
	}
	return out, nil
}

// list asks CXone for the tenant's keys (or one user's). A user without the
// "Access Key" privilege gets a 403 on a tenant-wide list; Keyport learns
// that once and from then on lists the user's own keys only.
func (s *Service) list(ctx context.Context, req connection.Request, conn *connection.Connection, userFilter string) (*cxone.KeyList, bool, error) {
	ownOnly := conn.CanManageOthers != nil && !*conn.CanManageOthers
	if ownOnly {
		userFilter = conn.UserID
	}
	var list *cxone.KeyList
	call := func(user string) error {
		return s.conns.Do(ctx, req, conn, func(bearer secret.Secret) error {
			var err error
			list, err = s.cx.ListKeys(ctx, conn.Region, bearer, user)
			return err
		})
	}
	err := call(userFilter)
	if err == nil && userFilter == "" && conn.CanManageOthers == nil {
		s.conns.SetCanManageOthers(ctx, conn, true)
	}
	if cxone.KindOf(err) == cxone.Forbidden && userFilter != conn.UserID {
		s.conns.SetCanManageOthers(ctx, conn, false)
		ownOnly = true
		err = call(conn.UserID)
	}
	if err != nil {
		return nil, ownOnly, err
	}
	// Defence in depth: never show a key CXone says belongs elsewhere.
	keys := list.Keys[:0]
	for _, k := range list.Keys {
		if k.TenantID == "" || strings.EqualFold(k.TenantID, conn.TenantID) {
			keys = append(keys, k)
		}
	}
	list.Keys = keys
	return list, ownOnly, nil
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

// CreateForm is a create submission.
type CreateForm struct {
	Token  string // the form's one-time intent id
	Label  string
	UserID string // optional: another user of the tenant (needs "Access Key")
}

// CreateResult says what became of a create.
type CreateResult struct {
	State      string // created, not_created, secret_lost, ambiguous, unknown
	KeyID      string
	VaultToken string // for the creation page, when State is created
	Message    string
}

// ValidateLabel checks a key label (the same rule the HTTP boundary
// applies, for callers that are not HTTP) and trims it.
func ValidateLabel(l string) (string, error) {
	l = strings.TrimSpace(l)
	if p := input.Check(input.Label, l); p != "" {
		return "", kp.Errorf(kp.Invalid, "The label %s.", p)
	}
	return l, nil
}

// ValidFormToken checks a create form's intent id.
func ValidFormToken(t string) bool {
	if len(t) < 16 || len(t) > 64 {
		return false
	}
	for _, r := range t {
		if !(r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return true
}

// Create creates one key per form token. The create call is sent once;
// if its outcome is lost Keyport diffs the owner's keys to find out.
func (s *Service) Create(ctx context.Context, req connection.Request, conn *connection.Connection, f CreateForm) (*CreateResult, error) {
	if !ValidFormToken(f.Token) {
		return nil, kp.Errorf(kp.Invalid, "The form is missing its one-time id. Reload the keys page and try again.")
	}
	label, err := ValidateLabel(f.Label)
	if err != nil {
		return nil, err
	}
	owner := conn.UserID
	if u := strings.TrimSpace(f.UserID); u != "" && !strings.EqualFold(u, conn.UserID) {
		if err := s.checkOtherUser(ctx, req, conn, u); err != nil {
			if kp.KindOf(err) == kp.Forbidden {
				s.audit.Note(ctx, audit.Event{Actor: conn.Actor(), Scope: conn.Scope(req), Action: kp.KeyCreate,
					Details: audit.Details{Label: label, OwnerUserID: u}}, audit.Result{Outcome: kp.OutcomeDenied, Message: kp.MessageOf(err)})
			}
			return nil, err
		}
		owner = u
	}
	q := db.New(s.pool)
	now := s.now()
	kc := &kp.CreateAttempt{FormToken: f.Token, Region: conn.Region, TenantID: conn.TenantID, OwnerUserID: owner,
		ConnectionID: conn.ID, ActorUserID: conn.UserID, ActorName: conn.UserName, Label: label, State: "started", CreatedAt: now, UpdatedAt: now}
	if prev, err := q.ClaimKeyCreate(ctx, kc); err != nil {
		if prev != nil && prev.AccessKeyID != "" {
			return nil, kp.Errorf(kp.Conflict, "This form was already submitted and created key %s; no second key was created.", prev.AccessKeyID)
		}
		if kp.KindOf(err) == kp.Conflict {
			return nil, err
		}
		return nil, kp.StoreError(err, "Keyport cannot reach its database, so it created nothing. Try again in a moment.")
	}
	fail := func(state, msg string, err error) (*CreateResult, error) {
		kc.State, kc.Message, kc.UpdatedAt = state, msg, s.now()
		if uerr := q.UpdateKeyCreate(context.WithoutCancel(ctx), kc); uerr != nil {
			s.log.ErrorContext(ctx, "record create state", "err", uerr)
		}
		return nil, err
	}
	// §6.1: remember the owner's keys before the POST.
	var before *cxone.KeyList
	if err := s.conns.Do(ctx, req, conn, func(b secret.Secret) error {
		var err error
		before, err = s.cx.ListKeys(ctx, conn.Region, b, owner)
		return err
	}); err != nil {
		// Nothing was sent to create, but the attempt and why it stopped
		// belong in the trail.
		s.audit.Note(ctx, audit.Event{Actor: conn.Actor(), Scope: conn.Scope(req), Action: kp.KeyCreate,
			Details: audit.Details{Label: label, OwnerUserID: owner, Step: "list before create"}}, connection.Failure(err))
		uerr := connection.UpstreamError(err, "list keys before creating one")
		return fail("failed", kp.MessageOf(uerr), uerr)
	}
	for _, k := range before.Keys {
		kc.BeforeIDs = append(kc.BeforeIDs, k.ID)
	}
	ev := audit.Event{Actor: conn.Actor(), Scope: conn.Scope(req), Action: kp.KeyCreate,
		Details: audit.Details{Label: label, OwnerUserID: owner}}
	intent, err := s.audit.Intent(ctx, ev)
	if err != nil {
		return fail("failed", kp.MessageOf(err), err)
	}
	iid := int64(intent)
	kc.AuditIntentID = &iid
	bearer, err := s.conns.Bearer(ctx, req, conn)
	if err != nil {
		s.audit.Outcome(ctx, intent, ev, connection.Failure(err))
		return fail("failed", kp.MessageOf(err), err)
	}
	created, err := s.cx.CreateKey(ctx, conn.Region, bearer, conn.TenantID, owner)
	if err == nil {
		return s.created(ctx, req, conn, kc, ev, intent, created)
	}
	switch cxone.KindOf(err) {
	case cxone.OutcomeUnknown, cxone.Timeout:
		s.audit.Outcome(ctx, intent, ev, connection.Failure(err))
		kc.State, kc.Message, kc.UpdatedAt = "unknown", kp.MessageOf(connection.UpstreamError(err, "create a key")), s.now()
		if uerr := q.UpdateKeyCreate(context.WithoutCancel(ctx), kc); uerr != nil {
			s.log.ErrorContext(ctx, "record unknown create", "err", uerr)
		}
		// §6.3: list again right away; if that fails too the create stays
		// pending and the next list (or `keyport reconcile`) settles it.
		var after *cxone.KeyList
		lerr := s.conns.Do(context.WithoutCancel(ctx), req, conn, func(b secret.Secret) error {
			var err error
			after, err = s.cx.ListKeys(context.WithoutCancel(ctx), conn.Region, b, owner)
			return err
		})
		if lerr != nil {
			return &CreateResult{State: "unknown", Message: "CXone's answer was lost and Keyport could not check whether the key was created. The keys page shows it as pending until it is reconciled."}, nil
		}
		return s.settle(ctx, req, conn, kc, after), nil
	case cxone.Unauthorized:
		// §6.4: never re-POST; renew the bearer so the user's retry works.
		s.audit.Outcome(ctx, intent, ev, connection.Failure(err))
		_, _ = s.conns.Bearer(ctx, req, conn)
		return fail("failed", "", kp.Errorf(kp.Unauthorized, "CXone did not accept Keyport's token for the create, so no key was created. Press Create key again."))
	default:
		s.audit.Outcome(ctx, intent, ev, connection.Failure(err))
		uerr := connection.UpstreamError(err, "create a key")
		return fail("failed", kp.MessageOf(uerr), uerr)
	}
}

func (s *Service) created(ctx context.Context, req connection.Request, conn *connection.Connection, kc *kp.CreateAttempt,
	ev audit.Event, intent audit.IntentID, k *cxone.CreatedKey) (*CreateResult, error) {
	ctx = context.WithoutCancel(ctx) // the key exists now: record it whatever the browser does
	keys := s.audit.Keys()
	fp := keys.Fingerprint(k.Secret)
	now := s.now()
	last4 := lastN(k.Secret.Reveal(), 4)
	if err := db.New(s.pool).InsertKeyMeta(ctx, kp.KeyMeta{Region: conn.Region, TenantID: conn.TenantID,
		AccessKeyID: k.ID, OwnerUserID: kc.OwnerUserID, Label: kc.Label, CreatedByUserID: conn.UserID,
		CreatedByName: conn.UserName, CreatedAt: &now, SecretFingerprint: fp, SecretLast4: last4}); err != nil {
		s.log.ErrorContext(ctx, "store new key's metadata", "key", k.ID, "err", err)
	}
	kc.State, kc.AccessKeyID, kc.UpdatedAt = "created", k.ID, now
	if err := db.New(s.pool).UpdateKeyCreate(ctx, kc); err != nil {
		s.log.ErrorContext(ctx, "record create", "err", err)
	}
	s.audit.Outcome(ctx, intent, ev, audit.Result{Outcome: kp.OutcomeSuccess, TargetKeyID: k.ID,
		Details: &audit.Details{Label: kc.Label, OwnerUserID: kc.OwnerUserID, SecretFingerprint: fp, SecretLast4: last4}})
	token := s.vault.Put(req.SessionHash, k.ID, k.Secret)
	return &CreateResult{State: "created", KeyID: k.ID, VaultToken: token}, nil
}

// settle decides an unknown create from the owner's key list after it.
func (s *Service) settle(ctx context.Context, req connection.Request, conn *connection.Connection, kc *kp.CreateAttempt, after *cxone.KeyList) *CreateResult {
	ctx = context.WithoutCancel(ctx)
	q := db.New(s.pool)
	known, _ := q.TenantKeyMeta(ctx, conn.Region, conn.TenantID)
	var fresh []string
	for _, k := range after.Keys {
		if !strings.EqualFold(k.UserID, kc.OwnerUserID) && k.UserID != "" {
			continue
		}
		if slices.Contains(kc.BeforeIDs, k.ID) {
			continue
		}
		if m, ok := known[k.ID]; ok && m.CreatedAt != nil && m.CreatedAt.Before(kc.CreatedAt) {
			continue
		}
		fresh = append(fresh, k.ID)
	}
	res := &CreateResult{}
	details := &audit.Details{KeyIDs: fresh, Label: kc.Label, OwnerUserID: kc.OwnerUserID}
	switch {
	case len(fresh) == 0 && after.PossiblyIncomplete:
		return &CreateResult{State: "unknown", Message: "CXone's key list may be incomplete, so Keyport cannot tell yet whether the key was created. It stays pending."}
	case len(fresh) == 0:
		kc.State, res.State = "not_created", "not_created"
		res.Message = "CXone's answer was lost, but no new key appeared: the key was not created. You can try again."
		details.Result = "not created"
	case len(fresh) == 1:
		kc.State, kc.AccessKeyID, res.State, res.KeyID = "secret_lost", fresh[0], "secret_lost", fresh[0]
		res.Message = fmt.Sprintf("CXone created key %s, but its answer (with the secret) was lost. The secret cannot be recovered: deactivate and delete this key, then create another.", fresh[0])
		details.Result = "created, secret lost"
		if err := q.InsertKeyMeta(ctx, kp.KeyMeta{Region: conn.Region, TenantID: conn.TenantID, AccessKeyID: fresh[0],
			OwnerUserID: kc.OwnerUserID, Label: kc.Label, CreatedByUserID: kc.ActorUserID, CreatedByName: kc.ActorName,
			CreatedAt: &kc.CreatedAt, SecretLost: true}); err != nil {
			s.log.ErrorContext(ctx, "store reconciled key", "err", err)
		}
	default:
		kc.State, kc.CandidateIDs, res.State = "ambiguous", fresh, "ambiguous"
		res.Message = fmt.Sprintf("CXone's answer was lost and %d new keys appeared (someone else may be creating keys): %s. Keyport will not guess which is yours.", len(fresh), strings.Join(fresh, ", "))
		details.Result = "ambiguous"
	}
	kc.Message, kc.UpdatedAt = res.Message, s.now()
	if err := q.UpdateKeyCreate(ctx, kc); err != nil {
		s.log.ErrorContext(ctx, "record reconciled create", "err", err)
	}
	ev := audit.Event{Actor: conn.Actor(), Scope: conn.Scope(req), Action: kp.KeyReconcile}
	r := audit.Result{Outcome: kp.OutcomeSuccess, TargetKeyID: res.KeyID, Details: details, Message: res.Message}
	if kc.AuditIntentID != nil {
		s.audit.Outcome(ctx, audit.IntentID(*kc.AuditIntentID), ev, r)
	} else {
		s.audit.Note(ctx, ev, r)
	}
	return res
}

// reconcile settles the tenant's pending creates against a fresh list.
func (s *Service) reconcile(ctx context.Context, req connection.Request, conn *connection.Connection, list *cxone.KeyList) ([]string, error) {
	pending, err := db.New(s.pool).PendingKeyCreates(ctx, conn.Region, conn.TenantID)
	if err != nil || len(pending) == 0 {
		return nil, err
	}
	var msgs []string
	for i := range pending {
		p := &pending[i]
		owned := false
		for _, k := range list.Keys {
			if strings.EqualFold(k.UserID, p.OwnerUserID) {
				owned = true
				break
			}
		}
		// A list scoped to another user says nothing about this owner.
		if !owned && !strings.EqualFold(p.OwnerUserID, conn.UserID) && conn.CanManageOthers != nil && !*conn.CanManageOthers {
			continue
		}
		r := s.settle(ctx, req, conn, p, list)
		if r.State != "unknown" {
			msgs = append(msgs, r.Message)
		}
	}
	return msgs, nil
}

// ReconcileAll settles every tenant's pending creates through any live
// connection to that tenant (`keyport reconcile`). It returns how many were
// settled and how many remain pending.
func (s *Service) ReconcileAll(ctx context.Context) (settled, remaining int, err error) {
	q := db.New(s.pool)
	pending, err := q.PendingKeyCreates(ctx, "", "")
	if err != nil {
		return 0, 0, err
	}
	req := connection.Request{}
	for i := range pending {
		p := &pending[i]
		conns, err := q.ActiveConnectionsInTenant(ctx, p.Region, p.TenantID)
		if err != nil || len(conns) == 0 {
			remaining++
			continue
		}
		c := s.conns.FromRow(&conns[0])
		var list *cxone.KeyList
		lerr := s.conns.Do(ctx, req, c, func(b secret.Secret) error {
			var err error
			list, err = s.cx.ListKeys(ctx, c.Region, b, p.OwnerUserID)
			return err
		})
		if lerr != nil {
			remaining++
			continue
		}
		if r := s.settle(ctx, req, c, p, list); r.State == "unknown" {
			remaining++
		} else {
			settled++
		}
	}
	return settled, remaining, nil
}

// checkOtherUser allows acting for another user only with the "Access
// Key" privilege and only for a user CXone lists in the same tenant.
func (s *Service) checkOtherUser(ctx context.Context, req connection.Request, conn *connection.Connection, user string) error {
	if conn.CanManageOthers != nil && !*conn.CanManageOthers {
		return kp.Errorf(kp.Forbidden, "You can create keys only for yourself: your CXone role lacks the \"Access Key\" privilege.")
	}
	list, ownOnly, err := s.list(ctx, req, conn, "")
	if err != nil {
		return connection.UpstreamError(err, "check the user")
	}
	if ownOnly {
		return kp.Errorf(kp.Forbidden, "You can create keys only for yourself: your CXone role lacks the \"Access Key\" privilege.")
	}
	for _, k := range list.Keys {
		if strings.EqualFold(k.UserID, user) {
			return nil
		}
	}
	return kp.Errorf(kp.Invalid, "User %q is not a user with keys in %s. Choose a user from the list.", user, conn.TenantName)
}

// find returns the key if it belongs to the connection's tenant. Anything
// else (another tenant's id, a made-up id) is recorded as a denied attempt
// and reported as not found, without any mutating call.
func (s *Service) find(ctx context.Context, req connection.Request, conn *connection.Connection, action kp.Action, keyID string) (*cxone.AccessKey, error) {
	if err := validKeyID(keyID); err != nil {
		return nil, err
	}
	var k *cxone.AccessKey
	err := s.conns.Do(ctx, req, conn, func(b secret.Secret) error {
		var err error
		k, err = s.cx.GetKey(ctx, conn.Region, b, keyID)
		return err
	})
	deny := func(msg string, status int) error {
		kind := kp.NotFound
		if status == 403 {
			kind = kp.Forbidden
		}
		s.audit.Note(ctx, audit.Event{Actor: conn.Actor(), Scope: conn.Scope(req), Action: action, TargetKeyID: keyID},
			audit.Result{Outcome: kp.OutcomeDenied, UpstreamStatus: status, Message: msg})
		return kp.Errorf(kind, "%s", msg)
	}
	switch {
	case err == nil && k.TenantID != "" && !strings.EqualFold(k.TenantID, conn.TenantID):
		return nil, deny(fmt.Sprintf("There is no key %s in %s (%s).", keyID, conn.TenantName, conn.Region), 0)
	case err == nil:
		return k, nil
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
func (s *Service) checkOwner(ctx context.Context, req connection.Request, conn *connection.Connection, action kp.Action, k *cxone.AccessKey) error {
	if k.UserID == "" || strings.EqualFold(k.UserID, conn.UserID) || conn.CanManageOthers == nil || *conn.CanManageOthers {
		return nil
	}
	msg := "This key belongs to another user, and your CXone role lacks the \"Access Key\" privilege needed to act on it."
	s.audit.Note(ctx, audit.Event{Actor: conn.Actor(), Scope: conn.Scope(req), Action: action, TargetKeyID: k.ID},
		audit.Result{Outcome: kp.OutcomeDenied, Message: msg})
	return kp.Errorf(kp.Forbidden, "%s", msg)
}

// Get returns one key of the tenant, merged with Keyport's notes.
func (s *Service) Get(ctx context.Context, req connection.Request, conn *connection.Connection, action kp.Action, keyID string) (*Key, error) {
	k, err := s.find(ctx, req, conn, action, keyID)
	if err != nil {
		return nil, err
	}
	if err := s.checkOwner(ctx, req, conn, action, k); err != nil {
		return nil, err
	}
	meta, err := db.New(s.pool).TenantKeyMeta(ctx, conn.Region, conn.TenantID)
	if err != nil {
		return nil, kp.StoreError(err, "Keyport cannot read its notes on this key right now.")
	}
	out := s.merge(*k, meta[k.ID])
	return &out, nil
}

// SetActive deactivates or reactivates a key of the connection's tenant.
func (s *Service) SetActive(ctx context.Context, req connection.Request, conn *connection.Connection, keyID string, active bool) error {
	action := kp.KeyDeactivate
	if active {
		action = kp.KeyActivate
	}
	k, err := s.find(ctx, req, conn, action, keyID)
	if err != nil {
		return err
	}
	if err := s.checkOwner(ctx, req, conn, action, k); err != nil {
		return err
	}
	ev := audit.Event{Actor: conn.Actor(), Scope: conn.Scope(req), Action: action, TargetKeyID: k.ID,
		Details: audit.Details{OwnerUserID: k.UserID}}
	return s.audit.Do(ctx, ev, func(ctx context.Context) (audit.Result, error) {
		err := s.conns.Do(ctx, req, conn, func(b secret.Secret) error {
			return s.cx.SetActive(ctx, conn.Region, b, k.ID, conn.TenantID, k.UserID, active)
		})
		if err != nil {
			return connection.Failure(err), connection.UpstreamError(err, "change the key")
		}
		return audit.Result{Outcome: kp.OutcomeSuccess}, nil
	})
}

// Delete deletes an inactive key. Keyport refuses to delete an active key,
// whatever CXone would allow: deactivate first, see that nothing breaks,
// then delete (the AWS IAM rule).
func (s *Service) Delete(ctx context.Context, req connection.Request, conn *connection.Connection, keyID string) (alreadyGone bool, err error) {
	k, err := s.find(ctx, req, conn, kp.KeyDelete, keyID)
	if err != nil {
		return false, err
	}
	if err := s.checkOwner(ctx, req, conn, kp.KeyDelete, k); err != nil {
		return false, err
	}
	if k.Active || k.ActiveUnknown {
		msg := "Keyport deletes only inactive keys. Deactivate the key first, make sure nothing still uses it, then delete it."
		s.audit.Note(ctx, audit.Event{Actor: conn.Actor(), Scope: conn.Scope(req), Action: kp.KeyDelete, TargetKeyID: k.ID},
			audit.Result{Outcome: kp.OutcomeDenied, Message: msg})
		return false, kp.Errorf(kp.Conflict, "%s", msg)
	}
	ev := audit.Event{Actor: conn.Actor(), Scope: conn.Scope(req), Action: kp.KeyDelete, TargetKeyID: k.ID,
		Details: audit.Details{OwnerUserID: k.UserID}}
	err = s.audit.Do(ctx, ev, func(ctx context.Context) (audit.Result, error) {
		err := s.conns.Do(ctx, req, conn, func(b secret.Secret) error { return s.cx.DeleteKey(ctx, conn.Region, b, k.ID) })
		if cxone.KindOf(err) == cxone.NotFound {
			alreadyGone = true
			return audit.Result{Outcome: kp.OutcomeSuccess, Message: "already gone", UpstreamStatus: 404}, nil
		}
		if err != nil {
			return connection.Failure(err), connection.UpstreamError(err, "delete the key")
		}
		return audit.Result{Outcome: kp.OutcomeSuccess}, nil
	})
	return alreadyGone, err
}

// VerifyResult is what a verification found.
type VerifyResult struct {
	Works   bool
	Outcome kp.Outcome // success (works), failure (rejected), unknown
	Message string
	Warning string
}

// Verify obtains a token with the key's id and secret, which is how a key is
// shown to work. The token is discarded; the result is kept as metadata.
func (s *Service) Verify(ctx context.Context, req connection.Request, conn *connection.Connection, keyID string, keySecret secret.Secret) (*VerifyResult, error) {
	if keySecret.IsZero() {
		return nil, kp.Errorf(kp.Invalid, "Paste the key's secret to verify it.")
	}
	k, err := s.find(ctx, req, conn, kp.KeyVerify, keyID)
	if err != nil {
		return nil, err
	}
	if err := s.checkOwner(ctx, req, conn, kp.KeyVerify, k); err != nil {
		return nil, err
	}
	res := &VerifyResult{}
	ev := audit.Event{Actor: conn.Actor(), Scope: conn.Scope(req), Action: kp.KeyVerify, TargetKeyID: k.ID}
	err = s.audit.Do(ctx, ev, func(ctx context.Context) (audit.Result, error) {
		tokens, err := s.cx.TokenFromAccessKey(ctx, conn.Region, k.ID, keySecret)
		if err == nil {
			res.Works, res.Outcome = true, kp.OutcomeSuccess
			res.Message = fmt.Sprintf("Key %s works: CXone issued a token for it.", k.ID)
			id := tokens.Identity
			if (id.TenantID != "" && !strings.EqualFold(id.TenantID, conn.TenantID)) || (id.UserID != "" && k.UserID != "" && !strings.EqualFold(id.UserID, k.UserID)) {
				res.Warning = "The token CXone issued names a different user or tenant than the key's listed owner."
			}
			return audit.Result{Outcome: kp.OutcomeSuccess, Details: &audit.Details{Result: "works", Warning: res.Warning}}, nil
		}
		r := connection.Failure(err)
		switch cxone.KindOf(err) {
		case cxone.BadRequest, cxone.Unauthorized, cxone.Forbidden:
			res.Outcome = kp.OutcomeFailure
			r.Outcome = kp.OutcomeFailure
			res.Message = connection.WithUpstream("CXone rejected key "+k.ID+": the secret is wrong, or the key is inactive or deleted.", err)
			r.Details = &audit.Details{Result: "rejected"}
		default:
			res.Outcome = kp.OutcomeUnknown
			r.Outcome = kp.OutcomeUnknown
			res.Message = "Keyport could not tell whether the key works: " + kp.MessageOf(connection.UpstreamError(err, "verify"))
			r.Details = &audit.Details{Result: "unknown"}
		}
		return r, nil
	})
	if err != nil {
		return nil, err
	}
	result := map[kp.Outcome]string{kp.OutcomeSuccess: "works", kp.OutcomeFailure: "rejected", kp.OutcomeUnknown: "unknown"}[res.Outcome]
	if err := db.New(s.pool).RecordVerification(context.WithoutCancel(ctx), conn.Region, conn.TenantID, k.ID, k.UserID, s.now(), result); err != nil {
		s.log.ErrorContext(ctx, "record verification", "err", err)
	}
	return res, nil
}

// LookupResult is what a leaked-secret lookup found.
type LookupResult struct {
	Found bool
	Key   *Key
}

// Lookup finds which of the tenant's keys a pasted secret belongs to, by
// its keyed fingerprint. The pasted value is neither stored nor logged.
func (s *Service) Lookup(ctx context.Context, req connection.Request, conn *connection.Connection, pasted secret.Secret) (*LookupResult, error) {
	v := strings.TrimSpace(pasted.Reveal())
	if v == "" {
		return nil, kp.Errorf(kp.Invalid, "Paste the secret you want to look up.")
	}
	if len(v) > 256 {
		return nil, kp.Errorf(kp.Invalid, "That is too long to be an access-key secret.")
	}
	fp := s.audit.Keys().Fingerprint(secret.New(v))
	meta, err := db.New(s.pool).KeyMetaByFingerprint(ctx, conn.Region, conn.TenantID, fp)
	if err != nil {
		return nil, kp.StoreError(err, "Keyport cannot search its records right now.")
	}
	ev := audit.Event{Actor: conn.Actor(), Scope: conn.Scope(req), Action: kp.KeyLookup}
	if meta == nil {
		if err := s.audit.Record(ctx, ev, audit.Result{Outcome: kp.OutcomeSuccess, Details: &audit.Details{Result: "no match"}}); err != nil {
			return nil, err
		}
		return &LookupResult{}, nil
	}
	ev.TargetKeyID = meta.AccessKeyID
	res := &LookupResult{Found: true}
	var k *cxone.AccessKey
	lerr := s.conns.Do(ctx, req, conn, func(b secret.Secret) error {
		var err error
		k, err = s.cx.GetKey(ctx, conn.Region, b, meta.AccessKeyID)
		return err
	})
	switch {
	case lerr == nil:
		m := s.merge(*k, *meta)
		res.Key = &m
	case cxone.KindOf(lerr) == cxone.NotFound:
		res.Key = &Key{ID: meta.AccessKeyID, OwnerUserID: meta.OwnerUserID, Label: meta.Label, StateUnknown: true, LastVerifyResult: "deleted in CXone"}
	default:
		res.Key = &Key{ID: meta.AccessKeyID, OwnerUserID: meta.OwnerUserID, Label: meta.Label, StateUnknown: true}
	}
	if err := s.audit.Record(ctx, ev, audit.Result{Outcome: kp.OutcomeSuccess, Details: &audit.Details{Result: "match", SecretFingerprint: fp}}); err != nil {
		return nil, err
	}
	return res, nil
}

// Activity returns the tenant's audit events in the connection's area.
func (s *Service) Activity(ctx context.Context, conn *connection.Connection, limit int) ([]kp.AuditEvent, error) {
	ev, err := db.New(s.pool).TenantActivity(ctx, conn.Region, conn.TenantID, limit)
	if err != nil {
		return nil, kp.StoreError(err, "Keyport cannot read the activity right now.")
	}
	return ev, nil
}

func lastN(s string, n int) string {
	s = strings.TrimRight(s, "=")
	if len(s) <= n {
		return ""
	}
	return s[len(s)-n:]
}
