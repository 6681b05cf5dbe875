package handlers

import (
	"cmp"
	"crypto/subtle"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/gorilla/sessions"
	"github.com/labstack/echo/v4"

	"github.com/keyport/keyport/internal/audit"
	"github.com/keyport/keyport/internal/kp"
	"github.com/keyport/keyport/internal/oidc"
	"github.com/keyport/keyport/internal/reviewer"
	"github.com/keyport/keyport/internal/session"
	"github.com/keyport/keyport/web"
)

// Reviewer session values of the OIDC sign-in (issue 16). The flow's three
// values live from the redirect to the provider until the callback, which
// takes them out whatever happens, so a state is good once. Session values
// are sealed at rest; no token is ever kept.
const (
	oidcStateKey    = "oidc_state"
	oidcNonceKey    = "oidc_nonce"
	oidcVerifierKey = "oidc_verifier"
	// oidcReviewerKey is the signed-in OIDC reviewer's row id.
	oidcReviewerKey = "oidc_reviewer"
)

// loginView is the sign-in page's view for this configuration.
func (r *auditUI) loginView(username, msg string) web.ReviewerLoginView {
	v := web.ReviewerLoginView{Username: username, Error: msg, LocalOff: !r.reviewers.LocalOn()}
	if r.h.OIDC != nil {
		v.Provider = r.h.OIDC.Name()
	}
	return v
}

func (r *auditUI) loginPage(c echo.Context, status int, msg string) error {
	return r.h.render(c, status, web.ReviewerLogin(r.reviewerPage(c, nil, "Reviewer sign-in"), r.loginView("", msg)))
}

// oidcStart sends the browser to the provider with a fresh state, nonce and
// PKCE challenge. A link (GET), not a form: the CSP's form-action 'self'
// would stop a form's redirect to the provider. A provider that cannot be
// reached is 503 on the sign-in page; the next press tries discovery again.
func (r *auditUI) oidcStart(c echo.Context) error {
	if r.h.OIDC == nil {
		return kp.Errorf(kp.NotFound, "Sign-in with an identity provider is not configured here.")
	}
	sess, err := r.h.reviewerSession(c)
	if err != nil {
		return err
	}
	authURL, flow, err := r.h.OIDC.Begin(c.Request().Context())
	if kp.KindOf(err) == kp.Unavailable {
		return r.loginPage(c, http.StatusServiceUnavailable, kp.MessageOf(err))
	}
	if err != nil {
		return err
	}
	sess.Values[oidcStateKey], sess.Values[oidcNonceKey], sess.Values[oidcVerifierKey] = flow.State, flow.Nonce, flow.Verifier
	return r.h.redirect(c, authURL)
}

// takeFlow removes the pending flow from the session and returns it.
func takeFlow(sess *sessions.Session) oidc.Flow {
	var f oidc.Flow
	f.State, _ = sess.Values[oidcStateKey].(string)
	f.Nonce, _ = sess.Values[oidcNonceKey].(string)
	f.Verifier, _ = sess.Values[oidcVerifierKey].(string)
	delete(sess.Values, oidcStateKey)
	delete(sess.Values, oidcNonceKey)
	delete(sess.Values, oidcVerifierKey)
	return f
}

// oidcCallback finishes a sign-in: the state must be this browser's pending
// one (used once), then package oidc exchanges the code and checks the ID
// token and the groups. Every refusal is audited (auditor.login, failure or
// denied) and answered with the sign-in page and a clear sentence.
func (r *auditUI) oidcCallback(c echo.Context) error {
	if r.h.OIDC == nil {
		return kp.Errorf(kp.NotFound, "Sign-in with an identity provider is not configured here.")
	}
	sess, err := r.h.reviewerSession(c)
	if err != nil {
		return err
	}
	flow, scope, name := takeFlow(sess), r.scope(c, sess), r.h.OIDC.Name()
	ctx := c.Request().Context()
	state := c.QueryParam("state")
	switch {
	case flow.State == "" || subtle.ConstantTimeCompare([]byte(state), []byte(flow.State)) != 1:
		return r.refuseOIDC(c, http.StatusBadRequest, &oidc.Refusal{Reason: "state missing, already used or not this browser's sign-in"},
			"This sign-in link is not valid any more (it was used already, or started in another browser). Start again below.")
	case c.QueryParam("error") != "":
		return r.refuseOIDC(c, http.StatusUnauthorized, &oidc.Refusal{Reason: "the provider answered " + c.QueryParam("error")},
			"Sign-in with "+name+" did not complete. Start again below.")
	case c.QueryParam("code") == "":
		return r.refuseOIDC(c, http.StatusBadRequest, &oidc.Refusal{Reason: "no code in the provider's answer"},
			"Sign-in with "+name+" did not complete. Start again below.")
	}
	id, err := r.h.OIDC.Finish(ctx, flow, c.QueryParam("code"))
	var refusal *oidc.Refusal
	switch {
	case errors.As(err, &refusal) && refusal.NotMember:
		return r.refuseOIDC(c, http.StatusForbidden, refusal, "You signed in with "+name+" as "+
			cmp.Or(id.Email, id.Subject)+", but you are not in a group allowed to review Keyport's audit trail. Ask your administrator to add you to a reviewer group.")
	case errors.As(err, &refusal):
		return r.refuseOIDC(c, http.StatusUnauthorized, refusal, "Sign-in with "+name+" could not be verified. Start again below.")
	case kp.KindOf(err) == kp.Unavailable:
		return r.loginPage(c, http.StatusServiceUnavailable, kp.MessageOf(err))
	case err != nil:
		return err
	}
	rowID, _, err := r.reviewers.SignInOIDC(ctx, reviewer.OIDCReviewer{Name: id.Name,
		Identity: audit.Identity{Issuer: id.Issuer, Subject: id.Subject, Email: id.Email, Groups: id.Granted}}, scope)
	if err != nil {
		return err
	}
	for k := range sess.Values {
		delete(sess.Values, k)
	}
	sess.Values[oidcReviewerKey] = strconv.FormatInt(rowID, 10)
	session.SetOwner(sess, reviewer.OIDCOwner(rowID), c.RealIP(), c.Request())
	if err := r.h.ReviewerSessions.Rotate(c.Request(), c.Response(), sess); err != nil {
		return err
	}
	return r.h.redirect(c, "/audit")
}

// refuseOIDC records a refused sign-in and shows the sign-in page with msg.
func (r *auditUI) refuseOIDC(c echo.Context, status int, ref *oidc.Refusal, msg string) error {
	sess, err := r.h.reviewerSession(c)
	if err != nil {
		return err
	}
	id := ref.Identity
	ident := audit.Identity{Issuer: id.Issuer, Subject: id.Subject, Email: id.Email, Groups: id.Groups}
	if ident.Issuer == "" {
		ident.Issuer = r.h.OIDC.Issuer()
	}
	if err := r.reviewers.RefuseOIDC(c.Request().Context(), ident, id.Name, ref.NotMember, ref.Reason, r.scope(c, sess)); err != nil {
		return err
	}
	return r.loginPage(c, status, msg)
}

// oidcReviewer is the OIDC reviewer a session names: ("", nil) when it
// names none, kp.Unauthorized when that reviewer is no longer active here
// (another provider configured, or none).
func (r *auditUI) oidcReviewer(c echo.Context, sess *sessions.Session) (string, error) {
	raw, _ := sess.Values[oidcReviewerKey].(string)
	if raw == "" {
		return "", nil
	}
	id, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || r.h.OIDC == nil {
		return "", kp.Errorf(kp.Unauthorized, "Sign in again.")
	}
	name, err := r.reviewers.RequireActiveOIDC(c.Request().Context(), id, r.h.OIDC.Issuer())
	if err == nil {
		r.allowSignOutAtProvider(c)
	}
	return name, err
}

// allowSignOutAtProvider adds the provider's end-session origin to this
// page's CSP form-action: browsers apply form-action to a form's redirects
// too, and Sign out (a form to /reviewer/logout) is redirected there
// (RP-initiated logout). Only signed-in OIDC reviewers' pages get it.
func (r *auditUI) allowSignOutAtProvider(c echo.Context) {
	origin := r.h.OIDC.LogoutOrigin()
	if origin == "" {
		return
	}
	h := c.Response().Header()
	h.Set("Content-Security-Policy", strings.Replace(h.Get("Content-Security-Policy"), "form-action 'self'", "form-action 'self' "+origin, 1))
}

// oidcLogout records an OIDC reviewer's sign-out and returns where to send
// the browser: the provider's end-session page when it has one.
func (r *auditUI) oidcLogout(c echo.Context, sess *sessions.Session) (string, error) {
	raw, _ := sess.Values[oidcReviewerKey].(string)
	id, err := strconv.ParseInt(raw, 10, 64)
	if err != nil {
		return "/reviewer/login", nil
	}
	if err := r.reviewers.LogoutOIDC(c.Request().Context(), id, r.scope(c, sess)); err != nil && kp.KindOf(err) != kp.NotFound {
		return "", err
	}
	if r.h.OIDC != nil {
		if u := r.h.OIDC.LogoutURL(); u != "" {
			return u, nil
		}
	}
	return "/reviewer/login", nil
}
