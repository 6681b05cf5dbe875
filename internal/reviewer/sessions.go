package reviewer

// Whose sessions (ASVS 7.4.5, 7.5.2): the owner names a reviewer's
// sessions (sessions.owner), and ending them is audited.

import (
	"context"
	"strconv"

	"github.com/keyport/keyport/internal/audit"
	"github.com/keyport/keyport/internal/kp"
)

// LocalOwner is the session owner of a local account.
func LocalOwner(username string) string { return "local:" + NormalizeUsername(username) }

// OIDCOwner is the session owner of an OIDC reviewer (their row's id).
func OIDCOwner(id int64) string { return "oidc:" + strconv.FormatInt(id, 10) }

// SessionsEnded records that actor ended n of username's sessions, as an
// auditor.logout with the step ("ended by the reviewer", "ended by an
// operator") and the count.
func (s *Service) SessionsEnded(ctx context.Context, actor audit.Actor, scope audit.Scope, username, step string, n int64) error {
	return s.w.Record(ctx, audit.Event{Actor: actor, Scope: scope, Action: kp.ReviewerLogout,
		Details: audit.Details{Label: username, Step: step, Count: n}}, audit.Result{Outcome: kp.OutcomeSuccess})
}
