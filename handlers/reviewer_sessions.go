package handlers

import (
	"context"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/keyport/keyport/internal/audit"
	"github.com/keyport/keyport/internal/kp"
	"github.com/keyport/keyport/internal/session"
	"github.com/keyport/keyport/web"
)

// sessionsList shows the reviewer's own live sessions (ASVS 7.5.2).
func (r *auditUI) sessionsList(c echo.Context) error {
	rv, err := current(c)
	if err != nil {
		return err
	}
	owner, _ := rv.sess.Values[session.OwnerKey].(string)
	list, err := r.h.ReviewerSessions.Of(c.Request().Context(), owner, rv.sess)
	if err != nil {
		return err
	}
	v := web.ReviewerSessionsView{}
	for _, s := range list {
		v.Sessions = append(v.Sessions, web.ReviewerSessionRow{Handle: s.Handle, Created: minute(s.CreatedAt), LastSeen: minute(s.LastSeenAt),
			Address: s.ClientIP, Browser: session.BrowserSummary(s.UserAgent), Current: s.Current})
	}
	return r.h.render(c, http.StatusOK, web.ReviewerSessions(r.reviewerPage(c, rv, "Your sessions"), v))
}

func minute(t time.Time) string { return t.UTC().Format("2006-01-02 15:04") }

// sessionsEnd ends one of the reviewer's sessions (session=handle) or
// every other one (others=1), records it, and shows the list again.
func (r *auditUI) sessionsEnd(c echo.Context) error {
	rv, err := current(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	owner, _ := rv.sess.Values[session.OwnerKey].(string)
	others, one := c.FormValue("others") != "", c.FormValue("session")
	if !others && one == "" {
		return kp.Errorf(kp.Invalid, "Say which session to end.")
	}
	actor := audit.Actor{Kind: kp.ActorReviewer, UserID: rv.Username, Name: rv.Username}
	n, err := r.reviewers.EndSessions(ctx, actor, rv.Scope, rv.Username, "ended by the reviewer", func(ctx context.Context) (int64, error) {
		if !others {
			return r.h.ReviewerSessions.End(ctx, owner, one)
		}
		list, err := r.h.ReviewerSessions.Of(ctx, owner, rv.sess)
		if err != nil {
			return 0, err
		}
		var n int64
		for _, s := range list {
			if s.Current {
				continue
			}
			k, err := r.h.ReviewerSessions.End(ctx, owner, s.Handle)
			if err != nil {
				return n, err
			}
			n += k
		}
		return n, nil
	})
	if err != nil {
		return err
	}
	msg := "Ended " + itoa64(n) + " sessions."
	switch n {
	case 0:
		msg = "No session ended: it had ended already."
	case 1:
		msg = "Ended 1 session."
	}
	session.AddFlash(rv.sess, "success", msg)
	return r.h.redirect(c, "/reviewer/sessions")
}
