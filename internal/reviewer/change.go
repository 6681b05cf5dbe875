package reviewer

// A reviewer's own password change (ASVS 6.2.2, 6.2.3): the current
// password and the new one, throttled like sign-in.

import (
	"context"

	"github.com/keyport/keyport/db"
	"github.com/keyport/keyport/internal/audit"
	"github.com/keyport/keyport/internal/kp"
	"github.com/keyport/keyport/internal/secret"
)

// ErrCurrentPassword answers a change whose current password is wrong.
var ErrCurrentPassword = kp.Errorf(kp.Unauthorized, "The current password is not right. Your password was not changed.")

// SelfService is the step of a reviewer's own change in its
// auditor.reset_password event (an operator's reset has none, or its TOTP
// change).
const SelfService = "self-service"

// Change is a signed-in reviewer's request to change their own password.
type Change struct {
	Username string
	Current  secret.Secret
	New      secret.Secret
	Scope    audit.Scope
}

// ChangePassword checks the current password and sets the new one, keeping
// the account's TOTP. A wrong current password counts against the name and
// the address as a failed sign-in does (the same lock-out and delays, so a
// stolen session cannot guess the password faster than the sign-in page);
// each attempt is an auditor.reset_password event with the step
// "self-service", actor the reviewer. It returns the new session stamp: the
// caller keeps it in this session, every other session of the reviewer
// ends at its next request.
func (s *Service) ChangePassword(ctx context.Context, ch Change) (string, error) {
	if s.o.LocalOff {
		return "", ErrLocalOff
	}
	name := NormalizeUsername(ch.Username)
	if err := checkNewPassword(ch.New); err != nil {
		return "", err
	}
	a := &signIn{Attempt: Attempt{Username: name, Scope: ch.Scope}, name: name,
		actor: audit.Actor{Kind: kp.ActorReviewer, UserID: name, Name: name},
		q:     db.New(s.pool), now: s.o.Now(), userKey: "user:" + name, ipKey: "ip:" + ch.Scope.ClientIP,
		pairKey: "user@ip:" + name + "|" + ch.Scope.ClientIP}
	ev := audit.Event{Actor: a.actor, Scope: ch.Scope, Action: kp.ReviewerResetPassword, Details: audit.Details{Label: name, Step: SelfService}}
	locked, err := s.lockedOut(ctx, a)
	if err != nil {
		return "", err
	}
	acct, err := a.q.ReviewerByUsername(ctx, name)
	if err != nil {
		return "", err
	}
	ok, err := s.checkPassword(ctx, acct.PasswordHash, ch.Current) // the same work when locked
	if err != nil {
		return "", err
	}
	if locked != "" || !ok {
		o, reason := kp.OutcomeDenied, locked
		if locked == "" {
			o, reason = kp.OutcomeFailure, "wrong current password"
		}
		if err := s.w.Record(ctx, ev, audit.Result{Outcome: o, Message: reason}); err != nil {
			return "", err
		}
		nowLocked, err := s.countFailure(ctx, a)
		if err != nil {
			return "", err
		}
		if locked != "" || nowLocked {
			return "", ErrLocked
		}
		return "", ErrCurrentPassword
	}
	hash := hashPassword(ch.New, s.o.Params)
	err = s.w.Do(ctx, ev, func(ctx context.Context) (audit.Result, error) {
		if err := a.q.SetReviewerPassword(ctx, name, hash, false, nil, s.o.Now()); err != nil {
			return audit.Result{}, err
		}
		return audit.Result{}, a.q.ClearReviewerThrottles(ctx, name)
	})
	if err != nil {
		return "", err
	}
	return Stamp(hash), nil
}
