package handlers

import "github.com/labstack/echo/v4"

// auditRoutes registers the security reviewers' routes (/auditor/…, /audit…).
func (h *Handlers) auditRoutes(e *echo.Echo) {}
