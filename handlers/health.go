package handlers

import (
	"context"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/keyport/keyport/db"
)

// healthz says the process is up. It touches nothing else, so an orchestrator
// does not restart the portal because the database blinked.
func (h *Handlers) healthz(c echo.Context) error {
	return c.String(http.StatusOK, "ok\n")
}

// readyz says the portal can serve: the database answers and its schema is
// the one this binary expects.
func (h *Handlers) readyz(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), 2*time.Second)
	defer cancel()
	st, err := db.Status(ctx, h.Pool)
	if err != nil {
		h.Log.WarnContext(ctx, "readiness: database unreachable", "err", err)
		return c.String(http.StatusServiceUnavailable, "database unreachable\n")
	}
	if !st.UpToDate() {
		return c.String(http.StatusServiceUnavailable, "database schema out of date\n")
	}
	return c.String(http.StatusOK, "ready\n")
}
