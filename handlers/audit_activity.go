package handlers

import (
	"net/http"
	"time"

	"github.com/keyport/keyport/internal/kp"

	"github.com/labstack/echo/v4"

	"github.com/keyport/keyport/web"
)

// activityDays is how far back the activity chart goes.
const activityDays = 30

// activitySeries are the chart's series, bottom to top: an action's
// results. Intents are left out, so each action counts once, by its result
// (one still waiting for its outcome is not counted yet).
var activitySeries = []kp.Outcome{kp.OutcomeSuccess, kp.OutcomeFailure, kp.OutcomeDenied, kp.OutcomeUnknown}

// activity ("Activity by day") shows actions per day for the last 30 days
// by result, and the failures, denials and unknown outcomes, each linking
// to those actions. The rollup counts every action, reads included, so the
// links show reads too (reads=1) and the list holds what the number says.
func (r *auditUI) activity(c echo.Context) error {
	rv, err := current(c)
	if err != nil {
		return err
	}
	today := r.trail.Now().UTC().Truncate(24 * time.Hour)
	first := today.AddDate(0, 0, -(activityDays - 1))
	counts, err := r.trail.Activity(c.Request().Context(), rv.Reviewer, first)
	if err != nil {
		return err
	}
	v := web.AuditActivityView{Range: first.Format(time.DateOnly) + " to " + today.Format(time.DateOnly)}
	index := map[kp.Outcome]int{}
	for i, s := range activitySeries {
		v.Series = append(v.Series, string(s))
		index[s] = i
	}
	byDay := map[string]int{}
	for d := first; !d.After(today); d = d.AddDate(0, 0, 1) {
		day := d.Format(time.DateOnly)
		byDay[day] = len(v.Days)
		v.Days = append(v.Days, web.AuditActivityDay{Date: day, Counts: make([]int64, len(activitySeries)),
			URL: "/audit?from=" + day + "&reads=1&to=" + day})
	}
	for _, cnt := range counts {
		i, ok := byDay[cnt.Day.Format(time.DateOnly)]
		j, known := index[kp.Outcome(cnt.Outcome)]
		if !ok || !known {
			continue
		}
		d := &v.Days[i]
		d.Counts[j] += cnt.Events
		d.Total += cnt.Events
		v.Total += cnt.Events
		switch kp.Outcome(cnt.Outcome) {
		case kp.OutcomeFailure:
			v.Failures += cnt.Events
		case kp.OutcomeDenied:
			v.Denials += cnt.Events
		case kp.OutcomeUnknown:
			v.Unknown += cnt.Events
		}
	}
	for _, d := range v.Days {
		v.Max = max(v.Max, d.Total)
	}
	from := first.Format(time.DateOnly)
	v.FailuresURL = "/audit?from=" + from + "&outcome=failure&reads=1"
	v.DenialsURL = "/audit?from=" + from + "&outcome=denied&reads=1"
	v.UnknownURL = "/audit?from=" + from + "&outcome=unknown&reads=1"
	return r.h.render(c, http.StatusOK, web.AuditActivity(r.reviewerPage(c, rv, "Activity by day"), v))
}
