package handlers

import (
	"github.com/labstack/echo/v4"

	"github.com/keyport/keyport/internal/audit"
	"github.com/keyport/keyport/internal/reviewer"
)

// auditUI serves the security reviewers' pages: sign-in through the
// reviewers' service, everything else through the trail's reader, both
// built once by app.NewServices.
type auditUI struct {
	h         *Handlers
	reviewers *reviewer.Service
	trail     *audit.Reader
}

// auditRoutes registers the security reviewers' routes (/reviewer/…,
// /audit…). Every /audit route needs a signed-in reviewer (reviewer session
// kind); an admin session does not count.
func (h *Handlers) auditRoutes(e *echo.Echo) {
	r := &auditUI{h: h, reviewers: h.Reviewers, trail: h.Trail}
	// Sign-in and sign-out live under /reviewer; /auditor is the role's old
	// name, kept as an alias so bookmarks and scripts keep working.
	for _, base := range []string{"/reviewer", "/auditor"} {
		h.get(e, base+"/login", r.loginForm)
		h.form(e.POST(base+"/login", r.login))
		e.POST(base+"/logout", r.logout)
	}
	h.get(e, "/reviewer/password", r.passwordForm, r.requireReviewer)
	h.form(e.POST("/reviewer/password", r.passwordChange, r.requireReviewer))
	h.get(e, "/reviewer/sessions", r.sessionsList, r.requireReviewer)
	e.POST("/reviewer/sessions/end", r.sessionsEnd, r.requireReviewer)
	h.get(e, "/reviewer/oidc/start", r.oidcStart)
	h.get(e, "/reviewer/oidc/callback", r.oidcCallback)

	h.form(h.get(e, "/audit", r.list, r.requireReviewer))
	h.get(e, "/audit/export.csv", r.exportCSV, r.requireReviewer, r.limitExports("csv"))
	h.get(e, "/audit/export.jsonl", r.exportJSONL, r.requireReviewer, r.limitExports("jsonl"))
	h.get(e, "/audit/integrity", r.integrity, r.requireReviewer)
	e.POST("/audit/integrity/verify", r.verifyNow, r.requireReviewer)
	h.get(e, "/audit/integrity/runs/:run", r.verifyRun, r.requireReviewer)
	h.get(e, "/audit/activity", r.activity, r.requireReviewer)
	h.get(e, "/audit/credentials", r.credentials, r.requireReviewer)
	h.get(e, "/audit/credentials.csv", r.credentialsCSV, r.requireReviewer, r.limitExports("csv"))
	h.get(e, "/audit/policies", r.policies, r.requireReviewer)
	h.form(e.POST("/audit/policies", r.policySet, r.requireReviewer))
	h.get(e, "/audit/keys/:key", r.keyHistory, r.requireReviewer)
	h.get(e, "/audit/:event", r.detail, r.requireReviewer)
}
