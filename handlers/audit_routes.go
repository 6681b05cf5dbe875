package handlers

import (
	"github.com/labstack/echo/v4"

	"github.com/keyport/keyport/internal/auditor"
)

// auditUI serves the security reviewers' pages. Its service is built once,
// here, from the handlers' dependencies.
type auditUI struct {
	h   *Handlers
	svc *auditor.Service
}

// auditRoutes registers the security reviewers' routes (/auditor/…, /audit…).
// Every /audit route needs a signed-in reviewer (auditor session kind);
// an admin session does not count.
func (h *Handlers) auditRoutes(e *echo.Echo) {
	r := &auditUI{h: h, svc: h.auditorService()}
	e.GET("/auditor/login", r.loginForm)
	e.POST("/auditor/login", r.login)
	e.POST("/auditor/logout", r.logout)

	e.GET("/audit", r.list, r.requireAuditor)
	e.GET("/audit/export.csv", r.exportCSV, r.requireAuditor)
	e.GET("/audit/export.jsonl", r.exportJSONL, r.requireAuditor)
	e.GET("/audit/integrity", r.integrity, r.requireAuditor)
	e.POST("/audit/integrity/verify", r.verifyNow, r.requireAuditor)
	e.GET("/audit/integrity/runs/:id", r.verifyRun, r.requireAuditor)
	e.GET("/audit/activity", r.activity, r.requireAuditor)
	e.GET("/audit/keys/:id", r.keyHistory, r.requireAuditor)
	e.GET("/audit/:id", r.detail, r.requireAuditor)
}
