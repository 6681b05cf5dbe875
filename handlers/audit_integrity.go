package handlers

import (
	"encoding/hex"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/keyport/keyport/internal/audit"
	"github.com/keyport/keyport/internal/kp"
	"github.com/keyport/keyport/web"
)

// integrity shows the latest signed checkpoint and the last verify run,
// with a "verify now" button.
func (r *auditUI) integrity(c echo.Context) error {
	rv, err := current(c)
	if err != nil {
		return err
	}
	in, err := r.trail.Integrity(c.Request().Context(), rv.Reviewer)
	if err != nil {
		return err
	}
	v := web.AuditIntegrityView{Head: strconv.FormatInt(in.HeadID, 10)}
	if cp := in.Checkpoint; cp != nil {
		v.HasCheckpoint = true
		v.CheckpointID = strconv.FormatInt(cp.ID, 10)
		v.CheckpointAt = listTime(cp.CreatedAt)
		v.CheckpointLast = strconv.FormatInt(cp.LastEventID, 10)
		v.CheckpointN = strconv.FormatInt(cp.EventCount, 10)
		v.CheckpointHash = hex.EncodeToString(cp.LastHash)
	}
	if in.Run != nil {
		run := runView(in.Run)
		v.Run = &run
	}
	if wc := in.Witness; wc != nil {
		v.Witness = &web.AuditWitnessView{Status: wc.Status, Agrees: wc.Status == audit.WitnessAgrees,
			CheckedAt: listTime(wc.CheckedAt), CheckedBy: wc.CheckedBy, Source: wc.Source, Result: audit.WitnessResult(wc),
			Events: strconv.FormatInt(wc.WitnessEvents, 10), Head: strconv.FormatInt(wc.DBHead, 10), Behind: strconv.FormatInt(wc.Behind, 10)}
	}
	v.Sinks, v.SinksError = r.sinkViews(c)
	v.Deliveries, v.DeliveriesError = r.deliveryViews(c)
	return r.h.render(c, http.StatusOK, web.AuditIntegrity(r.reviewerPage(c, rv, "Integrity"), v))
}

// sinkViews shows every sink with a cursor: the panel is the same on every
// instance, whichever of them delivers.
func (r *auditUI) sinkViews(c echo.Context) ([]web.AuditSinkView, string) {
	if r.h.SinkHealth == nil {
		return nil, ""
	}
	hs, err := r.h.SinkHealth(c.Request().Context())
	if err != nil {
		return nil, "Keyport cannot read the sinks' state right now."
	}
	var out []web.AuditSinkView
	for _, h := range hs {
		v := web.AuditSinkView{Name: h.Name, Target: h.Target, Cursor: strconv.FormatInt(h.LastID, 10),
			LagEvents: strconv.FormatInt(h.LagEvents, 10), LagAge: (time.Duration(h.LagSeconds) * time.Second).String(),
			DeliveredAt: "never", Failing: h.Failures > 0, Failures: strconv.FormatInt(h.Failures, 10), LastError: h.LastError}
		if h.DeliveredAt != nil {
			v.DeliveredAt = listTime(*h.DeliveredAt)
		}
		if h.LastErrorAt != nil {
			v.LastErrorAt = listTime(*h.LastErrorAt)
		}
		out = append(out, v)
	}
	return out, ""
}

// deliveryViews is the notifications' delivery log, newest first.
func (r *auditUI) deliveryViews(c echo.Context) ([]web.DeliveryView, string) {
	if r.h.NotifyLog == nil {
		return nil, ""
	}
	ds, err := r.h.NotifyLog(c.Request().Context())
	if err != nil {
		return nil, "Keyport cannot read the notifications' log right now."
	}
	out := make([]web.DeliveryView, len(ds))
	for i, d := range ds {
		out[i] = web.DeliveryView{At: listTime(d.At), Target: d.Target, Event: d.Event, ID: d.ID,
			AuditEvent: strconv.FormatInt(d.AuditEventID, 10)}
	}
	return out, ""
}

// verifyNow starts a background verification (or finds the running one)
// and goes back to the panel, which polls its progress.
func (r *auditUI) verifyNow(c echo.Context) error {
	rv, err := current(c)
	if err != nil {
		return err
	}
	if _, err := r.trail.StartVerify(c.Request().Context(), rv.Reviewer); err != nil {
		return err
	}
	// The fragment names the run's progress: the page puts focus there
	// (static/app.js), so the person starts at the answer to their press.
	return r.h.redirect(c, "/audit/integrity#verify-progress")
}

// verifyRun is the progress fragment htmx polls every second.
func (r *auditUI) verifyRun(c echo.Context) error {
	if _, err := current(c); err != nil {
		return err
	}
	id, err := strconv.ParseInt(c.Param("run"), 10, 64)
	if err != nil {
		return kp.Errorf(kp.NotFound, "There is no verify run %q.", c.Param("run"))
	}
	run, err := r.trail.VerifyRun(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return r.h.render(c, http.StatusOK, web.AuditVerifyProgress(runView(run)))
}

func runView(run *kp.VerifyRun) web.AuditVerifyView {
	v := web.AuditVerifyView{ID: run.ID, Running: run.Status == "running", Status: run.Status,
		StartedAt: listTime(run.StartedAt), StartedBy: run.StartedBy, Events: strconv.FormatInt(run.Events, 10),
		Percent: audit.RunPercent(run), Result: run.Result}
	if run.FinishedAt != nil {
		v.Finished = listTime(*run.FinishedAt)
	}
	return v
}
