package keys

import (
	"context"
	"strings"

	"github.com/keyport/keyport/cxone"
	"github.com/keyport/keyport/db"
	"github.com/keyport/keyport/internal/audit"
	"github.com/keyport/keyport/internal/connection"
	"github.com/keyport/keyport/internal/input"
	"github.com/keyport/keyport/internal/kp"
	"github.com/keyport/keyport/internal/secret"
)

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

// NewFormToken returns a fresh one-time id for a create form.
func NewFormToken() string { return kp.NewToken() }

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

func lastN(s string, n int) string {
	s = strings.TrimRight(s, "=")
	if len(s) <= n {
		return ""
	}
	return s[len(s)-n:]
}
