package handlers

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/keyport/keyport/internal/connection"
	"github.com/keyport/keyport/internal/keys"
	"github.com/keyport/keyport/web"
)

// caller is the admin acting through the current connection, for the
// services.
func (a *adminCtx) caller() connection.Caller {
	return connection.Caller{Req: a.req, Conn: a.cur}
}

const timeFormat = "2006-01-02 15:04 UTC"

func fmtTime(t *time.Time) string {
	if t == nil {
		return "—"
	}
	return t.UTC().Format(timeFormat)
}

func age(now time.Time, t *time.Time) string {
	if t == nil {
		return ""
	}
	d := now.Sub(*t)
	switch {
	case d < time.Hour:
		return fmt.Sprintf("%d min old", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d h old", int(d.Hours()))
	default:
		return fmt.Sprintf("%d days old", int(d.Hours()/24))
	}
}

func keyRowView(k keys.Key, now time.Time, rotations map[string]string) web.KeyRow {
	state := "inactive"
	switch {
	case k.StateUnknown:
		state = "unknown"
	case k.Active:
		state = "active"
	}
	lastUsed := "never"
	if k.LastUsed != nil {
		lastUsed = fmtTime(k.LastUsed)
	} else if k.LastUsedRaw != "" {
		lastUsed = k.LastUsedRaw
	}
	r := web.KeyRow{ID: k.ID, State: state, Owner: k.OwnerUserID, Label: k.Label, CreatedBy: k.CreatedByName,
		Created: fmtTime(k.CreatedAt), Age: age(now, k.CreatedAt), LastUsed: lastUsed, LastVerified: fmtTime(k.LastVerifiedAt),
		VerifyResult: k.LastVerifyResult, Stale: k.StaleReason, Outside: !k.CreatedInKeyport, SecretLast4: k.SecretLast4,
		SecretLost: k.SecretLost}
	if id := rotations[k.ID]; id != "" {
		r.Rotation = "/rotations/" + id
	}
	return r
}

// keysPage lists the connection's keys. formErr and label re-render the
// create form after a failed submit.
func (h *Handlers) keysPage(c echo.Context, a *adminCtx, status int, formErr, label string) error {
	ctx := c.Request().Context()
	listing, err := h.Keys.List(ctx, a.caller(), c.QueryParam("user"))
	if err != nil {
		msg, ok := formError(err)
		if !ok || errors.Is(err, connection.ErrExpired) {
			return err
		}
		// CXone (or the trail) failed: say so honestly, keep the page, and
		// still show what Keyport knows without CXone (pending creates).
		v := web.KeysView{Tenant: a.cur.TenantName, Region: string(a.cur.Region), FormToken: keys.NewFormToken(),
			Label: label, Error: formErr, ListError: msg}
		pending, _ := h.Keys.Pending(ctx, a.cur)
		for _, p := range pending {
			v.Pending = append(v.Pending, web.PendingRow{Label: p.Label, Owner: p.OwnerUserID, State: p.State, Since: fmtTime(&p.CreatedAt)})
		}
		if status == http.StatusOK {
			status = statusFor(err)
		}
		return h.render(c, status, web.KeysPage(h.adminPage(c, a, "Keys"), v))
	}
	return h.renderKeys(c, a, status, listing, formErr, label)
}

// renderKeys renders the keys page of a listing, with the create form
// (formErr and label re-render it after a failed submit).
func (h *Handlers) renderKeys(c echo.Context, a *adminCtx, status int, listing *keys.Listing, formErr, label string) error {
	rotations, _ := h.Keys.OpenRotations(c.Request().Context(), a.cur)
	now := time.Now()
	v := web.KeysView{Tenant: a.cur.TenantName, Region: string(a.cur.Region), Owners: listing.Owners, Filter: c.QueryParam("user"),
		OwnOnly: listing.OwnOnly, CanCreateForOthers: !listing.OwnOnly && len(listing.Owners) > 0, FormToken: keys.NewFormToken(),
		Label: label, Error: formErr, PossiblyIncomplete: listing.PossiblyIncomplete, Notices: listing.Reconciled}
	for _, k := range listing.Keys {
		row := keyRowView(k, now, rotations)
		if k.OwnerUserID == a.cur.UserID {
			row.Owner = "you (" + a.cur.UserName + ")"
		}
		v.Rows = append(v.Rows, row)
	}
	for _, p := range listing.Pending {
		v.Pending = append(v.Pending, web.PendingRow{Label: p.Label, Owner: p.OwnerUserID, State: p.State, Since: fmtTime(&p.CreatedAt), Candidates: p.CandidateIDs})
	}
	return h.render(c, status, web.KeysPage(h.adminPage(c, a, "Keys"), v))
}

func (h *Handlers) keysList(c echo.Context, a *adminCtx) error {
	return h.keysPage(c, a, http.StatusOK, "", "")
}
