package keys

import (
	"context"
	"errors"
	"strings"

	"github.com/keyport/keyport/cxone"
	"github.com/keyport/keyport/db"
	"github.com/keyport/keyport/internal/audit"
	"github.com/keyport/keyport/internal/connection"
	"github.com/keyport/keyport/internal/input"
	"github.com/keyport/keyport/internal/kp"
	"github.com/keyport/keyport/internal/policy"
	"github.com/keyport/keyport/internal/secret"
)

// CreateForm is a create submission.
type CreateForm struct {
	Token  string // the form's one-time intent id
	Label  string
	UserID string // optional: another user of the tenant (needs "Access Key")
	// replaces is the key a rotation's new key replaces: it is deactivated
	// next, so the policy's cap on active keys does not count it.
	replaces string
}

// CreateResult says what became of a create.
type CreateResult struct {
	State string // created, not_created, secret_lost, ambiguous, unknown
	KeyID string
	Label string
	// Secret is the new key's secret, when State is created: it goes into
	// the answer to the create and nowhere else (docs/security.md).
	Secret  secret.Secret
	Message string
	// Listing is set, with an error, when Create was refused after it had
	// listed the keys: the keys page as then listed, so that the form can
	// be shown again without asking CXone a second time.
	Listing *Listing
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

// ValidFormToken checks a create form's intent id (the boundary's Handle
// kind, and required).
func ValidFormToken(t string) bool { return t != "" && input.Check(input.Handle, t) == "" }

// SecretShownOnce is what every way back to a creation page says (a
// reload, the Back button, a second submit): the same words every time.
const SecretShownOnce = "Its secret was shown once and cannot be shown again: if you did not save it, deactivate and delete this key and create a new one."

// NewFormToken returns a fresh one-time id for a create form.
func NewFormToken() string { return kp.NewToken() }

// Create creates one key per form token. The create call is sent once;
// if its outcome is lost Keyport diffs the owner's keys to find out. When
// it is refused after listing the keys, the result carries the keys page
// (see CreateResult.Listing) beside the error.
func (s *Service) Create(ctx context.Context, as connection.Caller, f CreateForm) (*CreateResult, error) {
	res, seen, err := s.create(ctx, as, f)
	if err == nil || seen.KeyList == nil {
		return res, err
	}
	listing, lerr := s.listing(ctx, as, seen, "")
	if lerr != nil {
		s.log.WarnContext(ctx, "keys page after a refused create", "err", lerr)
		return nil, err
	}
	return &CreateResult{Listing: listing}, err
}

// create is Create without the keys page: it also returns the keys as
// listed on the way (none if it stopped before listing).
func (s *Service) create(ctx context.Context, as connection.Caller, f CreateForm) (*CreateResult, keyList, error) {
	if !ValidFormToken(f.Token) {
		return nil, keyList{}, kp.Errorf(kp.Invalid, "The form is missing its one-time id. Reload the keys page and try again.")
	}
	label, err := ValidateLabel(f.Label)
	if err != nil {
		return nil, keyList{}, err
	}
	pol, err := s.policy.Effective(ctx, as.Conn.TenantID)
	if err != nil {
		return nil, keyList{}, err
	}
	if err := policy.CheckLabel(pol, label); err != nil {
		return nil, keyList{}, s.refused(ctx, as, label, as.Conn.UserID, err)
	}
	owner, seen, err := s.owner(ctx, as, f.UserID, label)
	if err != nil {
		return nil, seen, err
	}
	kc, err := s.claim(ctx, as, f.Token, owner, label)
	if err != nil {
		return nil, seen, err
	}
	if seen.KeyList == nil {
		seen, err = s.list(ctx, as, "")
	}
	var active int
	if err == nil {
		kc.BeforeIDs, active, err = s.beforeIDs(ctx, as, seen, owner)
	}
	if err != nil {
		// Nothing was sent to create, but the attempt and why it stopped
		// belong in the trail.
		ev := as.Event(kp.KeyCreate, "")
		ev.Details = audit.Details{Label: label, OwnerUserID: owner, Step: "list before create"}
		s.audit.Note(ctx, ev, connection.Failure(err))
		return nil, seen, s.failed(ctx, kc, connection.UpstreamError(err, "list keys before creating one"))
	}
	if f.replaces != "" && active > 0 {
		active--
	}
	if err := policy.CheckActive(pol, owner, active); err != nil {
		return nil, seen, s.failed(ctx, kc, s.refused(ctx, as, label, owner, err))
	}
	res, err := s.send(ctx, as, kc)
	return res, seen, err
}

// refused records a create the key policy refuses as denied, and returns err.
func (s *Service) refused(ctx context.Context, as connection.Caller, label, owner string, err error) error {
	ev := as.Event(kp.KeyCreate, "")
	ev.Details = audit.Details{Label: label, OwnerUserID: owner, Step: "key policy"}
	s.audit.Note(ctx, ev, audit.Result{Outcome: kp.OutcomeDenied, Message: kp.MessageOf(err)})
	return err
}

// beforeIDs returns the ids of owner's keys before the create (S0, §6.1),
// and how many of them are active (or of unknown state).
// The keys page's own list serves when it holds all of the owner's keys;
// otherwise (another user's list, or one CXone may have cut short) the
// owner's keys are listed.
func (s *Service) beforeIDs(ctx context.Context, as connection.Caller, seen keyList, owner string) ([]string, int, error) {
	list := seen.KeyList
	if !seen.covers(owner) || seen.PossiblyIncomplete {
		var err error
		if list, err = s.conns.ListKeys(ctx, as, owner); err != nil {
			return nil, 0, err
		}
	}
	var ids []string
	active := 0
	for _, k := range list.Keys {
		if k.UserID == "" || strings.EqualFold(k.UserID, owner) {
			ids = append(ids, k.ID)
			if k.Active || k.ActiveUnknown {
				active++
			}
		}
	}
	return ids, active, nil
}

// owner returns whom a create is for: the caller, or another user of the
// tenant named in the form (checkOtherUser, with the tenant's keys it
// listed; a refusal is a denied event).
func (s *Service) owner(ctx context.Context, as connection.Caller, formUser, label string) (string, keyList, error) {
	u := strings.TrimSpace(formUser)
	if u == "" || strings.EqualFold(u, as.Conn.UserID) {
		return as.Conn.UserID, keyList{}, nil
	}
	seen, err := s.checkOtherUser(ctx, as, u)
	if err != nil {
		if kp.KindOf(err) == kp.Forbidden {
			ev := as.Event(kp.KeyCreate, "")
			ev.Details = audit.Details{Label: label, OwnerUserID: u}
			s.audit.Note(ctx, ev, audit.Result{Outcome: kp.OutcomeDenied, Message: kp.MessageOf(err)})
		}
		return "", seen, err
	}
	return u, seen, nil
}

// claim records the form's one-time id, so that a second submission of the
// same form creates nothing.
func (s *Service) claim(ctx context.Context, as connection.Caller, token, owner, label string) (*kp.CreateAttempt, error) {
	conn, now := as.Conn, s.now()
	kc := &kp.CreateAttempt{FormToken: token, Region: conn.Region, TenantID: conn.TenantID, OwnerUserID: owner,
		ConnectionID: conn.ID, ActorUserID: conn.UserID, ActorName: conn.UserName, Label: label, State: "started", CreatedAt: now, UpdatedAt: now}
	prev, err := db.New(s.pool).ClaimKeyCreate(ctx, kc)
	switch {
	case err == nil:
		return kc, nil
	case prev != nil && prev.AccessKeyID != "":
		return nil, kp.Errorf(kp.Conflict, "This form was already submitted and created key %s; no second key was created. %s", prev.AccessKeyID, SecretShownOnce)
	case kp.KindOf(err) == kp.Conflict:
		return nil, err
	default:
		return nil, kp.StoreError(err, "Keyport cannot reach its database, so it created nothing. Try again in a moment.")
	}
}

// send records the intent and sends the create, once.
func (s *Service) send(ctx context.Context, as connection.Caller, kc *kp.CreateAttempt) (*CreateResult, error) {
	ev := as.Event(kp.KeyCreate, "")
	ev.Details = audit.Details{Label: kc.Label, OwnerUserID: kc.OwnerUserID}
	intent, err := s.audit.Intent(ctx, ev)
	if err != nil {
		return nil, s.failed(ctx, kc, err)
	}
	if err := s.sending(ctx, kc, intent); err != nil {
		s.audit.Outcome(ctx, intent, ev, audit.Result{Outcome: kp.OutcomeFailure, Message: kp.MessageOf(err)})
		return nil, s.failed(ctx, kc, err)
	}
	created, err := s.conns.CreateKey(ctx, as, kc.OwnerUserID)
	if err == nil {
		return s.created(ctx, as, kc, ev, intent, created), nil
	}
	s.audit.Outcome(ctx, intent, ev, connection.Failure(err))
	switch kind := cxone.KindOf(err); {
	case errors.Is(err, connection.ErrNotSent):
		return nil, s.failed(ctx, kc, err)
	case kind == cxone.OutcomeUnknown || kind == cxone.Timeout:
		return s.unknown(ctx, as, kc, err), nil
	case kind == cxone.Unauthorized:
		// §6.4: CXone created nothing, and the bearer has been renewed.
		return nil, s.failed(ctx, kc, kp.Errorf(kp.Unauthorized, "CXone did not accept Keyport's token for the create, so no key was created. Press Create key again."))
	case kind == cxone.Forbidden:
		return nil, s.failed(ctx, kc, createForbidden(err))
	default:
		return nil, s.failed(ctx, kc, connection.UpstreamError(err, "create a key"))
	}
}

// sending records, durably and before the POST leaves, everything
// settling the create needs if this process dies before CXone answers: the
// owner's keys before, the intent, and this process's instance lock.
func (s *Service) sending(ctx context.Context, kc *kp.CreateAttempt, intent audit.IntentID) error {
	iid, inst := int64(intent), s.instance
	kc.State, kc.AuditIntentID, kc.InstanceKey, kc.UpdatedAt = "sending", &iid, &inst, s.now()
	if err := db.New(s.pool).UpdateKeyCreate(ctx, kc); err != nil {
		return kp.StoreError(err, "Keyport cannot reach its database, so it created nothing. Try again in a moment.")
	}
	return nil
}

// failed records that a create stopped without creating a key, and why,
// and returns err.
func (s *Service) failed(ctx context.Context, kc *kp.CreateAttempt, err error) error {
	kc.State, kc.Message, kc.UpdatedAt = "failed", kp.MessageOf(err), s.now()
	if uerr := db.New(s.pool).UpdateKeyCreate(context.WithoutCancel(ctx), kc); uerr != nil {
		s.log.ErrorContext(ctx, "record create state", "err", uerr)
	}
	return err
}

// created records a new key: Keyport's notes (a fingerprint and the last
// four characters of its secret, never the secret), the create's state and
// its outcome; the secret goes back to the caller, for the answer.
func (s *Service) created(ctx context.Context, as connection.Caller, kc *kp.CreateAttempt, ev audit.Event, intent audit.IntentID, k *cxone.CreatedKey) *CreateResult {
	ctx = context.WithoutCancel(ctx) // the key exists now: record it whatever the browser does
	conn, q := as.Conn, db.New(s.pool)
	fp := s.audit.Keys().Fingerprint(k.Secret)
	now := s.now()
	last4 := lastN(k.Secret.Reveal(), 4)
	if err := q.InsertKeyMeta(ctx, kp.KeyMeta{Region: conn.Region, TenantID: conn.TenantID,
		AccessKeyID: k.ID, OwnerUserID: kc.OwnerUserID, Label: kc.Label, CreatedByUserID: conn.UserID,
		CreatedByName: conn.UserName, CreatedAt: &now, SecretFingerprint: fp, FingerprintKeyID: s.audit.Keys().FingerprintKeyID(),
		SecretLast4: last4}); err != nil {
		s.log.ErrorContext(ctx, "store new key's metadata", "key", k.ID, "err", err)
	}
	s.observeKey(ctx, conn, cxone.AccessKey{ID: k.ID, UserID: kc.OwnerUserID, TenantID: conn.TenantID, Active: true})
	kc.State, kc.AccessKeyID, kc.UpdatedAt = "created", k.ID, now
	if err := q.UpdateKeyCreate(ctx, kc); err != nil {
		s.log.ErrorContext(ctx, "record create", "err", err)
	}
	s.audit.Outcome(ctx, intent, ev, audit.Result{Outcome: kp.OutcomeSuccess, TargetKeyID: k.ID,
		Details: &audit.Details{Label: kc.Label, OwnerUserID: kc.OwnerUserID, SecretFingerprint: fp, SecretLast4: last4}})
	return &CreateResult{State: "created", KeyID: k.ID, Label: kc.Label, Secret: k.Secret}
}

// checkOtherUser allows acting for another user only with the "Access
// Key" privilege and only for a user CXone lists in the same tenant. It
// returns the tenant's keys it listed to find out.
func (s *Service) checkOtherUser(ctx context.Context, as connection.Caller, user string) (keyList, error) {
	if as.Conn.CanManageOthers != nil && !*as.Conn.CanManageOthers {
		return keyList{}, kp.Errorf(kp.Forbidden, "You can create keys only for yourself: your CXone role lacks the \"Access Key\" privilege.")
	}
	list, err := s.list(ctx, as, "")
	if err != nil {
		return keyList{}, connection.UpstreamError(err, "check the user")
	}
	if list.ownOnly {
		return list, kp.Errorf(kp.Forbidden, "You can create keys only for yourself: your CXone role lacks the \"Access Key\" privilege.")
	}
	for _, k := range list.Keys {
		if strings.EqualFold(k.UserID, user) {
			return list, nil
		}
	}
	return list, kp.Errorf(kp.Invalid, "User %q is not a user with keys in %s. Choose a user from the list.", user, as.Conn.TenantName)
}

func lastN(s string, n int) string {
	s = strings.TrimRight(s, "=")
	if len(s) <= n {
		return ""
	}
	return s[len(s)-n:]
}
