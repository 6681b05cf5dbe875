package keys

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/keyport/keyport/cxone"
	"github.com/keyport/keyport/db"
	"github.com/keyport/keyport/internal/audit"
	"github.com/keyport/keyport/internal/connection"
	"github.com/keyport/keyport/internal/kp"
)

// unknown handles a create whose answer was lost (§6.3): it lists the
// owner's keys again right away and settles the create from the list. If
// that list fails too, the create stays pending, and the next list of the
// keys page (or `keyport reconcile`) settles it.
func (s *Service) unknown(ctx context.Context, as connection.Caller, kc *kp.CreateAttempt, err error) *CreateResult {
	ctx = context.WithoutCancel(ctx) // a key may exist: record what became of it whatever the browser does
	kc.State, kc.Message, kc.UpdatedAt = "unknown", kp.MessageOf(connection.UpstreamError(err, "create a key")), s.now()
	if uerr := db.New(s.pool).UpdateKeyCreate(ctx, kc); uerr != nil {
		s.log.ErrorContext(ctx, "record unknown create", "err", uerr)
	}
	after, lerr := s.conns.ListKeys(ctx, as, kc.OwnerUserID)
	if lerr != nil {
		return &CreateResult{State: "unknown", Message: "CXone's answer was lost and Keyport could not check whether the key was created. The keys page shows it as pending until it is reconciled."}
	}
	return s.settle(ctx, as, kc, after)
}

// settle decides an unknown create from the owner's key list after it:
// no new key is "not created", one is "secret lost", more are "ambiguous".
func (s *Service) settle(ctx context.Context, as connection.Caller, kc *kp.CreateAttempt, after *cxone.KeyList) *CreateResult {
	ctx = context.WithoutCancel(ctx)
	conn, q := as.Conn, db.New(s.pool)
	known, _ := q.TenantKeyMeta(ctx, conn.Region, conn.TenantID)
	fresh := newKeys(kc, after, known)
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
	ev := as.Event(kp.KeyReconcile, "")
	r := audit.Result{Outcome: kp.OutcomeSuccess, TargetKeyID: res.KeyID, Details: details, Message: res.Message}
	if kc.AuditIntentID != nil {
		s.audit.Outcome(ctx, audit.IntentID(*kc.AuditIntentID), ev, r)
	} else {
		s.audit.Note(ctx, ev, r)
	}
	return res
}

// newKeys returns the owner's keys in after that were not there before the
// create (S1 − S0), leaving out keys Keyport knows were made earlier.
func newKeys(kc *kp.CreateAttempt, after *cxone.KeyList, known map[string]kp.KeyMeta) []string {
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
	return fresh
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
	for i := range pending {
		p := &pending[i]
		conns, err := q.ActiveConnectionsInTenant(ctx, p.Region, p.TenantID)
		if err != nil || len(conns) == 0 {
			remaining++
			continue
		}
		// No one asked: the job acts through the tenant's connection, with
		// no request or session to record.
		as := connection.Caller{Conn: s.conns.FromRow(&conns[0])}
		list, err := s.conns.ListKeys(ctx, as, p.OwnerUserID)
		if err != nil {
			remaining++
			continue
		}
		if r := s.settle(ctx, as, p, list); r.State == "unknown" {
			remaining++
		} else {
			settled++
		}
	}
	return settled, remaining, nil
}

// CheckIntent asks CXone what became of an open intent whose effect can be
// read back, a deactivate, an activate or a delete of a key, through a live
// connection to the key's tenant (`keyport reconcile`). ok is false when it
// cannot tell: another action, no live connection, or CXone not answering.
func (s *Service) CheckIntent(ctx context.Context, in kp.AuditEvent) (audit.Result, bool) {
	if in.TargetKeyID == "" || in.Action != kp.KeyDeactivate && in.Action != kp.KeyActivate && in.Action != kp.KeyDelete {
		return audit.Result{}, false
	}
	conns, err := db.New(s.pool).ActiveConnectionsInTenant(ctx, in.Region, in.TenantID)
	if err != nil || len(conns) == 0 {
		return audit.Result{}, false
	}
	k, err := s.conns.GetKey(ctx, connection.Caller{Conn: s.conns.FromRow(&conns[0])}, in.TargetKeyID)
	gone := cxone.KindOf(err) == cxone.NotFound
	if err != nil && !gone {
		return audit.Result{}, false
	}
	var done bool
	switch in.Action {
	case kp.KeyDelete:
		done = gone
	case kp.KeyDeactivate:
		done = !gone && !k.Active && !k.ActiveUnknown
	default:
		done = !gone && k.Active
	}
	if done {
		return audit.Result{Outcome: kp.OutcomeSuccess, Message: "the outcome was never recorded; CXone shows it done (checked by keyport reconcile)"}, true
	}
	return audit.Result{Outcome: kp.OutcomeFailure, Message: "the outcome was never recorded; CXone shows it not done (checked by keyport reconcile)"}, true
}
