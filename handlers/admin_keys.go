package handlers

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/keyport/keyport/internal/connection"
	"github.com/keyport/keyport/internal/keys"
	"github.com/keyport/keyport/internal/kp"
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

// keyRowView is a key as the list and its own page show it; person names
// its owner (ownerNamer).
func keyRowView(k keys.Key, now time.Time, rotations map[string]string, person func(string) web.Person) web.KeyRow {
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
	r := web.KeyRow{ID: k.ID, State: state, Owner: person(k.OwnerUserID).String(), Label: k.Label, CreatedBy: k.CreatedByName,
		Created: fmtTime(k.CreatedAt), Age: age(now, k.CreatedAt), LastUsed: lastUsed, LastVerified: fmtTime(k.LastVerifiedAt),
		VerifyResult: k.LastVerifyResult, Stale: k.StaleReason, Outside: !k.CreatedInKeyport, SecretLast4: k.SecretLast4,
		SecretLost: k.SecretLost}
	if id := rotations[k.ID]; id != "" {
		r.Rotation = "/rotations/" + id
	}
	if k.AsOf != nil {
		r.AsOf = fmtTime(k.AsOf)
	}
	for _, v := range k.Violations {
		b := web.PolicyBadge{Rule: v.Rule, Text: v.Text, Action: "/keys/" + url.PathEscape(k.ID) + "/rotate", Do: "Rotate it now"}
		switch {
		case v.Rule == kp.RuleMaxIdle:
			b.Action, b.Do = "/keys/"+url.PathEscape(k.ID)+"/deactivate", "Deactivate it"
		case r.Rotation != "":
			b.Action, b.Do = r.Rotation, "Resume its rotation"
		}
		r.Violations = append(r.Violations, b)
	}
	return r
}

// ownerNamer names CXone users for a page of the current connection's
// tenant, with what Keyport knows (see web.Person). The confirmation pages
// use it too: h.ownerNamer(ctx, a, k.OwnerUserID)(k.OwnerUserID).String().
func (h *Handlers) ownerNamer(ctx context.Context, a *adminCtx, ids ...string) func(id string) web.Person {
	names := h.Keys.UserNames(ctx, a.cur, ids)
	return func(id string) web.Person { return web.PersonOf(id, names, a.cur.UserID) }
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
		ids := []string{a.cur.UserID}
		for _, p := range pending {
			ids = append(ids, p.OwnerUserID)
		}
		person := h.ownerNamer(ctx, a, ids...)
		v.Pending = pendingRows(pending, person)
		if kp.KindOf(err) == kp.Forbidden {
			// Even the user's own keys are refused: explain the role
			// instead of CXone's text and a form CXone would refuse.
			you := person(a.cur.UserID)
			you.You = false // "you (…)" reads oddly in "the own keys of …"
			v.NoAccess, v.ListError, v.Disconnect, v.You = true, "", "/connections/"+a.cur.ID+"/disconnect", you.String()
		}
		if status == http.StatusOK {
			status = statusFor(err)
		}
		return h.render(c, status, web.KeysPage(h.adminPage(c, a, "Keys"), v))
	}
	return h.renderKeys(c, a, status, listing, formErr, label)
}

// pendingRows shows creates whose outcome is open, naming their owners.
func pendingRows(pending []keys.Pending, person func(string) web.Person) []web.PendingRow {
	var out []web.PendingRow
	for _, p := range pending {
		out = append(out, web.PendingRow{Label: p.Label, Owner: person(p.OwnerUserID).String(), State: p.State,
			Since: fmtTime(&p.CreatedAt), Candidates: p.CandidateIDs})
	}
	return out
}

// renderKeys renders the keys page of a listing, with the create form
// (formErr and label re-render it after a failed submit).
func (h *Handlers) renderKeys(c echo.Context, a *adminCtx, status int, listing *keys.Listing, formErr, label string) error {
	now := time.Now()
	rotations := listing.Rotations
	person := func(id string) web.Person { return web.PersonOf(id, listing.Names, a.cur.UserID) }
	v := web.KeysView{Tenant: a.cur.TenantName, Region: string(a.cur.Region), Filter: c.QueryParam("user"),
		OwnOnly: listing.OwnOnly, CanCreateForOthers: !listing.OwnOnly && len(listing.Owners) > 0, FormToken: keys.NewFormToken(),
		Label: label, Error: formErr, PossiblyIncomplete: listing.PossiblyIncomplete, Notices: listing.Reconciled}
	for _, id := range listing.Owners {
		v.Owners = append(v.Owners, person(id))
	}
	sortPeople(v.Owners)
	for _, k := range listing.Keys {
		v.Rows = append(v.Rows, keyRowView(k, now, rotations, person))
	}
	v.Pending = pendingRows(listing.Pending, person)
	return h.renderStream(c, status, web.KeysPage(h.adminPage(c, a, "Keys"), v))
}

// sortPeople orders a picker: you first, then by name, then the users
// Keyport cannot name, by id.
func sortPeople(ps []web.Person) {
	rank := func(p web.Person) int {
		switch {
		case p.You:
			return 0
		case p.Name != "":
			return 1
		}
		return 2
	}
	slices.SortStableFunc(ps, func(x, y web.Person) int {
		return cmp.Or(cmp.Compare(rank(x), rank(y)), cmp.Compare(strings.ToLower(x.Name), strings.ToLower(y.Name)), cmp.Compare(x.ID, y.ID))
	})
}

func (h *Handlers) keysList(c echo.Context, a *adminCtx) error {
	return h.keysPage(c, a, http.StatusOK, "", "")
}
