package handlers

import (
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/keyport/keyport/internal/keys"
	"github.com/keyport/keyport/internal/kp"
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
	return func(c echo.Context, a *adminCtx) error {
		return h.renderConfirm(c, a, op, http.StatusOK, "")
	}
}

// renderConfirm shows op's confirmation for the key in the path, with the
// facts a person checks before acting (read from CXone and Keyport's
// notes), and errMsg when a typed confirmation did not match.
func (h *Handlers) renderConfirm(c echo.Context, a *adminCtx, op string, status int, errMsg string) error {
	conf := confirmations[op]
	k, err := h.Keys.Get(c.Request().Context(), a.caller(), conf.action, c.Param("key"))
	if err != nil {
		return err
	}
	v := web.ConfirmView{Title: conf.title, Question: conf.question, Warning: conf.warning, Button: conf.label,
		Danger: conf.danger, Key: h.keyFacts(c, a, *k), Action: "/keys/" + url.PathEscape(k.ID) + "/" + op, Cancel: "/keys", Error: errMsg}
	if op == "delete" {
		v.TypeLast4 = keys.DeleteConfirmation(k.ID)
		if k.Active {
			v.Warning = "This key is still active. Keyport will refuse to delete it: deactivate it first."
		}
	}
	return h.render(c, status, web.ConfirmPage(h.adminPage(c, a, conf.title), v))
}

// keyFacts is what a confirmation shows about k, its owner named as the
// keys list names them.
func (h *Handlers) keyFacts(c echo.Context, a *adminCtx, k keys.Key) web.KeyFacts {
	person := h.ownerNamer(c.Request().Context(), a, k.OwnerUserID)
	row := keyRowView(k, time.Now(), nil, person)
	return web.KeyFacts{ID: k.ID, Label: k.Label, Owner: row.Owner, State: row.State,
		LastUsed: row.LastUsed, Created: row.Created, CreatedBy: k.CreatedByName, Outside: !k.CreatedInKeyport}
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

// keyDelete deletes a key once its confirmation was typed; a mismatch shows
// the confirmation again (422) and nothing is deleted.
func (h *Handlers) keyDelete(c echo.Context, a *adminCtx) error {
	id := c.Param("key")
	gone, err := h.Keys.Delete(c.Request().Context(), a.caller(), id, c.FormValue("confirm"))
	if errors.Is(err, keys.ErrNotConfirmed) {
		return h.renderConfirm(c, a, "delete", http.StatusUnprocessableEntity, kp.MessageOf(err))
	}
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
	return h.render(c, http.StatusOK, web.VerifyPage(h.adminPage(c, a, "Verify key"),
		web.VerifyView{KeyID: k.ID, Label: k.Label, Action: "/keys/" + url.PathEscape(k.ID) + "/verify"}))
}

// keyVerify verifies a pasted secret. A secret Keyport can tell is wrong
// (or a refused value) keeps the form with its message; CXone's answer goes
// to the keys page as a flash. From the creation page it answers there.
func (h *Handlers) keyVerify(c echo.Context, a *adminCtx) error {
	id, sec := c.Param("key"), secret.New(c.FormValue("access_key_secret"))
	if c.FormValue("created") != "" {
		return h.verifyOnCreationPage(c, a, id, sec)
	}
	var res *keys.VerifyResult
	err := inputError(c)
	if err == nil {
		res, err = h.Keys.Verify(c.Request().Context(), a.caller(), id, sec)
	}
	if err != nil {
		msg, ok := formError(err)
		if !ok {
			return err
		}
		return h.render(c, statusFor(err), web.VerifyPage(h.adminPage(c, a, "Verify key"),
			web.VerifyView{KeyID: id, Action: "/keys/" + url.PathEscape(id) + "/verify", Error: msg}))
	}
	flashVerify(a, res)
	return h.redirect(c, "/keys")
}

// verifyOnCreationPage is the creation page's "Verify it now": the answer is
// that page again, secret still shown, because the person has not yet said
// it is saved. Only the secret Keyport made for this key is shown back
// (CheckSecret), so the page cannot be made to reflect any other value.
func (h *Handlers) verifyOnCreationPage(c echo.Context, a *adminCtx, id string, sec secret.Secret) error {
	ctx := c.Request().Context()
	if err := inputError(c); err != nil {
		return err
	}
	if err := h.Keys.CheckSecret(ctx, a.caller(), id, sec); err != nil {
		return err
	}
	v := createdView(id, c.FormValue("label"), sec, c.FormValue("rotation"))
	status := http.StatusOK
	res, err := h.Keys.Verify(ctx, a.caller(), id, sec)
	switch msg, ok := formError(err); {
	case err != nil && !ok:
		return err
	case err != nil:
		v.Verified, status = &web.VerifyOutcome{Message: msg}, statusFor(err)
	default:
		v.Verified = &web.VerifyOutcome{Works: res.Works, Message: res.Message, Warning: res.Warning}
		if !res.Works {
			status = http.StatusUnprocessableEntity
		}
	}
	return h.render(c, status, web.CreatedPage(h.adminPage(c, a, "New key"), v))
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
