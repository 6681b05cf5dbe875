package keys

import (
	"context"
	"errors"

	"github.com/keyport/keyport/cxone"
	"github.com/keyport/keyport/internal/audit"
	"github.com/keyport/keyport/internal/connection"
	"github.com/keyport/keyport/internal/kp"
)

// SetActive deactivates or reactivates a key of the connection's tenant.
func (s *Service) SetActive(ctx context.Context, as connection.Caller, keyID string, active bool) error {
	action := kp.KeyDeactivate
	if active {
		action = kp.KeyActivate
	}
	k, err := s.target(ctx, as, action, keyID)
	if err != nil {
		return err
	}
	ev := as.Event(action, k.ID)
	ev.Details.OwnerUserID = k.UserID
	return s.audit.Do(ctx, ev, func(ctx context.Context) (audit.Result, error) {
		if err := s.conns.SetActive(ctx, as, k.ID, k.UserID, active); err != nil {
			return connection.Failure(err), connection.UpstreamError(err, "change the key")
		}
		return audit.Result{Outcome: kp.OutcomeSuccess}, nil
	})
}

// Delete deletes an inactive key. Keyport refuses to delete an active key,
// whatever CXone would allow: deactivate first, see that nothing breaks,
// then delete (the AWS IAM rule).
func (s *Service) Delete(ctx context.Context, as connection.Caller, keyID string) (alreadyGone bool, err error) {
	k, err := s.target(ctx, as, kp.KeyDelete, keyID)
	if errors.Is(err, errGone) {
		// Lost a race with another delete: the key is gone, as asked.
		s.audit.Note(ctx, as.Event(kp.KeyDelete, keyID), audit.Result{Outcome: kp.OutcomeSuccess, UpstreamStatus: 404, Message: "already gone"})
		return true, nil
	}
	if err != nil {
		return false, err
	}
	if k.Active || k.ActiveUnknown {
		msg := "Keyport deletes only inactive keys. Deactivate the key first, make sure nothing still uses it, then delete it."
		s.audit.Note(ctx, as.Event(kp.KeyDelete, k.ID), audit.Result{Outcome: kp.OutcomeDenied, Message: msg})
		return false, kp.Errorf(kp.Conflict, "%s", msg)
	}
	ev := as.Event(kp.KeyDelete, k.ID)
	ev.Details.OwnerUserID = k.UserID
	err = s.audit.Do(ctx, ev, func(ctx context.Context) (audit.Result, error) {
		err := s.conns.DeleteKey(ctx, as, k.ID)
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
