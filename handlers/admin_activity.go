package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/keyport/keyport/internal/kp"
	"github.com/keyport/keyport/web"
)

// keyActivity is the admin Activity page: this tenant and area's key actions, newest first.
func (h *Handlers) keyActivity(c echo.Context, a *adminCtx) error {
	events, err := h.Keys.Activity(c.Request().Context(), a.cur, 200)
	if err != nil {
		return err
	}
	v := web.ActivityView{Tenant: a.cur.TenantName, Region: string(a.cur.Region)}
	for _, e := range events {
		v.Rows = append(v.Rows, activityRow(e))
	}
	return h.render(c, http.StatusOK, web.ActivityPage(h.adminPage(c, a, "Activity"), v))
}

func activityRow(e kp.AuditEvent) web.ActivityRow {
	r := web.ActivityRow{ID: itoa64(e.ID), Time: e.OccurredAt.UTC().Format("2006-01-02 15:04:05"), Actor: e.ActorName,
		Action: string(e.Action), Key: e.TargetKeyID, Outcome: string(e.Outcome), Message: e.ErrorMessage}
	if r.Actor == "" {
		r.Actor = e.ActorUserID
	}
	if e.UpstreamStatus != nil {
		r.Status = "HTTP " + itoa64(int64(*e.UpstreamStatus))
	}
	return r
}
