package reviewer

// Whose sessions (ASVS 7.4.5, 7.5.2): the owner names a reviewer's
// sessions (sessions.owner), and ending them is audited.

import (
	"cmp"
	"context"
	"strconv"
	"strings"

	"github.com/keyport/keyport/db"
	"github.com/keyport/keyport/internal/audit"
	"github.com/keyport/keyport/internal/kp"
)

// LocalOwner is the session owner of a local account.
func LocalOwner(username string) string { return "local:" + NormalizeUsername(username) }

// OIDCOwner is the session owner of an OIDC reviewer (their row's id).
func OIDCOwner(id int64) string { return "oidc:" + strconv.FormatInt(id, 10) }

// EndSessions ends some of username's sessions (end does the deleting and
// says how many) as an audited action: an auditor.logout intent with the
// step ("ended by the reviewer", "ended by an operator"), then its outcome
// with the count, so an end the process did not live to record still
// shows as an open intent.
func (s *Service) EndSessions(ctx context.Context, actor audit.Actor, scope audit.Scope, username, step string,
	end func(context.Context) (int64, error)) (int64, error) {
	var n int64
	ev := audit.Event{Actor: actor, Scope: scope, Action: kp.ReviewerLogout, Details: audit.Details{Label: username, Step: step}}
	err := s.w.Do(ctx, ev, func(ctx context.Context) (audit.Result, error) {
		var err error
		n, err = end(ctx)
		d := ev.Details
		d.Count = n
		return audit.Result{Details: &d}, err
	})
	return n, err
}

// Owners returns the session owners a name stands for, as `keyport
// reviewer list` shows it: the local account of that name, and every OIDC
// reviewer listed under it (e-mail, or subject). None: kp.NotFound.
func (s *Service) Owners(ctx context.Context, username string) ([]string, error) {
	username = NormalizeUsername(username)
	q := db.New(s.pool)
	var out []string
	if _, err := q.ReviewerByUsername(ctx, username); err == nil {
		out = append(out, LocalOwner(username))
	} else if kp.KindOf(err) != kp.NotFound {
		return nil, err
	}
	rows, err := q.ListOIDCReviewers(ctx)
	if err != nil {
		return nil, err
	}
	for _, r := range rows {
		if strings.EqualFold(cmp.Or(r.Email, r.Subject), username) {
			out = append(out, OIDCOwner(r.ID))
		}
	}
	if len(out) == 0 {
		return nil, kp.Errorf(kp.NotFound, "There is no reviewer named %q.", username)
	}
	return out, nil
}
