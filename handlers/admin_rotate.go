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
		Button: "Create the replacement", Key: h.keyFacts(c, a, *k), Action: "/keys/" + url.PathEscape(k.ID) + "/rotate", Cancel: "/keys"}
	return h.render(c, http.StatusOK, web.ConfirmPage(h.adminPage(c, a, "Rotate key"), v))
}

// rotateStart creates the replacement and shows its secret once. A second
// start (a reload of that page) goes to the open rotation and says the
// secret cannot be shown again, the same words as a reloaded create.
func (h *Handlers) rotateStart(c echo.Context, a *adminCtx) error {
	rot, created, err := h.Keys.StartRotation(c.Request().Context(), a.caller(), c.Param("key"))
	if err != nil {
		return err
	}
	if created == nil { // a rotation was already under way
		msg := "A rotation of this key is already under way; continue it here."
		if rot.Step == keys.StepCreated {
			msg += " The replacement is key " + rot.NewKeyID + ". " + keys.SecretShownOnce
		}
		session.AddFlash(a.sess, "success", msg)
		return h.redirect(c, "/rotations/"+rot.ID)
	}
	return h.showCreated(c, a, created, rot.ID)
}

func (h *Handlers) rotationPage(c echo.Context, a *adminCtx) error {
	r, err := h.Keys.Rotation(c.Request().Context(), a.cur, c.Param("rotation"))
	if err != nil {
		return err
	}
	return h.renderRotation(c, a, http.StatusOK, r, "")
}

// renderRotation shows the wizard at r's step, with errMsg from a step
// that failed.
func (h *Handlers) renderRotation(c echo.Context, a *adminCtx, status int, r *kp.Rotation, errMsg string) error {
	oldLabel, newLabel := h.Keys.RotationLabels(c.Request().Context(), a.cur, r)
	v := web.RotationView{ID: r.ID, OldKeyID: r.OldKeyID, NewKeyID: r.NewKeyID, OldLabel: oldLabel, NewLabel: newLabel,
		Step: r.Step, Error: errMsg, ConfirmLast4: keys.DeleteConfirmation(r.OldKeyID)}
	return h.render(c, status, web.RotationPage(h.adminPage(c, a, "Rotate key"), v))
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
		in := keys.StepInput{Secret: secret.New(c.FormValue("access_key_secret")), Confirm: c.FormValue("confirm")}
		r, _, err := h.Keys.AdvanceRotation(c.Request().Context(), a.caller(), rid, step, in)
		if err != nil {
			msg, ok := formError(err)
			if !ok || r == nil {
				return err
			}
			if kp.KindOf(err) == kp.Conflict || kp.KindOf(err) == kp.Invalid {
				return h.renderRotation(c, a, statusFor(err), r, msg)
			}
			return err
		}
		session.AddFlash(a.sess, "success", stepDone[step])
		return h.redirect(c, "/rotations/"+r.ID)
	}
}
