package handlers

import (
	"cmp"
	"context"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/keyport/keyport/internal/kp"
)

// healthz says the process is up. It touches nothing else, so an orchestrator
// does not restart the portal because the database blinked.
func (h *Handlers) healthz(c echo.Context) error {
	return c.String(http.StatusOK, "ok\n")
}

// readyz says the portal can serve (Deps.Ready: the database answers and its
// schema is the one this binary expects). The body is the check's *kp.Error
// message ("database unreachable"); the cause goes to the log only.
func (h *Handlers) readyz(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), 2*time.Second)
	defer cancel()
	if err := h.Ready(ctx); err != nil {
		h.Log.WarnContext(ctx, "not ready", "err", err)
		return c.String(http.StatusServiceUnavailable, cmp.Or(kp.MessageOf(err), "not ready")+"\n")
	}
	return c.String(http.StatusOK, "ready\n")
}
