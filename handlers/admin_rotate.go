package handlers

import (
	"net/http"
	"net/url"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/keyport/keyport/internal/keys"
	"github.com/keyport/keyport/internal/kp"
	"github.com/keyport/keyport/internal/secret"
	"github.com/keyport/keyport/internal/session"
	"github.com/keyport/keyport/web"
)

func itoa64(n int64) string { return strconv.FormatInt(n, 10) }

// rotateConfirm is the rotation wizard's confirmation step.
func (h *Handlers) rotateConfirm(c echo.Context, a *adminCtx) error {
	k, err := h.Keys.Get(c.Request().Context(), a.caller(), kp.KeyRotate, c.Param("key"))
	if err != nil {
		return err
	}
	v := web.ConfirmView{Title: "Rotate key", Question: "Create a replacement for this key? The wizard then walks you through deploying and verifying it, and deactivating and deleting the old one.",
		Button: "Create the replacement", KeyID: k.ID, Action: "/keys/" + k.ID + "/rotate", Cancel: "/keys"}
	return h.render(c, http.StatusOK, web.ConfirmPage(h.adminPage(c, a, "Rotate key"), v))
}

// rotateStart creates the replacement and shows its secret once.
func (h *Handlers) rotateStart(c echo.Context, a *adminCtx) error {
	rot, created, err := h.Keys.StartRotation(c.Request().Context(), a.caller(), c.Param("key"))
	if err != nil {
		return err
	}
	if created == nil { // a rotation was already under way
		session.AddFlash(a.sess, "success", "A rotation of this key is already under way; continue it here.")
		return h.redirect(c, "/rotations/"+rot.ID)
	}
	return h.showCreated(c, a, created, "/rotations/"+url.PathEscape(rot.ID))
}

func (h *Handlers) rotationPage(c echo.Context, a *adminCtx) error {
	r, err := h.Keys.Rotation(c.Request().Context(), a.cur, c.Param("rotation"))
	if err != nil {
		return err
	}
	v := web.RotationView{ID: r.ID, OldKeyID: r.OldKeyID, NewKeyID: r.NewKeyID, Step: r.Step}
	return h.render(c, http.StatusOK, web.RotationPage(h.adminPage(c, a, "Rotate key"), v))
}

// stepDone is the flash message after each of the wizard's steps.
var stepDone = map[string]string{
	keys.StepDeployed:       "Noted: the new key is deployed.",
	keys.StepVerified:       "The new key works.",
	keys.StepOldDeactivated: "The old key is deactivated.",
	keys.StepDone:           "The old key is deleted: rotation complete.",
}

// rotationStep performs the wizard's next step.
func (h *Handlers) rotationStep(step string) func(c echo.Context, a *adminCtx) error {
	return func(c echo.Context, a *adminCtx) error {
		rid := c.Param("rotation")
		r, _, err := h.Keys.AdvanceRotation(c.Request().Context(), a.caller(), rid, step, secret.New(c.FormValue("access_key_secret")))
		if err != nil {
			msg, ok := formError(err)
			if !ok || r == nil {
				return err
			}
			if kp.KindOf(err) == kp.Conflict || kp.KindOf(err) == kp.Invalid {
				v := web.RotationView{ID: r.ID, OldKeyID: r.OldKeyID, NewKeyID: r.NewKeyID, Step: r.Step, Error: msg}
				return h.render(c, statusFor(err), web.RotationPage(h.adminPage(c, a, "Rotate key"), v))
			}
			return err
		}
		session.AddFlash(a.sess, "success", stepDone[step])
		return h.redirect(c, "/rotations/"+r.ID)
	}
}
