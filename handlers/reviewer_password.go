package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/keyport/keyport/internal/kp"
	"github.com/keyport/keyport/internal/logging"
	"github.com/keyport/keyport/internal/reviewer"
	"github.com/keyport/keyport/internal/secret"
	"github.com/keyport/keyport/internal/session"
	"github.com/keyport/keyport/web"
)

// localReviewer is the signed-in reviewer when they have a local account:
// an OIDC reviewer's password lives at their identity provider, so the
// page is not theirs (404).
func localReviewer(c echo.Context) (*signedIn, error) {
	rv, err := current(c)
	if err != nil {
		return nil, err
	}
	if name, _ := rv.sess.Values[reviewerKey].(string); name == "" {
		return nil, kp.Errorf(kp.NotFound, "Reviewers who sign in with the identity provider change their password there.")
	}
	return rv, nil
}

func (r *auditUI) passwordForm(c echo.Context) error {
	rv, err := localReviewer(c)
	if err != nil {
		return err
	}
	return r.passwordPage(c, rv, http.StatusOK, web.ReviewerPasswordView{})
}

func (r *auditUI) passwordPage(c echo.Context, rv *signedIn, status int, v web.ReviewerPasswordView) error {
	v.MinLength = reviewer.MinPasswordLen
	return r.h.render(c, status, web.ReviewerPassword(r.reviewerPage(c, rv, "Change password"), v))
}

// passwordChange sets a local reviewer's new password (ASVS 6.2.2, 6.2.3).
// A wrong current password is throttled like a failed sign-in; success
// keeps this session (under a new id, with the new stamp) and ends every
// other session of the reviewer (7.4.3).
func (r *auditUI) passwordChange(c echo.Context) error {
	rv, err := localReviewer(c)
	if err != nil {
		return err
	}
	if err := inputError(c); err != nil {
		return r.passwordPage(c, rv, http.StatusUnprocessableEntity, web.ReviewerPasswordView{Error: kp.MessageOf(err)})
	}
	if c.FormValue("new_password") != c.FormValue("confirm_password") {
		return r.passwordPage(c, rv, http.StatusUnprocessableEntity, web.ReviewerPasswordView{
			Error: "The new password and its repetition differ. Your password was not changed."})
	}
	stamp, err := r.reviewers.ChangePassword(c.Request().Context(), reviewer.Change{Username: rv.Username,
		Current: secret.New(c.FormValue("current_password")), New: secret.New(c.FormValue("new_password")), Scope: rv.Scope})
	switch kp.KindOf(err) {
	case kp.Invalid:
		return r.passwordPage(c, rv, http.StatusUnprocessableEntity, web.ReviewerPasswordView{Error: kp.MessageOf(err)})
	case kp.Unauthorized:
		return r.passwordPage(c, rv, http.StatusUnauthorized, web.ReviewerPasswordView{Error: kp.MessageOf(err)})
	case kp.RateLimited:
		return r.passwordPage(c, rv, http.StatusTooManyRequests, web.ReviewerPasswordView{Error: kp.MessageOf(err),
			RequestID: logging.RequestID(c.Request().Context())})
	}
	if err != nil {
		return err
	}
	rv.sess.Values[reviewerStampKey] = stamp
	session.AddFlash(rv.sess, "success", "Your password is changed. Your other sessions are signed out.")
	if err := r.h.ReviewerSessions.Rotate(c.Request(), c.Response(), rv.sess); err != nil {
		return err
	}
	return r.h.redirect(c, "/audit")
}
