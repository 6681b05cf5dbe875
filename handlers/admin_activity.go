package handlers

import (
	"net/http"
	"net/url"

	"github.com/labstack/echo/v4"

	"github.com/keyport/keyport/internal/audit"
	"github.com/keyport/keyport/web"
)

// activityPageSize is how many actions one page of the key history shows.
const activityPageSize = 50

// keyActivity is the admins' key history (/keys/activity): this tenant and
// area's actions, one row per action, newest first, 50 a page, reads
// (key lists, lookups) hidden unless reads=1.
func (h *Handlers) keyActivity(c echo.Context, a *adminCtx) error {
	lq, err := parseListQuery(c.QueryParams())
	if err != nil {
		return err
	}
	p, err := h.Trail.TenantActions(c.Request().Context(), a.cur.Region, a.cur.TenantID,
		audit.ActionQuery{Reads: lq.reads, Before: lq.before, After: lq.after, Limit: activityPageSize})
	if err != nil {
		return err
	}
	tenant := a.cur.TenantName
	if tenant == "" {
		tenant = a.cur.TenantID
	}
	v := web.ActivityView{Tenant: tenant, Region: string(a.cur.Region), Reads: lq.reads}
	for i := range p.Actions {
		v.Rows = append(v.Rows, actionView(&p.Actions[i], false))
	}
	page := func(extra ...string) string {
		q := url.Values{}
		if lq.reads {
			q.Set("reads", "1")
		}
		for i := 0; i+1 < len(extra); i += 2 {
			q.Set(extra[i], extra[i+1])
		}
		if s := q.Encode(); s != "" {
			return "/keys/activity?" + s
		}
		return "/keys/activity"
	}
	if p.Older > 0 {
		v.OlderURL = page("before", itoa64(p.Older))
	}
	if p.Newer > 0 {
		v.NewerURL, v.NewestURL = page("after", itoa64(p.Newer)), page()
	}
	v.ReadsURL = "/keys/activity?reads=1"
	if lq.reads {
		v.ReadsURL = "/keys/activity"
	}
	return h.render(c, http.StatusOK, web.ActivityPage(h.adminPage(c, a, web.KeyHistoryTitle(tenant)), v))
}
