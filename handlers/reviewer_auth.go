package handlers

import (
	"net/http"
	"strings"

	"github.com/gorilla/sessions"
	"github.com/labstack/echo/v4"

	"github.com/keyport/keyport/internal/audit"
	"github.com/keyport/keyport/internal/kp"
	"github.com/keyport/keyport/internal/logging"
	"github.com/keyport/keyport/internal/reviewer"
	"github.com/keyport/keyport/internal/secret"
	"github.com/keyport/keyport/internal/session"
	"github.com/keyport/keyport/web"
)

// reviewerKey is the reviewer session value holding the reviewer's username.
const reviewerKey = "reviewer"

// reviewerStampKey is the session value holding the stamp of the reviewer's
// password at sign-in (reviewer.Stamp): a changed password ends the session.
const reviewerStampKey = "reviewer_stamp"

// reviewerCtxKey is where requireReviewer leaves the signed-in reviewer.
const reviewerCtxKey = "keyport.reviewer"

// signedIn is the reviewer of a request that passed requireReviewer, with
// their session.
type signedIn struct {
	audit.Reviewer
	sess *sessions.Session
}

func (r *auditUI) scope(c echo.Context, sess *sessions.Session) audit.Scope {
	return audit.Scope{Session: session.ID(sess), ClientIP: c.RealIP(), UserAgent: c.Request().UserAgent()}
}

// requireReviewer lets a request through only with a reviewer session whose
// account is still enabled; anyone else is sent to the sign-in page. An
// admin's session is another kind with another cookie: it never counts.
func (r *auditUI) requireReviewer(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		sess, err := r.h.reviewerSession(c)
		if err != nil {
			return err
		}
		name, _ := sess.Values[reviewerKey].(string)
		if name != "" {
			stamp, _ := sess.Values[reviewerStampKey].(string)
			err = r.reviewers.RequireActive(c.Request().Context(), name, stamp)
		} else if name, err = r.oidcReviewer(c, sess); name == "" && err == nil {
			return r.toLogin(c)
		}
		if err != nil {
			if kp.KindOf(err) != kp.Unauthorized {
				return err
			}
			if err := r.h.ReviewerSessions.Destroy(c.Request(), c.Response(), sess); err != nil {
				return err
			}
			return r.toLogin(c)
		}
		c.Set(reviewerCtxKey, &signedIn{Reviewer: audit.Reviewer{Username: name, Scope: r.scope(c, sess)}, sess: sess})
		// Where this request's reads go: the replica, if set and answering.
		c.SetRequest(c.Request().WithContext(r.trail.ChooseRead(c.Request().Context())))
		return next(c)
	}
}

// toLogin sends the browser to the sign-in page; an htmx poll is told to
// load it as a whole page rather than swap it into a fragment.
func (r *auditUI) toLogin(c echo.Context) error {
	if c.Request().Header.Get("HX-Request") == "true" {
		c.Response().Header().Set("HX-Redirect", "/reviewer/login")
		return c.NoContent(http.StatusNoContent)
	}
	return r.h.redirect(c, "/reviewer/login")
}

// current returns the reviewer requireReviewer found (a checked assertion:
// a route registered without requireReviewer fails loudly, not open).
func current(c echo.Context) (*signedIn, error) {
	rv, ok := c.Get(reviewerCtxKey).(*signedIn)
	if !ok || rv == nil {
		return nil, kp.Errorf(kp.Unauthorized, "Sign in as a reviewer first.")
	}
	return rv, nil
}

// reviewerPage fills the layout for a reviewer's page.
func (r *auditUI) reviewerPage(c echo.Context, rv *signedIn, title string) web.Page {
	p := r.h.page(c, title)
	path := c.Path()
	p.Nav = []web.NavItem{
		{Label: "Audit trail", Href: "/audit", Current: path == "/audit" || path == "/audit/:event" || path == "/audit/keys/:key"},
		{Label: "Integrity", Href: "/audit/integrity", Current: path == "/audit/integrity"},
		{Label: "Activity by day", Href: "/audit/activity", Current: path == "/audit/activity"},
		{Label: "Credentials", Href: "/audit/credentials", Current: path == "/audit/credentials"},
		{Label: "Policies", Href: "/audit/policies", Current: path == "/audit/policies"},
	}
	if rv == nil {
		p.Nav = nil
		return p
	}
	p.Identity = "Signed in as reviewer " + rv.Username
	p.SignedIn, p.SignOutURL = true, "/reviewer/logout"
	p.Account = []web.NavItem{{Label: "Your sessions", Href: "/reviewer/sessions", Current: path == "/reviewer/sessions"}}
	if name, _ := rv.sess.Values[reviewerKey].(string); name != "" {
		p.Account = append(p.Account, web.NavItem{Label: "Change password", Href: "/reviewer/password", Current: path == "/reviewer/password"})
	}
	if !strings.HasPrefix(path, "/audit/integrity") { // the integrity panel reads the primary
		p.ReadNote = audit.ReadSourceOf(c.Request().Context()).Note()
	}
	for _, f := range session.TakeFlashes(rv.sess) {
		p.Flashes = append(p.Flashes, web.Flash{Kind: f.Kind, Message: f.Message})
	}
	return p
}

func (r *auditUI) loginForm(c echo.Context) error {
	sess, err := r.h.reviewerSession(c)
	if err != nil {
		return err
	}
	if name, _ := sess.Values[reviewerKey].(string); name != "" || sess.Values[oidcReviewerKey] != nil {
		return r.h.redirect(c, "/audit")
	}
	return r.loginPage(c, http.StatusOK, "")
}

// login checks the form. Every failure shows the same sentence (or the
// lock-out one) and keeps only the username; success starts a fresh
// session under a new id (no fixation) and records kp.ReviewerLogin.
func (r *auditUI) login(c echo.Context) error {
	sess, err := r.h.reviewerSession(c)
	if err != nil {
		return err
	}
	username := c.FormValue("username")
	if err := inputError(c); err != nil {
		return r.h.render(c, http.StatusUnprocessableEntity, web.ReviewerLogin(r.reviewerPage(c, nil, "Reviewer sign-in"),
			r.loginView(username, kp.MessageOf(err))))
	}
	signed, err := r.reviewers.SignIn(c.Request().Context(), reviewer.Attempt{
		Username: username, Password: secret.New(c.FormValue("password")), TOTP: c.FormValue("totp"),
		Scope: r.scope(c, sess),
	})
	if k := kp.KindOf(err); k == kp.Unauthorized || k == kp.RateLimited {
		status, v := http.StatusUnauthorized, r.loginView(username, kp.MessageOf(err))
		if k == kp.RateLimited {
			status, v.RequestID = http.StatusTooManyRequests, logging.RequestID(c.Request().Context())
		}
		return r.h.render(c, status, web.ReviewerLogin(r.reviewerPage(c, nil, "Reviewer sign-in"), v))
	}
	if err != nil {
		return err
	}
	for k := range sess.Values {
		delete(sess.Values, k)
	}
	sess.Values[reviewerKey], sess.Values[reviewerStampKey] = signed.Username, signed.Stamp
	session.SetOwner(sess, reviewer.LocalOwner(signed.Username), c.RealIP(), c.Request())
	if err := r.h.ReviewerSessions.Rotate(c.Request(), c.Response(), sess); err != nil {
		return err
	}
	return r.h.redirect(c, "/audit")
}

// logout records kp.ReviewerLogout and deletes the session (its row too, so a
// copied cookie is dead).
func (r *auditUI) logout(c echo.Context) error {
	sess, err := r.h.reviewerSession(c)
	if err != nil {
		return err
	}
	to := "/reviewer/login"
	if name, _ := sess.Values[reviewerKey].(string); name != "" {
		if err := r.reviewers.Logout(c.Request().Context(), name, r.scope(c, sess)); err != nil {
			return err
		}
	} else if sess.Values[oidcReviewerKey] != nil {
		if to, err = r.oidcLogout(c, sess); err != nil { // the provider's end-session page, if it has one
			return err
		}
	}
	if err := r.h.ReviewerSessions.Destroy(c.Request(), c.Response(), sess); err != nil {
		return err
	}
	return r.h.redirect(c, to)
}
