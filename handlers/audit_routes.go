package handlers

import (
	"github.com/labstack/echo/v4"

	"github.com/keyport/keyport/internal/audit"
	"github.com/keyport/keyport/internal/reviewer"
)

// auditUI serves the security reviewers' pages: sign-in through the
// reviewers' service, everything else through the trail's reader. Both are
// built once, here, from the handlers' dependencies.
type auditUI struct {
	h         *Handlers
	reviewers *reviewer.Service
	trail     *audit.Reader
}

// auditRoutes registers the security reviewers' routes (/auditor/…, /audit…).
// Every /audit route needs a signed-in reviewer (auditor session kind);
// an admin session does not count.
func (h *Handlers) auditRoutes(e *echo.Echo) {
	reviewers := h.reviewerService()
	r := &auditUI{h: h, reviewers: reviewers, trail: audit.NewReader(h.Pool, h.Audit, reviewers.Now, h.Log)}
	h.get(e, "/auditor/login", r.loginForm)
	h.form(e.POST("/auditor/login", r.login))
	e.POST("/auditor/logout", r.logout)

	h.form(h.get(e, "/audit", r.list, r.requireReviewer))
	h.get(e, "/audit/export.csv", r.exportCSV, r.requireReviewer)
	h.get(e, "/audit/export.jsonl", r.exportJSONL, r.requireReviewer)
	h.get(e, "/audit/integrity", r.integrity, r.requireReviewer)
	e.POST("/audit/integrity/verify", r.verifyNow, r.requireReviewer)
	h.get(e, "/audit/integrity/runs/:run", r.verifyRun, r.requireReviewer)
	h.get(e, "/audit/activity", r.activity, r.requireReviewer)
	h.get(e, "/audit/keys/:key", r.keyHistory, r.requireReviewer)
	h.get(e, "/audit/:event", r.detail, r.requireReviewer)
}
