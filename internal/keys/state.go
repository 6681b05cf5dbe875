package keys

import (
	"context"
	"errors"
	"fmt"
	"strings"

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
		changed := *k
		changed.Active, changed.ActiveUnknown = active, false
		s.observeKey(ctx, as.Conn, changed)
		return audit.Result{Outcome: kp.OutcomeSuccess}, nil
	})
}

// ErrNotConfirmed is a delete whose typed confirmation does not match: no
// call was made. Handlers show the confirmation again.
var ErrNotConfirmed = errors.New("delete not confirmed")

// DeleteConfirmation is what a person types to confirm deleting keyID: the
// last four characters before its base32 padding, which the list's short id
// ends in (AWS asks for the id; four are enough to make the deletion
// deliberate and to tell it from the key beside it). Every CXone key id ends
// in "====", which would ask for the same four characters on every key. An id
// that is all padding keeps its own last four.
func DeleteConfirmation(keyID string) string {
	body := strings.TrimRight(keyID, "=")
	if body == "" {
		body = keyID
	}
	return body[max(0, len(body)-4):]
}

// confirmsDelete reports whether typed confirms deleting keyID. Case and
// surrounding spaces do not matter: it guards against a slip, not an attacker.
func confirmsDelete(keyID, typed string) bool {
	return keyID != "" && strings.EqualFold(strings.TrimSpace(typed), DeleteConfirmation(keyID))
}

// Delete deletes an inactive key, once confirm holds the key id's last four
// characters. Keyport refuses to delete an active key, whatever CXone would
// allow: deactivate first, see that nothing breaks, then delete (the AWS
// IAM rule).
func (s *Service) Delete(ctx context.Context, as connection.Caller, keyID, confirm string) (alreadyGone bool, err error) {
	if !confirmsDelete(keyID, confirm) {
		return false, kp.Wrap(kp.Invalid, ErrNotConfirmed, fmt.Sprintf("To delete the key, type %s, the last four characters of its id.", DeleteConfirmation(keyID)))
	}
	k, err := s.target(ctx, as, kp.KeyDelete, keyID)
	if errors.Is(err, errGone) {
		// Lost a race with another delete: the key is gone, as asked.
		s.audit.Note(ctx, as.Event(kp.KeyDelete, keyID), audit.Result{Outcome: kp.OutcomeSuccess, UpstreamStatus: 404, Message: "already gone"})
		s.observeGone(ctx, as.Conn, keyID)
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
			s.observeGone(ctx, as.Conn, k.ID)
			return audit.Result{Outcome: kp.OutcomeSuccess, Message: "already gone", UpstreamStatus: 404}, nil
		}
		if err != nil {
			return connection.Failure(err), connection.UpstreamError(err, "delete the key")
		}
		s.observeGone(ctx, as.Conn, k.ID)
		return audit.Result{Outcome: kp.OutcomeSuccess}, nil
	})
	return alreadyGone, err
}
