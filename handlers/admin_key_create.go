package handlers

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/labstack/echo/v4"

	"github.com/keyport/keyport/internal/connection"
	"github.com/keyport/keyport/internal/keys"
	"github.com/keyport/keyport/internal/secret"
	"github.com/keyport/keyport/internal/session"
	"github.com/keyport/keyport/web"
)

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
func (h *Handlers) showCreated(c echo.Context, a *adminCtx, res *keys.CreateResult, rotationID string) error {
	v := createdView(res.KeyID, res.Label, res.Secret, rotationID)
	return h.render(c, http.StatusOK, web.CreatedPage(h.adminPage(c, a, "New key"), v))
}

// createdView is the creation page of key id, part of rotation rotationID
// when that is set. The way out ("Done") goes to the keys page, or on to
// the rotation wizard.
func createdView(id, label string, sec secret.Secret, rotationID string) web.CreatedView {
	base := "/keys/" + url.PathEscape(id)
	v := web.CreatedView{KeyID: id, Label: label, Secret: sec.Reveal(), EnvAction: base + "/env", VerifyAction: base + "/verify", Done: "/keys"}
	if rotationID != "" {
		v.RotationID, v.Rotation = rotationID, "/rotations/"+url.PathEscape(rotationID)
		v.Done = v.Rotation
	}
	return v
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
