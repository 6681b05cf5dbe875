package handlers

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/keyport/keyport/internal/connection"
	"github.com/keyport/keyport/internal/keys"
	"github.com/keyport/keyport/internal/secret"
	"github.com/keyport/keyport/internal/session"
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

// keysCreate creates one key per form (the form's intent id makes a double
// submit harmless) and shows its secret once.
func (h *Handlers) keysCreate(c echo.Context, a *adminCtx) error {
	ctx := c.Request().Context()
	f := keys.CreateForm{Token: c.FormValue("intent"), Label: c.FormValue("label"), UserID: c.FormValue("user_id")}
	var res *keys.CreateResult
	err := inputError(c)
	if err == nil {
		res, err = h.Keys.Create(ctx, a.caller(), f)
	}
	if err != nil {
		msg, ok := formError(err)
		if !ok || errors.Is(err, connection.ErrExpired) {
			return err
		}
		if res != nil && res.Listing != nil {
			// Create listed the keys already: show the form on that list.
			return h.renderKeys(c, a, statusFor(err), res.Listing, msg, f.Label)
		}
		if lerr := h.keysPage(c, a, statusFor(err), msg, f.Label); lerr != nil {
			return err // the create's error is the one to show
		}
		return nil
	}
	if res.State == "created" {
		return h.showCreated(c, a, res, "")
	}
	// Not created, secret lost, ambiguous or pending: the message says which.
	session.AddFlash(a.sess, "error", res.Message)
	return h.redirect(c, "/keys")
}

// showCreated answers a create with the new key's secret, in the answer
// itself: Keyport holds the secret nowhere between requests, so any
// instance serves what follows (the .env download and "Verify it now" send
// the secret back from the page). A reload re-posts the form, whose intent
// id has been used: it says so, every time, and shows no secret.
func (h *Handlers) showCreated(c echo.Context, a *adminCtx, res *keys.CreateResult, rotation string) error {
	v := web.CreatedView{KeyID: res.KeyID, Secret: res.Secret.Reveal(), Rotation: rotation,
		EnvAction: "/keys/" + url.PathEscape(res.KeyID) + "/env", VerifyAction: "/keys/" + url.PathEscape(res.KeyID) + "/verify"}
	return h.render(c, http.StatusOK, web.CreatedPage(h.adminPage(c, a, "New key"), v))
}

// keyEnv downloads a key as a .env file, from the secret the creation page
// sends back (it is checked against the key's fingerprint first).
func (h *Handlers) keyEnv(c echo.Context, a *adminCtx) error {
	keyID, sec := c.Param("key"), secret.New(c.FormValue("access_key_secret"))
	if err := h.Keys.CheckSecret(c.Request().Context(), a.caller(), keyID, sec); err != nil {
		return err
	}
	c.Response().Header().Set("Content-Disposition", `attachment; filename="keyport-access-key.env"`)
	body := fmt.Sprintf("# CXone access key created with Keyport in %s (%s)\nCXONE_REGION=%s\nCXONE_ACCESS_KEY_ID=%s\nCXONE_ACCESS_KEY_SECRET=%s\n",
		a.cur.TenantName, a.cur.Region, a.cur.Region, keyID, sec.Reveal())
	if err := h.saveSessions(c); err != nil {
		return err
	}
	return c.Blob(http.StatusOK, "text/plain; charset=utf-8", []byte(body))
}

func flashVerify(a *adminCtx, res *keys.VerifyResult) {
	kind := "success"
	if !res.Works {
		kind = "error"
	}
	session.AddFlash(a.sess, kind, res.Message)
	if res.Warning != "" {
		session.AddFlash(a.sess, "error", res.Warning)
	}
}
