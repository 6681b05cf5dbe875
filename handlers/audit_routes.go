package handlers

import (
	"github.com/labstack/echo/v4"

	"github.com/keyport/keyport/internal/auditor"
)

// auditUI serves the security reviewers' pages through the one reviewers'
// service app.New built (Deps.Auditors, with the TOTP sealer).
type auditUI struct {
	h   *Handlers
	svc *auditor.Service
}

// auditRoutes registers the security reviewers' routes (/auditor/…, /audit…).
// Every /audit route needs a signed-in reviewer (auditor session kind);
// an admin session does not count.
func (h *Handlers) auditRoutes(e *echo.Echo) {
	r := &auditUI{h: h, svc: h.Auditors}
	h.get(e, "/auditor/login", r.loginForm)
	h.form(e.POST("/auditor/login", r.login))
	e.POST("/auditor/logout", r.logout)

	h.form(h.get(e, "/audit", r.list, r.requireAuditor))
	h.get(e, "/audit/export.csv", r.exportCSV, r.requireAuditor)
	h.get(e, "/audit/export.jsonl", r.exportJSONL, r.requireAuditor)
	h.get(e, "/audit/integrity", r.integrity, r.requireAuditor)
	e.POST("/audit/integrity/verify", r.verifyNow, r.requireAuditor)
	h.get(e, "/audit/integrity/runs/:run", r.verifyRun, r.requireAuditor)
	h.get(e, "/audit/activity", r.activity, r.requireAuditor)
	h.get(e, "/audit/keys/:key", r.keyHistory, r.requireAuditor)
	h.get(e, "/audit/:event", r.detail, r.requireAuditor)
}
