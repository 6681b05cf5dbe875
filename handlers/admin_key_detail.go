package handlers

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/keyport/keyport/internal/kp"
	"github.com/keyport/keyport/web"
)

// keyDetail is one key's own page: the full id and every field the list
// shortens. It reads the key through the connection like every action
// does, so another tenant's key is "not found" (and a denied event).
func (h *Handlers) keyDetail(c echo.Context, a *adminCtx) error {
	ctx := c.Request().Context()
	k, err := h.Keys.Get(ctx, a.caller(), kp.KeyList, c.Param("key"))
	if err != nil {
		return err
	}
	rotations, _ := h.Keys.OpenRotations(ctx, a.cur)
	row := keyRowView(*k, time.Now(), rotations, h.ownerNamer(ctx, a, k.OwnerUserID))
	v := web.KeyDetailView{Tenant: a.cur.TenantName, Region: string(a.cur.Region), Key: row}
	title := "Key " + web.ShortID(k.ID)
	if k.Label != "" {
		title = k.Label
	}
	return h.render(c, http.StatusOK, web.KeyDetailPage(h.adminPage(c, a, title), v))
}
