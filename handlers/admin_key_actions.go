package handlers

import (
	"net/http"
	"time"

	"github.com/keyport/keyport/internal/kp"

	"github.com/labstack/echo/v4"

	"github.com/keyport/keyport/internal/keys"
	"github.com/keyport/keyport/internal/secret"
	"github.com/keyport/keyport/internal/session"
	"github.com/keyport/keyport/web"
)

// confirmations describe each destructive action's confirmation step.
var confirmations = map[string]struct {
	action                          kp.Action
	title, question, warning, label string
	danger                          bool
}{
	"deactivate": {kp.KeyDeactivate, "Deactivate key", "Deactivate this key? Anything using it will stop getting new tokens.",
		"Tokens already issued with it may keep working for up to an hour: CXone does not document that deactivation revokes them.", "Deactivate", true},
	"activate": {kp.KeyActivate, "Reactivate key", "Reactivate this key? It will work again for anyone who has its secret.", "", "Reactivate", false},
	"delete": {kp.KeyDelete, "Delete key", "Delete this key for good? This cannot be undone.",
		"Keyport deletes only inactive keys.", "Delete", true},
}

// keyConfirm shows the confirmation step of deactivate/activate/delete.
func (h *Handlers) keyConfirm(op string) func(c echo.Context, a *adminCtx) error {
	conf := confirmations[op]
	return func(c echo.Context, a *adminCtx) error {
		k, err := h.Keys.Get(c.Request().Context(), a.caller(), conf.action, c.Param("key"))
		if err != nil {
			return err
		}
		v := web.ConfirmView{Title: conf.title, Question: conf.question, Warning: conf.warning, Button: conf.label,
			Danger: conf.danger, KeyID: k.ID, Action: "/keys/" + k.ID + "/" + op, Cancel: "/keys"}
		if op == "delete" && k.Active {
			v.Warning = "This key is still active. Keyport will refuse to delete it: deactivate it first."
		}
		return h.render(c, http.StatusOK, web.ConfirmPage(h.adminPage(c, a, conf.title), v))
	}
}

func (h *Handlers) keySetActive(active bool) func(c echo.Context, a *adminCtx) error {
	return func(c echo.Context, a *adminCtx) error {
		id := c.Param("key")
		if err := h.Keys.SetActive(c.Request().Context(), a.caller(), id, active); err != nil {
			return err
		}
		msg := "Key " + id + " reactivated."
		if !active {
			msg = "Key " + id + " deactivated. Tokens already issued with it may keep working for up to an hour."
		}
		session.AddFlash(a.sess, "success", msg)
		return h.redirect(c, "/keys")
	}
}

func (h *Handlers) keyDelete(c echo.Context, a *adminCtx) error {
	id := c.Param("key")
	gone, err := h.Keys.Delete(c.Request().Context(), a.caller(), id)
	if err != nil {
		return err
	}
	msg := "Key " + id + " deleted."
	if gone {
		msg = "Key " + id + " was already gone from CXone."
	}
	session.AddFlash(a.sess, "success", msg)
	return h.redirect(c, "/keys")
}

func (h *Handlers) keyVerifyForm(c echo.Context, a *adminCtx) error {
	k, err := h.Keys.Get(c.Request().Context(), a.caller(), kp.KeyVerify, c.Param("key"))
	if err != nil {
		return err
	}
	return h.render(c, http.StatusOK, web.VerifyPage(h.adminPage(c, a, "Verify key"), web.VerifyView{KeyID: k.ID, Action: "/keys/" + k.ID + "/verify"}))
}

func (h *Handlers) keyVerify(c echo.Context, a *adminCtx) error {
	id := c.Param("key")
	var res *keys.VerifyResult
	err := inputError(c)
	if err == nil {
		res, err = h.Keys.Verify(c.Request().Context(), a.caller(), id, secret.New(c.FormValue("access_key_secret")))
	}
	if err != nil {
		msg, ok := formError(err)
		if !ok {
			return err
		}
		return h.render(c, statusFor(err), web.VerifyPage(h.adminPage(c, a, "Verify key"), web.VerifyView{KeyID: id, Action: "/keys/" + id + "/verify", Error: msg}))
	}
	flashVerify(a, res)
	return h.redirect(c, "/keys")
}

func (h *Handlers) keyLookupForm(c echo.Context, a *adminCtx) error {
	return h.render(c, http.StatusOK, web.LookupPage(h.adminPage(c, a, "Look up a secret"), web.LookupView{}))
}

// keyLookup answers which key a pasted secret belongs to. It renders the
// answer directly (no redirect: nothing changed, and the result must not be
// carried in a URL).
func (h *Handlers) keyLookup(c echo.Context, a *adminCtx) error {
	var res *keys.LookupResult
	err := inputError(c)
	if err == nil {
		res, err = h.Keys.Lookup(c.Request().Context(), a.caller(), secret.New(c.FormValue("access_key_secret")))
	}
	v := web.LookupView{}
	if err != nil {
		msg, ok := formError(err)
		if !ok {
			return err
		}
		v.Error = msg
		return h.render(c, statusFor(err), web.LookupPage(h.adminPage(c, a, "Look up a secret"), v))
	}
	v.Searched, v.Found = true, res.Found
	if res.Found {
		v.Row = keyRowView(*res.Key, time.Now(), nil, h.ownerNamer(c.Request().Context(), a, res.Key.OwnerUserID))
	}
	return h.render(c, http.StatusOK, web.LookupPage(h.adminPage(c, a, "Look up a secret"), v))
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
